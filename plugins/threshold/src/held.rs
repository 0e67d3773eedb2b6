//! The sub-alarm states a service keeps between ticks, in its plugin state.
//!
//! A sub-expression whose window has gaps keeps its previous state (see [`crate::eval`]), so
//! the states must survive the tick, a restart and a move to another worker. Only alarms with
//! a sub-expression that is not OK are kept (an absent alarm is OK throughout), so the state
//! stays as small as the set of alarms that are not OK, and is written only when it changes.
//!
//! Encoding (little to read and write at every tick): a version byte, the FNV-1a hash of the
//! canonical expression (state written for another expression is ignored), a varint count,
//! then per alarm, sorted by subject: a varint length, the subject's bytes, and its states two
//! bits each (0 OK, 1 ALARM, 2 UNDETERMINED), four to a byte.

use std::collections::BTreeMap;

use am_plugin_kit::bytes::{get_varint, put_varint};

use crate::eval::SubState;

const VERSION: u8 = 1;

/// Held states by subject.
pub type Held = BTreeMap<String, Vec<SubState>>;

fn code(s: SubState) -> u8 {
    match s {
        SubState::Ok => 0,
        SubState::Alarm => 1,
        SubState::Undetermined => 2,
    }
}

fn state(c: u8) -> SubState {
    match c {
        1 => SubState::Alarm,
        2 => SubState::Undetermined,
        _ => SubState::Ok,
    }
}

/// Encodes `held` for an expression of `subs` sub-expressions hashed `expr_hash`.
pub fn encode(held: &Held, subs: usize, expr_hash: u64) -> Vec<u8> {
    let mut out = vec![VERSION];
    out.extend_from_slice(&expr_hash.to_le_bytes());
    put_varint(&mut out, held.len() as u64);
    for (subject, states) in held {
        put_varint(&mut out, subject.len() as u64);
        out.extend_from_slice(subject.as_bytes());
        for chunk in 0..subs.div_ceil(4) {
            let mut byte = 0u8;
            for k in 0..4 {
                let s = states.get(chunk * 4 + k).copied().unwrap_or(SubState::Ok);
                byte |= code(s) << (2 * k);
            }
            out.push(byte);
        }
    }
    out
}

/// Decodes what [`encode`] wrote for the same expression; anything else (another version,
/// another expression, damaged bytes) is `None`: the alarms start afresh.
pub fn decode(bytes: &[u8], subs: usize, expr_hash: u64) -> Option<Held> {
    if bytes.first() != Some(&VERSION) {
        return None;
    }
    let hash = u64::from_le_bytes(bytes.get(1..9)?.try_into().ok()?);
    if hash != expr_hash {
        return None;
    }
    let mut pos = 9;
    let count = get_varint(bytes, &mut pos)?;
    let mut held = Held::new();
    for _ in 0..count {
        let len = usize::try_from(get_varint(bytes, &mut pos)?).ok()?;
        let name = std::str::from_utf8(bytes.get(pos..pos.checked_add(len)?)?).ok()?;
        pos += len;
        let packed = bytes.get(pos..pos + subs.div_ceil(4))?;
        pos += packed.len();
        let states = (0..subs)
            .map(|i| state((packed[i / 4] >> (2 * (i % 4))) & 3))
            .collect();
        held.insert(name.to_owned(), states);
    }
    (pos == bytes.len()).then_some(held)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let mut held = Held::new();
        held.insert(
            "servers.web01.cpu".into(),
            vec![
                SubState::Alarm,
                SubState::Ok,
                SubState::Undetermined,
                SubState::Ok,
                SubState::Alarm,
            ],
        );
        held.insert("é".into(), vec![SubState::Undetermined; 5]);
        let bytes = encode(&held, 5, 42);
        assert_eq!(decode(&bytes, 5, 42), Some(held.clone()));
        assert_eq!(decode(&bytes, 5, 43), None);
        assert_eq!(decode(&bytes[..bytes.len() - 1], 5, 42), None);
        assert_eq!(decode(b"", 5, 42), None);
        let empty = encode(&Held::new(), 1, 7);
        assert_eq!(empty.len(), 10);
        assert_eq!(decode(&empty, 1, 7), Some(Held::new()));
    }
}
