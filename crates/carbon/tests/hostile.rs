//! Frames an attacker or a broken sender could send: each is refused (or decoded) with a
//! clear error, without panicking, recursing or allocating beyond the frame's size.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use am_carbon::pickle::{FrameError, FrameSplitter, PickleError, decode_frame};
use bytes::BytesMut;
use common::{P2, decode, float, frames, item, payload, unicode};

fn err(payload: &[u8]) -> PickleError {
    match decode_frame(payload, |_, _, _| {
        panic!("a refused frame delivered a point")
    }) {
        Err(e) => e,
        Ok(stats) => panic!("accepted: {stats:?}"),
    }
}

/// A refusal that names an opcode: its kind and the opcode.
fn opcode_error(payload: &[u8]) -> (&'static str, &'static str) {
    match err(payload) {
        PickleError::TooDeep { opcode, .. } => ("TooDeep", opcode),
        PickleError::StackUnderflow { opcode, .. } => ("StackUnderflow", opcode),
        PickleError::NoMark { opcode, .. } => ("NoMark", opcode),
        PickleError::BadArgument { opcode, .. } => ("BadArgument", opcode),
        e => panic!("no opcode named: {e}"),
    }
}

#[test]
fn deep_nesting_is_refused_without_recursion() {
    // 100 000 nested lists built with EMPTY_LIST ... APPEND
    let p = [P2, &[b']'; 100_000], &[b'a'; 99_999], b"."].concat();
    assert_eq!(opcode_error(&p), ("TooDeep", "APPEND"));
    // the same with MARK/EMPTY_LIST pairs closed by APPENDS
    let p = [P2, &b"(]".repeat(100_000), &[b'e'; 100_000], b"."].concat();
    assert_eq!(opcode_error(&p), ("TooDeep", "APPENDS"));
    // ~100 KB of nested tuples: EMPTY_TUPLE then TUPLE1 after TUPLE1
    let p = [P2, b")", &[0x85; 100_000], b"."].concat();
    assert!(matches!(
        err(&p),
        PickleError::TooDeep {
            opcode: "TUPLE1",
            offset: 5
        }
    ));
    // MARK ... TUPLE nesting
    let p = [&[b'('; 50_000][..], &[b't'; 50_000], b"."].concat();
    assert_eq!(opcode_error(&p), ("TooDeep", "TUPLE"));
    // 100 000 open MARKs
    let p = [P2, b"]", &[b'('; 100_000], b"."].concat();
    assert!(matches!(err(&p), PickleError::BadStop { .. }));
    // a container inside a datapoint: [(name, (ts, (v,)))]
    let p = [
        P2,
        b"]",
        &unicode("a"),
        &float(1.0),
        &float(2.0),
        &[0x85, 0x86, 0x86, b'a', b'.'],
    ]
    .concat();
    assert_eq!(opcode_error(&p), ("TooDeep", "APPEND"));
}

#[test]
fn huge_lengths_are_refused_before_allocating() {
    let splitter = FrameSplitter::default();
    let mut buf = BytesMut::from(&[0xffu8, 0xff, 0xff, 0xff, b'x'][..]);
    assert_eq!(
        splitter.next_frame(&mut buf),
        Err(FrameError::TooLarge {
            len: u32::MAX,
            max: 1_048_576
        })
    );
    let mut buf = BytesMut::from(&[0u8, 0x10, 0, 1][..]);
    assert!(matches!(
        splitter.bytes_needed(&buf),
        Err(FrameError::TooLarge { len: 1_048_577, .. })
    ));
    assert!(splitter.next_frame(&mut buf).is_err());
    for (opcode, arg) in [
        (&b"X"[..], &[0xffu8, 0xff, 0xff, 0xff][..]),
        (b"T", &[0xff, 0xff, 0xff, 0x7f]),
        (b"B", &[0xff, 0xff, 0xff, 0xff]),
        (b"\x8d", &[0xff; 8]),
        (b"\x8e", &[0xff; 8]),
        (b"\x8b", &[0xff, 0xff, 0xff, 0x7f]),
        (b"\x95", &[0xff; 8]),
        (b"U", &[0xff]),
        (b"\x8c", &[0x10]),
    ] {
        let p = [P2, opcode, arg, b"abc."].concat();
        assert!(
            matches!(err(&p), PickleError::Truncated { offset: 2, .. }),
            "{opcode:?}: {:?}",
            err(&p)
        );
    }
    // negative lengths
    let p = [P2, b"T", &(-1i32).to_le_bytes(), b"."].concat();
    assert_eq!(opcode_error(&p), ("BadArgument", "BINSTRING"));
    let p = [P2, b"\x8b", &(-5i32).to_le_bytes(), b"."].concat();
    assert_eq!(opcode_error(&p), ("BadArgument", "LONG4"));
}

