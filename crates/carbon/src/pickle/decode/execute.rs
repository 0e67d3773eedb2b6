//! The opcode loop.

use super::reader::{Reader, bad};
use super::{Decoder, Value};
use crate::pickle::PickleError;
use crate::pickle::opcodes::{self as op, opcode_name, refusal};
use crate::pickle::text;
use crate::pynum;

/// Largest payload decoded: 1 GiB, far above carbon's 1 MiB frame cap.
const MAX_PAYLOAD: usize = (u32::MAX / 4) as usize;

impl Decoder {
    /// Runs opcodes up to STOP; returns the unpickled root and the STOP offset.
    pub(super) fn execute(&mut self, p: &[u8]) -> Result<(Value, usize), PickleError> {
        if p.is_empty() {
            return Err(PickleError::Empty);
        }
        // Offsets are u32, and unescaped text (at most 4 bytes per input byte, kept in
        // scratch) must fit them too.
        if p.len() > MAX_PAYLOAD {
            return Err(PickleError::PayloadTooLarge { len: p.len() });
        }
        let mut r = Reader { buf: p, pos: 0 };
        loop {
            let at = r.pos;
            let Some(&code) = p.get(at) else {
                return Err(PickleError::NoStop { len: p.len() });
            };
            r.pos = at + 1;
            match code {
                op::BINUNICODE => {
                    let n = u32::from_le_bytes(r.array("BINUNICODE", at)?);
                    let start = r.skip(u64::from(n), "BINUNICODE", at)?;
                    self.push_str(start, n as usize);
                }
                op::BINFLOAT => {
                    let f = f64::from_be_bytes(r.array("BINFLOAT", at)?);
                    self.push(Value::Num(f));
                }
                op::TUPLE2 => self.make_pair(at)?,
                op::BINPUT => self.memo_put(r.memo_key(code, "BINPUT", at)?, "BINPUT", at)?,
                op::LONG_BINPUT => {
                    let key = r.memo_key(code, "LONG_BINPUT", at)?;
                    self.memo_put(key, "LONG_BINPUT", at)?;
                }
                op::MEMOIZE => {
                    let key = self.memo.len() as u64;
                    self.memo_put(key, "MEMOIZE", at)?;
                }
                op::PUT => self.memo_put(r.memo_key(code, "PUT", at)?, "PUT", at)?,
                op::BINGET => self.memo_get(r.memo_key(code, "BINGET", at)?, "BINGET", at)?,
                op::LONG_BINGET => {
                    let key = r.memo_key(code, "LONG_BINGET", at)?;
                    self.memo_get(key, "LONG_BINGET", at)?;
                }
                op::GET => self.memo_get(r.memo_key(code, "GET", at)?, "GET", at)?,
                op::MARK => self.marks.push(self.stack.len()),
                op::EMPTY_LIST => {
                    let from = self.stack.len();
                    self.make_list(from, "EMPTY_LIST", at)?;
                }
                op::LIST => {
                    let from = self.pop_mark("LIST", at)?;
                    self.make_list(from, "LIST", at)?;
                }
                op::APPEND => {
                    let from = self.top_k(1, "APPEND", at)?;
                    if from <= self.fence() {
                        return Err(PickleError::StackUnderflow {
                            opcode: "APPEND",
                            offset: at,
                        });
                    }
                    self.append_from(from, "APPEND", at)?;
                }
                op::APPENDS => {
                    let from = self.pop_mark("APPENDS", at)?;
                    self.append_from(from, "APPENDS", at)?;
                }
                op::EMPTY_TUPLE => self.push(Value::Tuple {
                    start: 0,
                    len: 0,
                    height: 1,
                }),
                op::TUPLE => {
                    let from = self.pop_mark("TUPLE", at)?;
                    self.make_tuple(from, "TUPLE", at)?;
                }
                op::TUPLE1 => {
                    let from = self.top_k(1, "TUPLE1", at)?;
                    self.make_tuple(from, "TUPLE1", at)?;
                }
                op::TUPLE3 => {
                    let from = self.top_k(3, "TUPLE3", at)?;
                    self.make_tuple(from, "TUPLE3", at)?;
                }
                op::SHORT_BINUNICODE | op::SHORT_BINSTRING | op::SHORT_BINBYTES => {
                    let name = opcode_name(code).unwrap_or("SHORT_BINSTRING");
                    let n = r.u8(name, at)?;
                    let start = r.skip(u64::from(n), name, at)?;
                    self.push_str(start, usize::from(n));
                }
                op::BINSTRING => {
                    let n = i32::from_le_bytes(r.array("BINSTRING", at)?);
                    let n =
                        u64::try_from(n).map_err(|_| bad("BINSTRING", at, "negative length"))?;
                    let start = r.skip(n, "BINSTRING", at)?;
                    self.push_str(start, n as usize);
                }
                op::BINBYTES => {
                    let n = u32::from_le_bytes(r.array("BINBYTES", at)?);
                    let start = r.skip(u64::from(n), "BINBYTES", at)?;
                    self.push_str(start, n as usize);
                }
                op::BINUNICODE8 | op::BINBYTES8 => {
                    let name = opcode_name(code).unwrap_or("BINBYTES8");
                    let n = u64::from_le_bytes(r.array(name, at)?);
                    let start = r.skip(n, name, at)?;
                    self.push_str(start, n as usize);
                }
                op::STRING => {
                    let line = r.line("STRING", at)?;
                    let inner = match line {
                        [q @ (b'\'' | b'"'), inner @ .., last] if last == q => inner,
                        _ => return Err(bad("STRING", at, "argument must be quoted")),
                    };
                    if inner.contains(&b'\\') {
                        let start = self.scratch.len();
                        text::unescape_string(inner, &mut self.scratch)
                            .map_err(|d| bad("STRING", at, d))?;
                        self.push_owned(start);
                    } else {
                        self.push_str(at + 2, inner.len());
                    }
                }
                op::UNICODE => {
                    let line = r.line("UNICODE", at)?;
                    if line.is_ascii() && !line.contains(&b'\\') {
                        self.push_str(at + 1, line.len());
                    } else {
                        let start = self.scratch.len();
                        text::decode_raw_unicode_escape(line, &mut self.scratch)
                            .map_err(|d| bad("UNICODE", at, d))?;
                        self.push_owned(start);
                    }
                }
                op::BININT => {
                    let n = i32::from_le_bytes(r.array("BININT", at)?);
                    self.push(Value::Num(f64::from(n)));
                }
                op::BININT1 => {
                    let n = r.u8("BININT1", at)?;
                    self.push(Value::Num(f64::from(n)));
                }
                op::BININT2 => {
                    let n = u16::from_le_bytes(r.array("BININT2", at)?);
                    self.push(Value::Num(f64::from(n)));
                }
                op::LONG1 => {
                    let n = r.u8("LONG1", at)?;
                    let bytes = r.bytes(u64::from(n), "LONG1", at)?;
                    self.push(pynum::long_le_to_f64(bytes).map_or(Value::NotNum, Value::Num));
                }
                op::LONG4 => {
                    let n = i32::from_le_bytes(r.array("LONG4", at)?);
                    let n = u64::try_from(n).map_err(|_| bad("LONG4", at, "negative length"))?;
                    let bytes = r.bytes(n, "LONG4", at)?;
                    self.push(pynum::long_le_to_f64(bytes).map_or(Value::NotNum, Value::Num));
                }
                op::INT => {
                    let line = r.line("INT", at)?;
                    let v = match line {
                        b"01" => Some(1.0),
                        b"00" => Some(0.0),
                        _ => pynum::parse_int_base0(line)
                            .map_err(|()| bad("INT", at, "not an integer"))?,
                    };
                    self.push(v.map_or(Value::NotNum, Value::Num));
                }
                op::LONG => {
                    let line = r.line("LONG", at)?;
                    let digits = line.strip_suffix(b"L").unwrap_or(line);
                    let v = pynum::parse_int_base0(digits)
                        .map_err(|()| bad("LONG", at, "not an integer"))?;
                    self.push(v.map_or(Value::NotNum, Value::Num));
                }
                op::FLOAT => {
                    let line = r.line("FLOAT", at)?;
                    let f = pynum::parse_float(line).ok_or(bad("FLOAT", at, "not a float"))?;
                    self.push(Value::Num(f));
                }
                op::NEWTRUE => self.push(Value::Num(1.0)),
                op::NEWFALSE => self.push(Value::Num(0.0)),
                op::NONE => self.push(Value::NotNum),
                op::PROTO => {
                    let protocol = r.u8("PROTO", at)?;
                    if protocol > 5 {
                        return Err(PickleError::UnsupportedProtocol {
                            protocol,
                            offset: at,
                        });
                    }
                }
                op::FRAME => {
                    let n = u64::from_le_bytes(r.array("FRAME", at)?);
                    let available = r.remaining();
                    if usize::try_from(n).map_or(true, |n| n > available) {
                        return Err(PickleError::Truncated {
                            opcode: "FRAME",
                            offset: at,
                            needed: n,
                            available,
                        });
                    }
                }
                op::STOP => return self.stop(at, r.remaining()),
                other => {
                    return Err(match (opcode_name(other), refusal(other)) {
                        (Some(name), Some(why)) => PickleError::Refused {
                            opcode: other,
                            name,
                            offset: at,
                            why,
                        },
                        _ => PickleError::UnknownOpcode {
                            opcode: other,
                            offset: at,
                        },
                    });
                }
            }
        }
    }

    pub(super) fn stop(
        &mut self,
        at: usize,
        trailing: usize,
    ) -> Result<(Value, usize), PickleError> {
        if trailing > 0 {
            return Err(PickleError::TrailingBytes {
                offset: at,
                count: trailing,
            });
        }
        if !self.marks.is_empty() {
            let detail = format!("{} MARK(s) left open", self.marks.len());
            return Err(PickleError::BadStop { offset: at, detail });
        }
        match self.stack.as_slice() {
            [root] => Ok((*root, at)),
            [] => Err(PickleError::BadStop {
                offset: at,
                detail: "empty stack".into(),
            }),
            more => {
                let detail = format!("{} values left on the stack, expected 1", more.len());
                Err(PickleError::BadStop { offset: at, detail })
            }
        }
    }
}
