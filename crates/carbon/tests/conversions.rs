//! Names, timestamps and values convert the way carbon's Python receiver converts them, and
//! points it would skip are skipped and counted without losing the rest of the frame.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use am_carbon::pickle::decode_frame;
use common::{P2, decode, float, frame, item, payload, unicode};

#[test]
fn unconvertible_points_are_skipped_not_fatal() {
    let p = [
        P2,
        b"](",
        &item("ok", 1.0, 2.0),
        b"U\x03\xff\xfe\xfd", // a Python 2 byte-string name that is not UTF-8
        &float(1.0),
        &float(2.0),
        b"\x86\x86",
        &unicode("none.value"),
        &float(1.0),
        b"N\x86\x86",
        &unicode("word.value"),
        &float(1.0),
        &unicode("twelve"),
        b"\x86\x86",
        &unicode("nan.value"),
        &float(1.0),
        &unicode(" NaN "),
        b"\x86\x86",
        b"K\x07", // a name that is a number
        &float(1.0),
        &float(2.0),
        b"\x86\x86",
        &item("last", 3.0, 4.0),
        b"e.",
    ]
    .concat();
    let mut got = Vec::new();
    let stats = decode_frame(&p, |n, t, v| got.push((n.to_owned(), t, v))).unwrap();
    assert_eq!(
        got,
        vec![("ok".to_owned(), 1.0, 2.0), ("last".to_owned(), 3.0, 4.0)]
    );
    assert_eq!(
        (stats.points, stats.invalid_points, stats.nan_values),
        (2, 4, 1)
    );
}

#[test]
fn python_number_forms_convert_like_float() {
    // (name, (ts, value)) with every number opcode and string forms statsd uses
    let cases: &[(&[u8], f64)] = &[
        (b"I01\n", 1.0),
        (b"I00\n", 0.0),
        (b"I-42\n", -42.0),
        (
            b"L123456789012345678901234567890L\n",
            123_456_789_012_345_678_901_234_567_890.0,
        ),
        (b"F-1.25e2\n", -125.0),
        (b"J\xfe\xff\xff\xff", -2.0),
        (b"K\xff", 255.0),
        (b"M\xff\xff", 65535.0),
        (b"\x8a\x00", 0.0),
        (b"\x8a\x01\x80", -128.0),
        (b"\x8b\x02\x00\x00\x00\xff\x7f", 32767.0),
        (b"\x88", 1.0),
        (b"\x89", 0.0),
        (b"X\x06\x00\x00\x00 1e3\r\n", 1000.0),
        (b"U\x041_00", 100.0),
        (b"C\x03inf", f64::INFINITY),
        (b"S'-Infinity'\n", f64::NEG_INFINITY),
        (b"V2.5\n", 2.5),
    ];
    for &(value, want) in cases {
        let p = [P2, b"]", &unicode("n"), &float(7.0), value, b"\x86\x86a."].concat();
        let got = decode(&p).unwrap_or_else(|e| panic!("{value:?}: {e}"));
        assert_eq!(got, vec![("n".to_owned(), 7.0, want)], "{value:?}");
    }
    // an int too large for a float is an invalid point (Python: OverflowError)
    let huge = [&[0x8bu8][..], &200u32.to_le_bytes(), &[0x01; 199], &[0x7f]].concat();
    let p = [P2, b"]", &unicode("n"), &float(7.0), &huge, b"\x86\x86a."].concat();
    assert_eq!(
        decode_frame(&p, |_, _, _| panic!()).unwrap().invalid_points,
        1
    );
}

#[test]
fn texts_decode_like_python() {
    let cases: &[(&[u8], &str)] = &[
        (b"S'a\\'b\\\\c'\n", "a'b\\c"),
        (b"S\"x\\x41\\101\"\n", "xAA"),
        (b"Vsyn.\\u00fc\\U0001f600\n", "syn.ü😀"),
        (b"Vlatin\xe9\n", "latiné"),
        (b"\x8c\x02\xc3\xbc", "ü"),
        (b"\x8d\x01\x00\x00\x00\x00\x00\x00\x00z", "z"),
        (b"\x8e\x01\x00\x00\x00\x00\x00\x00\x00y", "y"),
        (b"B\x01\x00\x00\x00b", "b"),
        (b"T\x01\x00\x00\x00t", "t"),
    ];
    for &(name, want) in cases {
        let p = [P2, b"]", name, &float(1.0), &float(2.0), b"\x86\x86a."].concat();
        assert_eq!(
            decode(&p).unwrap(),
            vec![(want.to_owned(), 1.0, 2.0)],
            "{name:?}"
        );
    }
    // proto 4 FRAME and MEMOIZE; lists instead of tuples; TUPLE3-free shapes via LIST
    let p =
        b"\x80\x04\x95\x00\x00\x00\x00\x00\x00\x00\x00]\x94((\x8c\x01a\x94(K\x01K\x02l\x94l\x94e.";
    assert_eq!(decode(p).unwrap(), vec![("a".to_owned(), 1.0, 2.0)]);
    let frame_bytes = frame("synthetic-proto5.bin");
    assert_eq!(decode(payload(&frame_bytes)).unwrap().len(), 6);
}
