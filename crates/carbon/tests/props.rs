//! Properties: framing is independent of how the stream is cut into reads, encoder and decoder
//! agree, and no input makes the decoder or the line parser panic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use am_carbon::pickle::{Decoder, FrameSplitter, encode_frame};
use am_carbon::plaintext::{LineError, LineSplitter, parse_line};
use bytes::BytesMut;
use common::{drain_lines, frames, payload};
use proptest::prelude::*;

type Point = (String, f64, f64);

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9_.:;=-]{1,40}",
        any::<String>().prop_map(|s| s.chars().take(30).collect()),
    ]
}

fn number() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>().prop_filter("NaN values are dropped by design", |f| !f.is_nan()),
        (1_600_000_000u32..1_900_000_000).prop_map(f64::from),
        Just(f64::INFINITY),
        Just(-0.0),
    ]
}

fn points() -> impl Strategy<Value = Vec<Point>> {
    prop::collection::vec((name(), number(), number()), 0..40)
}

/// A frame as on the wire: either our encoder's output or a real fixture.
#[derive(Debug, Clone)]
enum Source {
    Encoded(Vec<Point>),
    Fixture(usize),
}

fn wire(source: &Source, fixtures: &[(String, Vec<u8>)]) -> Vec<u8> {
    match source {
        Source::Encoded(points) => {
            let borrowed: Vec<(&str, f64, f64)> = points
                .iter()
                .map(|(n, t, v)| (n.as_str(), *t, *v))
                .collect();
            encode_frame(&borrowed)
        }
        Source::Fixture(i) => fixtures[i % fixtures.len()].1.clone(),
    }
}

fn decode_all(decoder: &mut Decoder, payload: &[u8]) -> Vec<Point> {
    let mut out = Vec::new();
    decoder
        .decode(payload, |n, t, v| out.push((n.to_owned(), t, v)))
        .unwrap();
    out
}