#[test]
fn every_truncation_of_real_frames_is_an_error() {
    for (name, bytes) in frames() {
        let p = payload(&bytes);
        // the 29 KB batches are checked at every offset of their first 3 KB and then sparsely,
        // to keep this debug-build test quick; the smaller frames at every offset
        let offsets: Vec<usize> = if p.len() > 12_000 {
            (0..3000).chain((3000..p.len()).step_by(37)).collect()
        } else {
            (0..p.len()).collect()
        };
        for cut in offsets {
            let e = err(&p[..cut]);
            assert!(
                matches!(
                    e,
                    PickleError::Empty
                        | PickleError::NoStop { .. }
                        | PickleError::Truncated { .. }
                        | PickleError::UnterminatedLine { .. }
                ),
                "{name} cut at {cut}: {e}"
            );
        }
        // and a byte too many
        let longer = [p, b"."].concat();
        assert!(
            matches!(err(&longer), PickleError::TrailingBytes { count: 1, .. }),
            "{name}"
        );
    }
}

#[test]
fn code_execution_opcodes_are_refused_by_name_and_offset() {
    let cases: &[(&[u8], &str)] = &[
        (b"cos\nsystem\n(S'echo pwned'\ntR.", "GLOBAL"),
        (b"\x80\x04\x8c\x02os\x8c\x06system\x93.", "STACK_GLOBAL"),
        (b"\x80\x02N)R.", "REDUCE"),
        (b"\x80\x02)Nb.", "BUILD"),
        (b"(S'x'\nios\nsystem\n.", "INST"),
        (b"\x80\x02(N)o.", "OBJ"),
        (b"\x80\x02N)\x81.", "NEWOBJ"),
        (b"\x80\x04N)}\x92.", "EMPTY_DICT"),
        (b"\x80\x04NN)\x92.", "NEWOBJ_EX"),
        (b"Pabc\n.", "PERSID"),
        (b"\x80\x02NQ.", "BINPERSID"),
        (b"\x80\x02\x82\x01.", "EXT1"),
        (b"\x80\x02\x83\x01\x00.", "EXT2"),
        (b"\x80\x02\x84\x01\x00\x00\x00.", "EXT4"),
        (b"(d.", "DICT"),
        (b"\x80\x02}.", "EMPTY_DICT"),
        (b"\x80\x04\x8f.", "EMPTY_SET"),
        (b"\x80\x02N0.", "POP"),
        (b"\x80\x02(1.", "POP_MARK"),
        (b"\x80\x02N2.", "DUP"),
        (b"\x80\x05\x97.", "NEXT_BUFFER"),
        (
            b"\x80\x05\x96\x00\x00\x00\x00\x00\x00\x00\x00.",
            "BYTEARRAY8",
        ),
    ];
    for &(p, name) in cases {
        let e = err(p);
        let PickleError::Refused {
            name: got,
            offset,
            opcode,
            ..
        } = &e
        else {
            panic!("{name}: {e}");
        };
        assert_eq!(*got, name);
        assert_eq!(p[*offset], *opcode);
        assert!(
            e.to_string().contains(name) && e.to_string().contains(&format!("byte {offset}")),
            "{e}"
        );
    }
    for byte in [0xffu8, b'A', 0x99, 0x00, b'\n'] {
        let p = [P2, &[byte], b"."].concat();
        assert_eq!(
            err(&p),
            PickleError::UnknownOpcode {
                opcode: byte,
                offset: 2
            }
        );
    }
    assert!(matches!(
        err(b"\x80\x06]."),
        PickleError::UnsupportedProtocol { protocol: 6, .. }
    ));
}

