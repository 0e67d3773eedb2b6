use super::layout::glob_escape;
use super::*;

#[test]
fn parses_prometheus_and_inspect_output() {
    let text = "# HELP a_total A.\n# TYPE a_total counter\na_total 5\nh_bucket{le=\"0.5\"} 2\n";
    assert_eq!(
        parse_prometheus(text).unwrap(),
        vec![
            ("a_total".to_owned(), 5.0),
            ("h_bucket{le=\"0.5\"}".to_owned(), 2.0)
        ]
    );
    assert_eq!(
        parse_inspect("a.b 100 1.5\n\nc 7 -inf\n").unwrap(),
        vec![
            ("a.b".to_owned(), 100, 1.5),
            ("c".to_owned(), 7, f64::NEG_INFINITY)
        ]
    );
    assert!(parse_inspect("a.b 100\n").is_err());
    assert!(to_map(&[("a".to_owned(), 1, 1.0), ("a".to_owned(), 1, 2.0)]).is_err());
}

#[test]
fn expected_readings() {
    let sent = vec![
        ("m".to_owned(), 601.9, 1.0),
        ("m".to_owned(), 899.0, 2.0),
        ("m".to_owned(), 601.0, 3.0),
    ];
    let raw = last_write_wins(&sent, None);
    assert_eq!(raw.len(), 2);
    assert_eq!(raw[&("m".to_owned(), 601)], 3.0);
    let buckets = last_write_wins(&sent, Some(300));
    assert_eq!(
        buckets.into_iter().collect::<Vec<_>>(),
        vec![(("m".to_owned(), 600), 3.0)]
    );
}

#[test]
fn chunk_keys_and_records() {
    assert_eq!(
        ChunkKey::parse("am2:c:{3.41}:i300r86400:a.b:c:14400"),
        Some(ChunkKey {
            tag: "i300r86400".to_owned(),
            name: "a.b:c".to_owned(),
            chunk_start: 14400
        })
    );
    assert_eq!(ChunkKey::parse("am2:idx:{3.41}:r86400"), None);
    assert_eq!(ChunkKey::parse("am1:c:r86400:a:0"), None);
    let mut bytes = Vec::new();
    for (off, v) in [(5u16, 1.5f64), (2, -2.0)] {
        bytes.extend_from_slice(&off.to_le_bytes());
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    assert_eq!(
        decode_records(100, &bytes).unwrap(),
        vec![(105, 1.5), (102, -2.0)]
    );
    assert!(decode_records(100, &bytes[..15]).is_err());
    assert_eq!(glob_escape("a*b?[c]"), "a\\*b\\?\\[c\\]");
}

#[test]
fn renders_a_config_with_overrides() {
    let ports = CollectorPorts {
        pickle: 1,
        line: 2,
        udp: 3,
        metrics: 4,
    };
    let text = CollectorOptions::default()
        .listeners(true, false, true)
        .sink("db", "5")
        .sink("pipeline_size", "7")
        .render(6379, &ports);
    assert!(
        text.contains(r#""port": 6379, "db": 5, "pipeline_size": 7"#),
        "{text}"
    );
    assert!(text.contains(r#""CarbonAsyncTcpSpout": { "host": "127.0.0.1", "port": 1 }"#));
    assert!(!text.contains("CarbonPlaintextTcpSpout"), "{text}");
    assert!(text.contains(r#""listen": "127.0.0.1:4""#), "{text}");
}
