//! The issue's case in the other formats: five nodes, node2 with a changed key, node4 missing
//! a section, node3's running configuration disagreeing with its file. Exactly those three
//! are anomalous, each naming its path, in INI and JSON (and YAML and properties). Node1 and
//! node5 differ only in what does not count (an ignored name; for JSON and YAML, `300.0` for
//! `300`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Fleet, assert_states, emitted, run, verdict};
use serde_json::json;

/// How one format writes a node.
struct Case {
    /// The format's name, also the node files' extension.
    format: &'static str,
    /// The node's file: its name, its `threads`, and when it has the `cache` section, how
    /// that writes its `ttl` of 300.
    node: fn(name: &str, threads: u32, cache_ttl: Option<&str>) -> String,
    /// The running configuration's format and text, given its `threads`.
    runtime: (&'static str, fn(threads: u32) -> String),
    /// How the format shows `threads` and the missing section in a reason.
    missing_keys: usize,
}

impl Case {
    fn new(
        format: &'static str,
        node: fn(&str, u32, Option<&str>) -> String,
        runtime: (&'static str, fn(u32) -> String),
        missing_keys: usize,
    ) -> Self {
        Case {
            format,
            node,
            runtime,
            missing_keys,
        }
    }
}

fn ini(name: &str, threads: u32, cache_ttl: Option<&str>) -> String {
    let cache = cache_ttl
        .map(|ttl| format!("[cache]\nsize = 128M\nttl = {ttl}\n\n"))
        .unwrap_or_default();
    format!(
        "; app.ini\n[server]\nname = {name}\nport = 8080\nthreads = {threads}\n\n{cache}\
         [logging]\nlevel = info\noutput = file\noutput = syslog\n"
    )
}

fn json(name: &str, threads: u32, cache_ttl: Option<&str>) -> String {
    let cache = cache_ttl
        .map(|ttl| format!(r#""cache": {{"size": 134217728, "ttl": {ttl}}},"#))
        .unwrap_or_default();
    format!(
        r#"{{"server": {{"name": "{name}", "port": 8080, "threads": {threads}}}, {cache}
            "logging": {{"level": "info", "outputs": ["file", "syslog"]}}}}"#
    )
}

fn yaml(name: &str, threads: u32, cache_ttl: Option<&str>) -> String {
    let cache = cache_ttl
        .map(|ttl| format!("cache:\n  size: 134217728\n  ttl: {ttl}\n"))
        .unwrap_or_default();
    format!(
        "server:\n  name: {name}\n  port: 8080\n  threads: {threads}\n{cache}\
         logging:\n  level: info\n  outputs: [file, syslog]\n"
    )
}

fn properties(name: &str, threads: u32, cache_ttl: Option<&str>) -> String {
    let cache = cache_ttl
        .map(|ttl| format!("cache.size=128M\ncache.ttl={ttl}\n"))
        .unwrap_or_default();
    format!(
        "# app.properties\nserver.name={name}\nserver.port=8080\nserver.threads={threads}\n\
         {cache}logging.level=info\n"
    )
}

fn kv(threads: u32) -> String {
    format!("port=8080;threads={threads};max-connections=100")
}

fn json_runtime(threads: u32) -> String {
    format!(r#"{{"port": 8080, "threads": {threads}, "max_connections": 100}}"#)
}

/// Builds the fleet of `case`, runs it, and checks the three verdicts.
fn three_drifted(case: &Case, ttl_of_node1: &str) {
    let fleet = Fleet::new();
    let (runtime_format, runtime) = case.runtime;
    for (index, name) in ["node1", "node2", "node3", "node4", "node5"]
        .iter()
        .enumerate()
    {
        let threads = if *name == "node2" { 8 } else { 4 };
        let ttl = if index == 0 { ttl_of_node1 } else { "300" };
        let cache_ttl = (*name != "node4").then_some(ttl);
        let text = (case.node)(name, threads, cache_ttl);
        fleet.write(&format!("nodes/{name}.{}", case.format), text);
        let running = if *name == "node3" { 16 } else { threads };
        fleet.write(&format!("running/{name}.txt"), runtime(running));
    }
    let options = json!({
        "nodes": fleet.path(&format!("nodes/*.{}", case.format)),
        "format": case.format,
        "runtime": { "files": fleet.path("running/*.txt"), "format": runtime_format,
                     "prefix": "server" },
        "ignore": ["server.name"]
    });
    let host = run(&options);
    let format = case.format;
    assert_states(&host, "anomalous", &["node2", "node3", "node4"]);
    assert_states(&host, "ok", &["node1", "node5"]);
    assert_eq!(
        verdict(&host, "node2").reason,
        "1 key path differs: server.threads is 8 here, 4 on 4 of 4 peers",
        "{format}"
    );
    assert_eq!(
        verdict(&host, "node3").reason,
        "1 key path differs: server.threads is 4 in the file, 16 at runtime",
        "{format}"
    );
    let missing = case.missing_keys;
    let (section, under) = if case.format == "properties" {
        // Properties have no sections: each key is missing on its own.
        (
            "cache.size is absent here, 128M on 4 of 4 peers; cache.ttl is absent here, 300 on \
             4 of 4 peers"
                .to_owned(),
            String::new(),
        )
    } else {
        (
            "cache is absent here, a stanza on 4 of 4 peers".to_owned(),
            format!(" ({} key paths under it)", missing - 1),
        )
    };
    assert_eq!(
        verdict(&host, "node4").reason,
        format!("{missing} key paths differ: {section}{under}"),
        "{format}"
    );
    assert_eq!(emitted(&host, "drifted_nodes"), Some(3.0), "{format}");
    assert_eq!(
        emitted(&host, "node4.drift"),
        Some(missing as f64),
        "{format}"
    );
}

/// Proves the issue's case in each format (node1 writing its `ttl` of 300 its own way):
/// INI (sections, keys, a repeated key `output`, the runtime in `kv` under the prefix
/// `server`); JSON with a JSON runtime source (node1's `300.0` equals the others' `300`);
/// YAML (`0x12c` is 300) with a `kv` runtime source read by YAML's schema; Java properties,
/// where a missing "section" is its keys.
#[test]
fn three_drifted_nodes_in_every_format() {
    let kv = ("kv", kv as fn(u32) -> String);
    let cases = [
        (Case::new("ini", ini, kv, 3), "300"),
        (Case::new("json", json, ("json", json_runtime), 3), "300.0"),
        (Case::new("yaml", yaml, kv, 3), "0x12c"),
        (Case::new("properties", properties, kv, 2), "300"),
    ];
    for (case, ttl_of_node1) in &cases {
        three_drifted(case, ttl_of_node1);
    }
}

/// Proves that values are compared as strings in INI (`128M` is not `134217728` there, as it
/// is for Aerospike), so a node writing the other one differs.
#[test]
fn ini_compares_text() {
    let fleet = Fleet::new();
    for name in ["a", "b", "c"] {
        fleet.write(&format!("{name}.ini"), "[cache]\nsize = 128M\n");
    }
    fleet.write("d.ini", "[cache]\nsize = 134217728\n");
    let host = run(&json!({ "nodes": fleet.path("*.ini"), "format": "ini" }));
    assert_states(&host, "anomalous", &["d"]);
    assert_eq!(
        verdict(&host, "d").reason,
        "1 key path differs: cache.size is 134217728 here, 128M on 3 of 3 peers"
    );
}