#[test]
fn memo_bombs_stay_small() {
    // a memo index of 4 billion is a map entry, not 4 billion slots
    let p = [
        P2,
        b"]r\x00\x28\x6b\xee",
        b"(",
        &unicode("a"),
        &float(1.0),
        &float(2.0),
        b"\x86\x86j\x00\x28\x6b\xee",
    ]
    .concat();
    let p = [&p[..], b"\x85e."].concat(); // wrap the memoised list's GET in a tuple: too deep
    assert!(matches!(
        err(&p),
        PickleError::SealedList { .. } | PickleError::TooDeep { .. }
    ));
    let p = [
        P2,
        b"]r\xff\xff\xff\xff(",
        &item("a", 1.0, 2.0),
        b"ej\xff\xff\xff\xff.",
    ]
    .concat();
    assert!(matches!(err(&p), PickleError::BadStop { .. }));
    let p = [P2, b"]r\xff\xff\xff\xff(", &item("a", 1.0, 2.0), b"e."].concat();
    assert_eq!(decode(&p).unwrap(), vec![("a".to_owned(), 1.0, 2.0)]);
    // GET of a key never PUT
    assert!(matches!(
        err(b"\x80\x02h\x05."),
        PickleError::MemoMissing { key: 5, .. }
    ));
    assert_eq!(
        opcode_error(b"g99999999999999999999\n."),
        ("BadArgument", "GET")
    );
    // one valid item GET'd 100 000 times: 100 000 points, each GET costs one slot
    let p = [
        P2,
        b"](",
        &item("m", 1.0, 2.0),
        b"q\x01",
        &b"h\x01".repeat(99_999),
        b"e.",
    ]
    .concat();
    let mut n = 0;
    decode_frame(&p, |name, _, _| {
        assert_eq!(name, "m");
        n += 1;
    })
    .unwrap();
    assert_eq!(n, 100_000);
    // a 1000-element list GET'd 100 000 times into another list: shared, then refused by shape
    let big = [&b"]q\x00("[..], &b"N".repeat(1000), b"e"].concat();
    let p = [P2, &big, b"0"].concat(); // (POP is refused, so build it inside the top list)
    assert!(matches!(err(&p), PickleError::Refused { name: "POP", .. }));
    let p = [P2, b"](", &big[..], &b"h\x00".repeat(100_000), b"e."].concat();
    assert!(matches!(err(&p), PickleError::BadShape { .. }));
    // a list that appends itself would be cyclic
    assert!(matches!(
        err(b"\x80\x02]q\x00h\x00a."),
        PickleError::SealedList { .. }
    ));
    // a list changed after it was put inside another container
    let p = [P2, b"]q\x00]h\x00ah\x00", &item("a", 1.0, 2.0), b"a."].concat();
    assert!(matches!(
        err(&p),
        PickleError::SealedList { offset: 37, .. }
    ));
    let p = [P2, b"]q\x00\x85h\x00", &item("a", 1.0, 2.0), b"a."].concat();
    assert!(matches!(err(&p), PickleError::SealedList { .. }));
}

