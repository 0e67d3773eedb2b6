//! The plaintext protocol against real carbon-c-relay and carbon-relay traffic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use am_carbon::plaintext::{LineError, LineSplitter, parse_line};
use bytes::BytesMut;
use common::{decode, drain_lines, fixture_dir, frame, payload};

fn lines_of(file: &str) -> Vec<BytesMut> {
    let mut buf = BytesMut::from(&std::fs::read(fixture_dir().join(file)).unwrap()[..]);
    let mut splitter = LineSplitter::default();
    let mut out = Vec::new();
    while let Some(line) = splitter.next_line(&mut buf).unwrap() {
        out.push(line);
    }
    assert!(buf.is_empty(), "{file} ends with a newline");
    out
}

#[test]
fn carbon_c_relay_lines_parse() {
    let input = lines_of("carbon-c-relay-in.txt");
    let output = lines_of("carbon-c-relay-out.txt");
    assert_eq!(input.len(), 8);
    assert_eq!(input.len(), output.len());
    for (a, b) in input.iter().zip(&output) {
        let (_, va, ta) = parse_line(a).unwrap_or_else(|e| panic!("{a:?}: {e}"));
        let (name, vb, tb) = parse_line(b).unwrap_or_else(|e| panic!("{b:?}: {e}"));
        // carbon-c-relay rewrites names but passes values and timestamps through
        assert_eq!((va, ta), (vb, tb), "{name}");
    }
    assert_eq!(
        parse_line(&input[2]).unwrap(),
        ("test..crelay..dots.", 7.5, 1_795_241_412.0)
    );
    assert_eq!(
        parse_line(&input[4]).unwrap(),
        ("test.crelay.exp", 0.001, 1_795_241_412.0)
    );
    assert_eq!(
        parse_line(&input[5]).unwrap(),
        ("test.crelay.fracts", 1.0, 1_795_241_412.75)
    );
    assert_eq!(
        parse_line(&input[6]).unwrap().0,
        "test.crelay.tagged;env=prod;dc=x"
    );
    assert!(input[7].ends_with(b"\r"));
    assert_eq!(
        parse_line(&input[7]).unwrap(),
        ("test.crelay.crlf", 2.0, 1_795_241_412.0)
    );
}

#[test]
fn carbon_relay_crlf_lines_match_the_relayed_pickle() {
    let lines = lines_of("carbon-relay-line-out.txt");
    let pickled = decode(payload(&frame("carbon-relay-line-000.bin"))).unwrap();
    assert_eq!(lines.len(), pickled.len());
    for (line, (name, _, value)) in lines.iter().zip(&pickled) {
        let (n, v, _) = parse_line(line).unwrap();
        assert_eq!((n, v), (name.as_str(), *value));
    }
}

#[test]
fn bad_lines_say_what_is_wrong() {
    let bad_value = |offset, text: &str| LineError::BadValue {
        offset,
        text: text.into(),
    };
    let bad_timestamp = |offset, text: &str| LineError::BadTimestamp {
        offset,
        text: text.into(),
    };
    for (line, error) in [
        (&b""[..], LineError::Empty),
        (b" \t\r\n", LineError::Empty),
        (b"a.b 1", LineError::FieldCount { found: 2 }),
        (b"a.b", LineError::FieldCount { found: 1 }),
        (b"a.b 1 2 3 4", LineError::FieldCount { found: 5 }),
        (b"a\xffb 1 2", LineError::NonUtf8Name { offset: 0 }),
        (b"a.b  one 2", bad_value(5, "one")),
        (b"a.b 1 17e", bad_timestamp(6, "17e")),
        (b"a.b nan 2", LineError::NanValue { offset: 4 }),
        (b"a.b -NaN 2\r", LineError::NanValue { offset: 4 }),
    ] {
        assert_eq!(parse_line(line), Err(error), "{line:?}");
    }
    let msg = parse_line(b"a.b 1 x").unwrap_err().to_string();
    assert_eq!(msg, "timestamp \"x\" at byte 6 is not a number");
    // what Python's float() accepts is accepted
    assert_eq!(
        parse_line(b"\ta.b\t1_000\t-1\r\n"),
        Ok(("a.b", 1000.0, -1.0))
    );
    assert_eq!(parse_line(b"a.b inf 1e9"), Ok(("a.b", f64::INFINITY, 1e9)));
}

#[test]
fn over_long_lines_are_dropped_without_buffering() {
    let mut splitter = LineSplitter::new(16);
    let mut buf = BytesMut::new();
    let mut results = Vec::new();
    for chunk in [&b"ok 1 2\n"[..], &[b'x'; 40], &[b'y'; 40], b"\nafter 3 4\n"] {
        buf.extend_from_slice(chunk);
        results.extend(drain_lines(&mut splitter, &mut buf));
        assert!(
            buf.len() <= 16 + chunk.len(),
            "buffer holds {} bytes",
            buf.len()
        );
    }
    assert_eq!(
        results,
        vec![
            Ok(b"ok 1 2".to_vec()),
            Err(LineError::TooLong { max: 16 }),
            Ok(b"after 3 4".to_vec())
        ]
    );
}
