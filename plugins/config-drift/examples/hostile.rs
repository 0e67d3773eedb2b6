//! What hostile input costs: the wall time of one run and the peak memory it adds, per input,
//! next to a baseline of five ordinary Aerospike nodes.
//!
//! ```sh
//! cargo run --release -p am-plugin-config-drift --example hostile
//! ```
//!
//! Each case is one run of the plugin (through `TestHost`, as in the tests) over a fleet of
//! two good nodes and the hostile one, with the default limits (4 MiB, 64 levels, 100000
//! keys) and a 1 s timeout, in a process of its own (this program runs itself once per
//! case). Peak memory is that process's high-water mark (`VmHWM`), reset just before the run
//! through `/proc/self/clear_refs` (Linux), minus its resident set at the reset: what the run
//! added.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    missing_docs
)]

use std::fs;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::Instant;

use am_plugin_api::testing::{TestHost, run_task};
use am_plugin_config_drift::ConfigDrift;
use serde_json::{Value, json};

const GOOD: &str = "service {\n    proto-fd-max 15000\n    pidfile /var/run/aerospike/asd.pid\n}\n\
                    network {\n    heartbeat {\n        mode mesh\n        port 3002\n    }\n}\n\
                    namespace test {\n    replication-factor 2\n    memory-size 4G\n    \
                    storage-engine device {\n        file /opt/a.dat\n        file /opt/b.dat\n    \
                    }\n}\n";

fn status_kib(field: &str) -> u64 {
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Resets the high-water mark; returns the resident set now, in KiB.
fn reset_peak() -> u64 {
    let _ = fs::write("/proc/self/clear_refs", "5");
    status_kib("VmRSS:")
}

fn write_big(path: &Path, line: &str, bytes: usize) {
    let mut file = BufWriter::new(fs::File::create(path).unwrap());
    for _ in 0..bytes / line.len() + 1 {
        file.write_all(line.as_bytes()).unwrap();
    }
    file.flush().unwrap();
}

fn junk(path: &Path, len: usize) {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut file = BufWriter::new(fs::File::create(path).unwrap());
    for _ in 0..len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        file.write_all(&[(state >> 24) as u8]).unwrap();
    }
    file.flush().unwrap();
}

/// Runs `options` once: (ms, peak KiB added, the hostile node's verdict).
fn measure(options: &Value, node: &str) -> (f64, u64, String) {
    let mut host = TestHost::new();
    let before = reset_peak();
    let started = Instant::now();
    run_task::<ConfigDrift>(&options.to_string(), "bench", &mut host, 1_000).unwrap();
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    let peak = status_kib("VmHWM:").saturating_sub(before);
    let verdict = host
        .verdicts()
        .iter()
        .find(|v| v.subject == node)
        .map(|v| format!("{}: {}", v.state, v.reason))
        .unwrap_or_else(|| "(no verdict)".into());
    (ms, peak, verdict)
}