#[test]
fn wrong_shapes_are_bad_frames() {
    let shape = |p: &[u8]| match err(p) {
        PickleError::BadShape { reason, .. } => reason,
        e => panic!("{e}"),
    };
    assert!(shape(b"\x80\x02N.").contains("top-level object is None"));
    assert!(shape(b"\x80\x02).").contains("top-level object is a tuple"));
    assert!(shape(b"\x80\x02K\x01.").contains("top-level object is a number"));
    assert!(shape(&[P2, &unicode("a"), b"."].concat()).contains("top-level object is a string"));
    let one = [P2, b"]", &unicode("a"), b"\x85a."].concat();
    assert!(
        shape(&one).contains("item 0 has 1 elements"),
        "{}",
        shape(&one)
    );
    let three = [
        P2,
        b"]",
        &unicode("a"),
        &float(1.0),
        &float(2.0),
        &float(3.0),
        b"\x87\x86a.",
    ]
    .concat();
    assert!(shape(&three).contains("item 0: the datapoint has 3 elements"));
    let flat = [P2, b"]", &unicode("a"), &float(1.0), b"\x86a."].concat();
    assert!(shape(&flat).contains("item 0: the datapoint is a number"));
    let scalar_item = [P2, b"]K\x01a."].concat();
    assert!(shape(&scalar_item).contains("item 0 is a number"));
    let name_tuple = [
        P2,
        b"]",
        &unicode("a"),
        b"\x85",
        &float(1.0),
        &float(2.0),
        b"\x86\x86a.",
    ]
    .concat();
    assert!(shape(&name_tuple).contains("item 0: the name is a tuple"));
    // an empty list is a good, empty frame
    assert_eq!(decode(b"\x80\x02].").unwrap(), vec![]);
    // a bad item anywhere refuses the whole frame: nothing is delivered
    let p = [P2, b"](", &item("good", 1.0, 2.0), b"K\x01e."].concat();
    assert!(shape(&p).contains("item 1"));
}

#[test]
fn malformed_machinery_is_refused() {
    for (payload, refusal) in [
        (&b"\x80\x02\x86."[..], ("StackUnderflow", "TUPLE2")),
        (b"\x80\x02a.", ("StackUnderflow", "APPEND")),
        (b"\x80\x02](a.", ("StackUnderflow", "APPEND")),
        (b"\x80\x02(q\x00.", ("StackUnderflow", "BINPUT")),
        (b"\x80\x02]Ne.", ("NoMark", "APPENDS")),
        (b"\x80\x02Nt.", ("NoMark", "TUPLE")),
        (b"\x80\x02Nl.", ("NoMark", "LIST")),
        (b"Iabc\n.", ("BadArgument", "INT")),
        (b"I012\n.", ("BadArgument", "INT")),
        (b"F1.2.3\n.", ("BadArgument", "FLOAT")),
        (b"L12.5L\n.", ("BadArgument", "LONG")),
        (b"Sabc\n.", ("BadArgument", "STRING")),
        (b"S'a\\x1'\n.", ("BadArgument", "STRING")),
        (b"V\\u12\n.", ("BadArgument", "UNICODE")),
        (b"p-1\n.", ("BadArgument", "PUT")),
    ] {
        assert_eq!(opcode_error(payload), refusal, "{payload:?}");
    }
    assert_eq!(err(b""), PickleError::Empty);
    assert!(matches!(err(b"\x80\x02]"), PickleError::NoStop { len: 3 }));
    assert!(matches!(
        err(b"\x80\x02)Na."),
        PickleError::NotAList {
            found: "a tuple",
            ..
        }
    ));
    assert!(matches!(
        err(b"\x80\x02)(Ne."),
        PickleError::NotAList { .. }
    ));
    assert!(matches!(err(b"\x80\x02."), PickleError::BadStop { .. }));
    assert!(matches!(err(b"\x80\x02]]."), PickleError::BadStop { .. }));
    assert!(matches!(
        err(b"\x80\x02].."),
        PickleError::TrailingBytes {
            offset: 3,
            count: 1
        }
    ));
    assert!(matches!(
        err(b"I1"),
        PickleError::UnterminatedLine {
            opcode: "INT",
            offset: 0
        }
    ));
    let msg = err(b"\x80\x02\x86.").to_string();
    assert_eq!(msg, "TUPLE2 at byte 2: stack underflow");
}
