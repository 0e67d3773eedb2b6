//! Every captured and synthetic carbon frame decodes to what CPython made of it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use am_carbon::pickle::{Decoder, encode_frame};
use common::{decode, fixture_dir, frame, frames, payload};
use serde_json::Value;

/// `('name', (ts, value))` as MANIFEST.json prints it (numbers possibly quoted).
fn parse_repr(s: &str) -> (String, f64, f64) {
    let inner = s
        .strip_prefix("('")
        .and_then(|s| s.strip_suffix("))"))
        .unwrap();
    let (name, pair) = inner.split_once("', (").unwrap();
    let (ts, value) = pair.split_once(", ").unwrap();
    let num = |x: &str| x.trim_matches('\'').parse::<f64>().unwrap();
    (name.to_owned(), num(ts), num(value))
}

fn json_num(v: &Value) -> f64 {
    match v {
        Value::Number(n) => n.as_f64().unwrap(),
        Value::String(s) => s.parse().unwrap(),
        other => panic!("not a number: {other}"),
    }
}

/// Expands "synthetic-proto0..5.bin" and "synthetic-strvalues-proto1/2.bin".
fn expand(key: &str) -> Vec<String> {
    let stem = key.strip_suffix(".bin").unwrap();
    if let Some((head, last)) = stem.split_once("..") {
        let first = head.chars().last().unwrap().to_digit(10).unwrap();
        let prefix = &head[..head.len() - 1];
        let last: u32 = last.parse().unwrap();
        (first..=last).map(|i| format!("{prefix}{i}.bin")).collect()
    } else if let Some((head, other)) = stem.split_once('/') {
        let prefix = &head[..head.len() - 1];
        vec![format!("{head}.bin"), format!("{prefix}{other}.bin")]
    } else {
        vec![key.to_owned()]
    }
}

#[test]
fn every_fixture_matches_the_manifest() {
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(fixture_dir().join("MANIFEST.json")).unwrap())
            .unwrap();
    let all = frames();
    assert_eq!(all.len(), manifest.as_object().unwrap().len());
    for (name, bytes) in &all {
        let entry = &manifest[name.as_str()];
        let mut points = Vec::new();
        let stats =
            am_carbon::decode_frame(payload(bytes), |n, t, v| points.push((n.to_owned(), t, v)))
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        let expected = entry["datapoints"].as_u64().unwrap() as usize;
        assert_eq!(points.len(), expected, "{name}");
        assert_eq!(stats.points, expected, "{name}");
        assert_eq!((stats.invalid_points, stats.nan_values), (0, 0), "{name}");
        assert_eq!(
            points[0],
            parse_repr(entry["first"].as_str().unwrap()),
            "{name} first"
        );
        assert_eq!(
            points[expected - 1],
            parse_repr(entry["last"].as_str().unwrap()),
            "{name} last"
        );
    }
}

#[test]
fn synthetic_fixtures_match_exactly() {
    let expected: Value = serde_json::from_slice(
        &std::fs::read(fixture_dir().join("synthetic-expected.json")).unwrap(),
    )
    .unwrap();
    let mut checked = 0;
    for (key, items) in expected.as_object().unwrap() {
        let want: Vec<(String, f64, f64)> = items
            .as_array()
            .unwrap()
            .iter()
            .map(|item| {
                let name = item[0].as_str().unwrap().to_owned();
                (name, json_num(&item[1][0]), json_num(&item[1][1]))
            })
            .collect();
        for file in expand(key) {
            let got = decode(payload(&frame(&file))).unwrap_or_else(|e| panic!("{file}: {e}"));
            assert_eq!(got, want, "{file}");
            checked += 1;
        }
    }
    assert_eq!(checked, 9);
}

#[test]
fn encoder_reproduces_carbon_relay_bytes() {
    for name in [
        "carbon-relay-batch-000.bin",
        "carbon-relay-batch-001.bin",
        "carbon-relay-batch-002.bin",
        "carbon-relay-line-000.bin",
        "carbon-relay-pickle-in-000.bin",
        "carbon-relay-selfmetrics-000.bin",
    ] {
        let original = frame(name);
        let points = decode(payload(&original)).unwrap();
        let borrowed: Vec<(&str, f64, f64)> = points
            .iter()
            .map(|(n, t, v)| (n.as_str(), *t, *v))
            .collect();
        let encoded = encode_frame(&borrowed);
        assert_eq!(decode(payload(&encoded)).unwrap(), points, "{name}");
        assert!(
            encoded == original,
            "{name}: encoder output differs from carbon-relay's bytes"
        );
    }
}

#[test]
fn encoder_batches_like_cpython() {
    for n in [0usize, 1, 2, 255, 256, 999, 1000, 1001, 2001] {
        let names: Vec<String> = (0..n).map(|i| format!("m.{i}")).collect();
        let points: Vec<(&str, f64, f64)> = names
            .iter()
            .enumerate()
            .map(|(i, s)| (s.as_str(), 1.7e9 + i as f64, i as f64 * 0.5))
            .collect();
        let encoded = encode_frame(&points);
        let got = decode(payload(&encoded)).unwrap();
        let want: Vec<(String, f64, f64)> = points
            .iter()
            .map(|(n, t, v)| (n.to_string(), *t, *v))
            .collect();
        assert_eq!(got, want, "{n} points");
    }
}

#[test]
fn a_reused_decoder_gives_the_same_points() {
    let mut decoder = Decoder::new();
    for (name, bytes) in frames() {
        let mut got = Vec::new();
        decoder
            .decode(payload(&bytes), |n, t, v| got.push((n.to_owned(), t, v)))
            .unwrap();
        assert_eq!(got, decode(payload(&bytes)).unwrap(), "{name}");
    }
}