type Make = fn(&Path) -> (&'static str, Value);

fn main() {
    let cases = cases();
    if let Some(index) = std::env::args()
        .nth(1)
        .and_then(|a| a.parse::<usize>().ok())
    {
        let (name, make) = cases[index];
        run_case(name, make);
        return;
    }
    let cpu = fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("model name"))
        .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        .unwrap_or_default();
    println!(
        "machine: {cpu}, {} cores available",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!("{:<36} {:>8} {:>10}  verdict", "input", "ms", "peak +MiB");
    let me = std::env::current_exe().unwrap();
    for index in 0..cases.len() {
        let out = std::process::Command::new(&me)
            .arg(index.to_string())
            .output()
            .unwrap();
        print!("{}", String::from_utf8_lossy(&out.stdout));
        if !out.status.success() {
            println!(
                "case {index} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

fn cases() -> Vec<(&'static str, Make)> {
    vec![
        ("baseline: 5 ordinary nodes", |dir| {
            for n in 0..3 {
                fs::write(dir.join(format!("extra{n}.conf")), GOOD).unwrap();
            }
            ("good1", json!({}))
        }),
        ("100 MB file", |dir| {
            write_big(
                &dir.join("x.conf"),
                "namespace t { replication-factor 2 }\n",
                100 << 20,
            );
            ("x", json!({}))
        }),
        ("4 MB binary junk (under the cap)", |dir| {
            junk(&dir.join("x.conf"), (4 << 20) - 1);
            ("x", json!({}))
        }),
        ("unbalanced braces (4 MB of `{`)", |dir| {
            write_big(&dir.join("x.conf"), "a {\n", (4 << 20) - 8);
            ("x", json!({ "max_depth": 10_000_000 }))
        }),
        ("10,000 nesting levels (aerospike)", |dir| {
            let text = "a {\n".repeat(10_000) + &"}\n".repeat(10_000);
            fs::write(dir.join("x.conf"), text).unwrap();
            ("x", json!({}))
        }),
        ("10,000 nesting levels (json)", |dir| {
            let text = "[".repeat(10_000) + &"]".repeat(10_000);
            fs::write(dir.join("x.conf"), text).unwrap();
            ("x", json!({ "format": "json" }))
        }),
        ("10,000 nesting levels (yaml)", |dir| {
            let text = "[".repeat(10_000) + &"]".repeat(10_000);
            fs::write(dir.join("x.conf"), text).unwrap();
            ("x", json!({ "format": "yaml" }))
        }),
        ("yaml billion laughs", |dir| {
            let mut text = String::from("l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
            for i in 1..10 {
                let refs = vec![format!("*l{}", i - 1); 9].join(", ");
                text.push_str(&format!("l{i}: &l{i} [{refs}]\n"));
            }
            fs::write(dir.join("x.conf"), text).unwrap();
            ("x", json!({ "format": "yaml" }))
        }),
        ("300,000 keys (3.6 MB)", |dir| {
            let text: String = (0..300_000).map(|i| format!("k{i:06} v\n")).collect();
            fs::write(dir.join("x.conf"), text).unwrap();
            ("x", json!({}))
        }),
        ("2 MB stanza name, 1000 keys under it", |dir| {
            let text = format!(
                "namespace {} {{\n{}}}\n",
                "x".repeat(2 << 20),
                "k v\n".repeat(1000)
            );
            fs::write(dir.join("x.conf"), text).unwrap();
            ("x", json!({}))
        }),
        ("4 MB json array of numbers", |dir| {
            let text = format!("{{\"a\": [{{\"b\": [{}0]}}]}}", "0,".repeat((2 << 20) - 20));
            fs::write(dir.join("x.conf"), text).unwrap();
            ("x", json!({ "format": "json" }))
        }),
        ("largest accepted: 99,000 keys", |dir| {
            let text: String = (0..99_000)
                .map(|i| format!("key-number-{i:06} some-value-{i:06}\n"))
                .collect();
            fs::write(dir.join("x.conf"), text).unwrap();
            ("x", json!({}))
        }),
        ("command that hangs (timeout 1 s)", |dir| {
            fs::write(dir.join("x.conf"), GOOD).unwrap();
            let command = "sh -c 'sleep 30 & sleep 30' {node}";
            (
                "x",
                json!({ "runtime": { "command": command, "prefix": "service" } }),
            )
        }),
        ("command writing without end", |dir| {
            fs::write(dir.join("x.conf"), GOOD).unwrap();
            (
                "x",
                json!({ "runtime": { "command": "yes k={node}", "prefix": "service" } }),
            )
        }),
    ]
}

fn run_case(name: &str, make: Make) {
    let dir = tempfile::tempdir().unwrap();
    for good in ["good1", "good2"] {
        fs::write(dir.path().join(format!("{good}.conf")), GOOD).unwrap();
    }
    let (node, extra) = make(dir.path());
    let shown_dir = dir.path().display().to_string();
    let mut options = json!({
        "nodes": format!("{shown_dir}/*.conf"),
        "format": "aerospike",
        "timeout": 1.0
    });
    for (key, value) in extra.as_object().unwrap() {
        options[key] = value.clone();
    }
    let (ms, peak, verdict) = measure(&options, node);
    let verdict = verdict.replace(&shown_dir, "<dir>");
    let verdict: String = verdict.chars().take(100).collect();
    println!(
        "{name:<36} {ms:>8.1} {:>10.1}  {verdict}",
        peak as f64 / 1024.0
    );
}
