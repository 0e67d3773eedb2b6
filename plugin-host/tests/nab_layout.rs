//! The NAB mode's results layout: one results file per data file, under
//! `<detector>/<category>/<detector>_<file>.csv`, with exactly the data file's rows in order.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use am_plugin_host::load_file;
use am_plugin_host::nab::{ScoreField, corpus, run_file};

fn plugin_file(name: &str) -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../target/release")
        .join(name);
    assert!(
        p.exists(),
        "{} is missing: build it with `cargo build --release -p am-test-plugin-faulty` (make test does)",
        p.display()
    );
    p
}

#[test]
fn results_mirror_the_corpus_row_by_row() {
    let data = tempfile::tempdir().unwrap();
    // Category and file names it has never seen; rows out of time order and a duplicate.
    let cat = data.path().join("someCategory");
    std::fs::create_dir_all(&cat).unwrap();
    let rows = "timestamp,value\n2014-04-01 00:10:00,3\n2014-04-01 00:00:00,1.5\n2014-04-01 00:05:00,2\n2014-04-01 00:05:00,2.5\n";
    std::fs::write(cat.join("weird name.csv"), rows).unwrap();
    std::fs::write(cat.join("notes.txt"), "not data").unwrap();
    let files = corpus(data.path()).unwrap();
    assert_eq!(files.len(), 1);
    let plugin = load_file(&plugin_file("libam_test_plugin_faulty.so")).unwrap();
    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("det/someCategory/det_weird name.csv");
    let score = ScoreField {
        name: "runs".into(),
    };
    let n = run_file(
        &plugin,
        r#"{"mode": "ok"}"#,
        &score,
        &files[0].1,
        &target,
        false,
    )
    .unwrap();
    assert_eq!(n, 4);
    let text = std::fs::read_to_string(&target).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "timestamp,value,anomaly_score,label");
    let want = [
        "2014-04-01 00:10:00,3",
        "2014-04-01 00:00:00,1.5",
        "2014-04-01 00:05:00,2",
        "2014-04-01 00:05:00,2.5",
    ];
    for (line, w) in lines[1..].iter().zip(want) {
        assert!(line.starts_with(&format!("{w},")), "{line} vs {w}");
        let cols: Vec<&str> = line.split(',').collect();
        let s: f64 = cols[2].parse().unwrap();
        assert!((0.0..=1.0).contains(&s), "{line}");
        assert_eq!(cols[3], "0");
    }
    assert_eq!(lines.len(), 5);
}

#[test]
fn nab_protocol_merges_the_files_facts_into_the_options() {
    let values: Vec<f64> = (0..4032).map(|i| f64::from(i % 10) - 2.0).collect();
    let merged = am_plugin_host::nab::with_nab_protocol(r#"{"metric": "x"}"#, &values).unwrap();
    let v: serde_json::Value = serde_json::from_str(&merged).unwrap();
    assert_eq!(v["metric"], "x");
    assert_eq!(v["input_min"], -2.0);
    assert_eq!(v["input_max"], 7.0);
    assert_eq!(v["probation"], 604);
    let long: Vec<f64> = vec![1.0; 20_000];
    let merged = am_plugin_host::nab::with_nab_protocol("{}", &long).unwrap();
    assert!(merged.contains("\"probation\":750"));
    assert!(am_plugin_host::nab::with_nab_protocol("[1]", &long).is_err());
}
