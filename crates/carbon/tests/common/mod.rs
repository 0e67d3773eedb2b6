//! Helpers shared by the integration tests: the fixture directory and its frames, pickle
//! pieces, and draining a line splitter.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

/// `shared/fixtures/carbon`, next to the repository.
pub fn fixture_dir() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/fixtures/carbon"
    ))
}

/// Every `*.bin` fixture as (file name, whole frame with prefix), sorted by name.
pub fn frames() -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(fixture_dir())
        .expect("fixture directory ../shared/fixtures/carbon")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "bin"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    out.sort();
    assert!(
        out.len() >= 17,
        "expected the carbon fixtures, found {}",
        out.len()
    );
    out
}

/// One fixture frame.
pub fn frame(name: &str) -> Vec<u8> {
    std::fs::read(fixture_dir().join(name)).unwrap()
}

/// The payload of a whole frame (prefix checked and removed).
pub fn payload(frame: &[u8]) -> &[u8] {
    let len = u32::from_be_bytes(frame[..4].try_into().unwrap()) as usize;
    assert_eq!(len, frame.len() - 4);
    &frame[4..]
}

/// Decodes a payload into (name, timestamp, value) triples.
pub fn decode(payload: &[u8]) -> Result<Vec<(String, f64, f64)>, am_carbon::PickleError> {
    let mut out = Vec::new();
    am_carbon::decode_frame(payload, |n, t, v| out.push((n.to_owned(), t, v)))?;
    Ok(out)
}

/// Protocol 2 header (`PROTO 2`).
pub const P2: &[u8] = b"\x80\x02";

/// `BINUNICODE` of `s`.
pub fn unicode(s: &str) -> Vec<u8> {
    let mut v = vec![b'X'];
    v.extend_from_slice(&(s.len() as u32).to_le_bytes());
    v.extend_from_slice(s.as_bytes());
    v
}

/// `BINFLOAT` of `f`.
pub fn float(f: f64) -> Vec<u8> {
    let mut v = vec![b'G'];
    v.extend_from_slice(&f.to_be_bytes());
    v
}

/// `(name, (ts, value))` as carbon-relay writes it, without memo opcodes.
pub fn item(name: &str, ts: f64, value: f64) -> Vec<u8> {
    [unicode(name), float(ts), float(value), vec![0x86, 0x86]].concat()
}

/// Every line (or error) `splitter` can take from `buf` now, in order: what a listener
/// delivers after each read.
pub fn drain_lines(
    splitter: &mut am_carbon::plaintext::LineSplitter,
    buf: &mut bytes::BytesMut,
) -> Vec<Result<Vec<u8>, am_carbon::plaintext::LineError>> {
    let mut out = Vec::new();
    loop {
        match splitter.next_line(buf) {
            Ok(Some(line)) => out.push(Ok(line.to_vec())),
            Ok(None) => return out,
            Err(e) => out.push(Err(e)),
        }
    }
}