/// Cuts `stream` into reads of the given sizes (cycled), as a socket might deliver it.
fn reads<'a>(stream: &'a [u8], sizes: &'a [usize]) -> impl Iterator<Item = &'a [u8]> + 'a {
    let mut pos = 0;
    let mut i = 0;
    std::iter::from_fn(move || {
        if pos >= stream.len() {
            return None;
        }
        let n = sizes[i % sizes.len()].max(1).min(stream.len() - pos);
        i += 1;
        pos += n;
        Some(&stream[pos - n..pos])
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn frames_decode_the_same_however_the_stream_is_cut(
        sources in prop::collection::vec(
            prop_oneof![points().prop_map(Source::Encoded), (0usize..64).prop_map(Source::Fixture)],
            1..8,
        ),
        sizes in prop::collection::vec(1usize..5000, 1..20),
    ) {
        let fixtures = frames();
        let wires: Vec<Vec<u8>> = sources.iter().map(|s| wire(s, &fixtures)).collect();
        let mut decoder = Decoder::new();
        let mut expected = Vec::new();
        for (source, w) in sources.iter().zip(&wires) {
            let got = decode_all(&mut decoder, payload(w));
            if let Source::Encoded(points) = source {
                prop_assert_eq!(&got, points);
            }
            expected.extend(got);
        }
        let stream = wires.concat();
        let splitter = FrameSplitter::default();
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        for read in reads(&stream, &sizes) {
            buf.reserve(splitter.bytes_needed(&buf).unwrap().min(read.len()));
            buf.extend_from_slice(read);
            while let Some(frame) = splitter.next_frame(&mut buf).unwrap() {
                got.extend(decode_all(&mut decoder, &frame));
            }
        }
        prop_assert!(buf.is_empty());
        prop_assert_eq!(got, expected);
    }

    #[test]
    fn lines_split_the_same_however_the_stream_is_cut(
        lines in prop::collection::vec(prop::collection::vec(any::<u8>().prop_filter("no newline", |b| *b != b'\n'), 0..50), 0..30),
        tail in prop::collection::vec(b'a'..=b'z', 0..10),
        sizes in prop::collection::vec(1usize..64, 1..10),
    ) {
        const MAX: usize = 24;
        let mut stream: Vec<u8> = lines.iter().flat_map(|l| l.iter().copied().chain([b'\n'])).collect();
        stream.extend_from_slice(&tail); // an incomplete last line is never delivered
        let expected: Vec<Result<Vec<u8>, LineError>> = lines
            .iter()
            .map(|l| if l.len() <= MAX { Ok(l.clone()) } else { Err(LineError::TooLong { max: MAX }) })
            .collect();
        let mut splitter = LineSplitter::new(MAX);
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        for read in reads(&stream, &sizes) {
            buf.extend_from_slice(read);
            got.extend(drain_lines(&mut splitter, &mut buf));
            prop_assert!(buf.len() <= MAX + 64, "buffered {} bytes", buf.len());
        }
        prop_assert_eq!(got, expected);
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_decoder(bytes in prop::collection::vec(any::<u8>(), 0..2000)) {
        let mut decoder = Decoder::new();
        let _ = decoder.decode(&bytes, |_, _, _| {});
        let _ = decoder.decode(&[b"\x80\x02"[..].to_vec(), bytes].concat(), |_, _, _| {});
    }

    #[test]
    fn opcode_soup_never_panics_the_decoder(
        parts in prop::collection::vec(prop::sample::select(SNIPPETS), 0..300),
    ) {
        let p: Vec<u8> = parts.concat();
        let mut decoder = Decoder::new();
        let mut n = 0usize;
        if let Ok(stats) = decoder.decode(&p, |_, _, _| n += 1) {
            prop_assert_eq!(stats.points, n);
        }
    }

    #[test]
    fn mutated_real_frames_never_panic(index in 0usize..64, edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)) {
        let fixtures = frames();
        let mut p = payload(&fixtures[index % fixtures.len()].1).to_vec();
        for (at, byte) in edits {
            let i = at.index(p.len());
            p[i] = byte;
        }
        let _ = Decoder::new().decode(&p, |_, _, _| {});
    }

    #[test]
    fn plaintext_round_trips_and_never_panics(
        n in "[a-z0-9_.;=:-]{1,60}",
        value in any::<f64>(),
        ts in any::<f64>(),
        junk in prop::collection::vec(any::<u8>(), 0..100),
    ) {
        let line = format!("{n} {value:?} {ts:?}\r\n");
        match parse_line(line.as_bytes()) {
            Ok((name, v, t)) => {
                prop_assert_eq!(name, n.as_str());
                prop_assert_eq!(v.to_bits(), value.to_bits());
                prop_assert!(t.to_bits() == ts.to_bits() || (t.is_nan() && ts.is_nan()));
            }
            Err(e) => {
                let nan_refused = value.is_nan() && matches!(e, LineError::NanValue { .. });
                prop_assert!(nan_refused, "{}", e);
            }
        }
        let _ = parse_line(&junk);
    }
}

/// Well-formed opcodes with arguments, for structured fuzzing of the interpreter.
const SNIPPETS: &[&[u8]] = &[
    b"\x80\x02",
    b"\x80\x04",
    b"\x95\x00\x00\x00\x00\x00\x00\x00\x00",
    b"(",
    b"]",
    b")",
    b"a",
    b"e",
    b"l",
    b"t",
    b"\x85",
    b"\x86",
    b"\x87",
    b"N",
    b"\x88",
    b"\x89",
    b"K\x07",
    b"J\x01\x00\x00\x00",
    b"M\x01\x02",
    b"G\x41\xda\x00\x00\x00\x00\x00\x00",
    b"X\x01\x00\x00\x00a",
    b"\x8c\x02ab",
    b"U\x01b",
    b"C\x01c",
    b"I42\n",
    b"I01\n",
    b"L99L\n",
    b"F1.5\n",
    b"V\\u00fc\n",
    b"S'x'\n",
    b"X\x03\x00\x00\x001.5",
    b"\x8a\x02\xff\x7f",
    b"q\x00",
    b"q\x01",
    b"r\x02\x00\x00\x00",
    b"r\xff\xff\xff\xff",
    b"\x94",
    b"h\x00",
    b"h\x01",
    b"j\x02\x00\x00\x00",
    b"p3\n",
    b"g3\n",
    b".",
    b"c",
    b"0",
    b"\xff",
];
