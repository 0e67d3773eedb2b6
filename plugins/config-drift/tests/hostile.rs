//! Hostile input: a 100 MB file, binary junk, unbalanced braces, 10,000 nesting levels, too
//! many keys, a stanza name that every key repeats, a FIFO, a directory; deep JSON and YAML and a YAML "billion laughs"; commands
//! that hang, never stop writing or fail; URLs that never answer, never stop sending, or
//! fail. Each is an `unknown` verdict with a reason naming the source and the limit, the run
//! itself succeeds, and the good nodes are still judged.
//!
//! These tests assert outcomes, not durations; the time and memory each input costs are
//! measured by `cargo run --release -p am-plugin-config-drift --example hostile`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::Write;

use common::{
    Fleet, Reply, assert_states, assert_verdict, dump, emitted, http_server, run, verdict,
};
use serde_json::json;

const GOOD: &str = "service {\n    proto-fd-max 15000\n}\nnamespace test {\n    \
                    replication-factor 2\n    memory-size 4G\n}\n";

/// Bytes that look like nothing: a fixed xorshift stream.
fn junk(len: usize) -> Vec<u8> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// Proves that every hostile file is `unknown` with its reason (size before reading; NUL;
/// the line of an unbalanced brace; depth at the 65th level; the key limit; the expansion
/// limit; no FIFO or directory opened), that the run succeeds, and that the three good nodes are judged
/// against each other only.
#[test]
fn hostile_files_are_unknown_with_their_reason() {
    let fleet = Fleet::new();
    for name in ["good1", "good2", "good3"] {
        fleet.write(&format!("n/{name}.conf"), GOOD);
    }
    // 100 MB of configuration-looking text.
    let big = fleet.write("n/big.conf", "");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&big).unwrap());
    let line = "namespace test { replication-factor 2 }\n";
    for _ in 0..(100 << 20) / line.len() + 1 {
        file.write_all(line.as_bytes()).unwrap();
    }
    file.flush().unwrap();
    drop(file);
    let big_len = std::fs::metadata(&big).unwrap().len();
    assert!(big_len >= 100 << 20);
    fleet.write("n/junk.conf", junk(1 << 20));
    fleet.write(
        "n/unbalanced.conf",
        "service {\n    proto-fd-max 15000\n}\n}\n",
    );
    fleet.write(
        "n/unclosed.conf",
        "namespace test {\n    storage-engine device {\n}\n",
    );
    fleet.write(
        "n/deep.conf",
        "a {\n".repeat(10_000) + &"}\n".repeat(10_000),
    );
    let keys: String = (0..200_000).map(|i| format!("k{i} v\n")).collect();
    fleet.write("n/keys.conf", keys);
    // Every key repeats its stanza's 2 MB name: 3 MB of file, gigabytes of key paths.
    let long = format!(
        "namespace {} {{\n{}}}\n",
        "x".repeat(2 << 20),
        "k v\n".repeat(1000)
    );
    fleet.write("n/long.conf", long);
    let status = std::process::Command::new("mkfifo")
        .arg(fleet.path("n/fifo.conf"))
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::create_dir(fleet.root().join("n/dir.conf")).unwrap();

    let host = run(&json!({ "nodes": fleet.path("n/*.conf"), "format": "aerospike" }));
    assert_states(&host, "ok", &["good1", "good2", "good3"]);
    assert_eq!(
        verdict(&host, "good1").reason,
        "agrees with its 2 peers (5 key paths)"
    );
    let path = |name: &str| fleet.path(&format!("n/{name}.conf"));
    let expected = [
        (
            "big",
            format!(
                "{} is larger than the limit of 4194304 bytes (`max_bytes`): {big_len} bytes",
                path("big")
            ),
        ),
        ("dir", format!("{} is not a regular file", path("dir"))),
        (
            "deep",
            format!(
                "{}: nested deeper than 64 levels (`max_depth`) at line 65",
                path("deep")
            ),
        ),
        ("fifo", format!("{} is not a regular file", path("fifo"))),
        (
            "keys",
            format!("{}: more than 100000 key paths (`max_keys`)", path("keys")),
        ),
        (
            "long",
            format!(
                "{}: expands to more than 33554432 bytes of key paths and values \
                 (8 × `max_bytes`)",
                path("long")
            ),
        ),
        (
            "unbalanced",
            format!(
                "{}: aerospike syntax: line 4: `}}` closes no stanza",
                path("unbalanced")
            ),
        ),
        (
            "unclosed",
            format!(
                "{}: aerospike syntax: stanza `namespace test` opened at line 1 is never closed",
                path("unclosed")
            ),
        ),
    ];
    for (node, reason) in expected {
        let v = verdict(&host, node);
        assert_eq!(v.state, "unknown", "{node}: {}", v.reason);
        assert_eq!(
            v.reason,
            format!("configuration not readable: {reason}"),
            "{node}"
        );
    }
    let not_text = format!(
        "configuration not readable: {} is not text: a NUL byte at offset ",
        path("junk")
    );
    assert_verdict(&host, "junk", "unknown", |r| r.starts_with(&not_text));
    assert_eq!(emitted(&host, "unknown_nodes"), Some(9.0));
    assert_eq!(emitted(&host, "drifted_nodes"), Some(0.0));
}

/// Proves that deep JSON (10,000 levels, and 70) is refused at `max_depth`, and binary junk
/// as not text, in a JSON fleet.
#[test]
fn hostile_json_is_unknown() {
    let fleet = Fleet::new();
    for name in ["a", "b"] {
        fleet.write(&format!("{name}.json"), r#"{"server": {"port": 1}}"#);
    }
    fleet.write("deep.json", "[".repeat(10_000) + &"]".repeat(10_000));
    let nested = r#"{"a":"#.repeat(70) + "1" + &"}".repeat(70);
    fleet.write("nested.json", nested);
    fleet.write("junk.json", junk(4096));
    let host = run(&json!({ "nodes": fleet.path("*.json"), "format": "json" }));
    assert_states(&host, "ok", &["a", "b"]);
    for node in ["deep", "nested"] {
        assert_verdict(&host, node, "unknown", |r| {
            r.ends_with("nested deeper than 64 levels (`max_depth`)")
        });
    }
    assert!(verdict(&host, "junk").reason.contains("is not text"));
}

/// Proves that deep YAML and a "billion laughs" document (aliases of aliases) are `unknown`
/// within the limits.
#[test]
fn hostile_yaml_is_unknown() {
    let fleet = Fleet::new();
    for name in ["a", "b"] {
        fleet.write(&format!("{name}.yaml"), "server:\n  port: 1\n");
    }
    fleet.write("deep.yaml", "[".repeat(10_000) + &"]".repeat(10_000));
    let mut laughs = String::from("l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..10 {
        let refs = vec![format!("*l{}", i - 1); 9].join(", ");
        laughs.push_str(&format!("l{i}: &l{i} [{refs}]\n"));
    }
    fleet.write("laughs.yaml", laughs);
    let host = run(&json!({ "nodes": fleet.path("*.yaml"), "format": "yaml" }));
    assert_states(&host, "ok", &["a", "b"]);
    assert!(
        verdict(&host, "deep")
            .reason
            .contains("recursion limit exceeded"),
        "{}",
        dump(&host)
    );
    assert!(
        verdict(&host, "laughs").reason.ends_with(
            "expands to more than 33554432 bytes of key paths and values (8 × `max_bytes`)"
        ),
        "{}",
        dump(&host)
    );
}

/// Proves that a runtime command that hangs is killed at `timeout` (with what it started in
/// the background), one that writes without end is cut at `max_bytes`, and one that fails is
/// reported with its status and stderr, each node `unknown` and named.
#[test]
fn hostile_commands_are_unknown() {
    let fleet = Fleet::new();
    for name in ["slow", "chatty", "failing", "fine"] {
        fleet.write(&format!("n/{name}.conf"), GOOD);
    }
    // One command for every node; what it does depends on the node.
    let script = fleet.write(
        "runtime.sh",
        "case \"$1\" in\n\
         slow) sleep 30 & sleep 30 ;;\n\
         chatty) yes proto-fd-max=15000 ;;\n\
         failing) echo 'asinfo: connection refused' >&2; exit 1 ;;\n\
         *) echo 'proto-fd-max=15000;batch-index-threads=4' ;;\n\
         esac\n",
    );
    let host = run(&json!({
        "nodes": fleet.path("n/*.conf"),
        "format": "aerospike",
        "runtime": { "command": format!("sh {} {{node}}", script.display()),
                     "prefix": "service" },
        "timeout": 0.5,
        "max_bytes": 65536
    }));
    let command = |node: &str| format!("sh {} {node}", script.display());
    assert_states(&host, "ok", &["fine"]);
    let prefix = "no drift found, but running configuration not compared: ";
    assert_eq!(
        verdict(&host, "slow").reason,
        format!(
            "{prefix}`{}` did not finish within 0.5 s (`timeout`); killed",
            command("slow")
        )
    );
    assert_eq!(
        verdict(&host, "chatty").reason,
        format!(
            "{prefix}the output of `{}` is larger than the limit of 65536 bytes (`max_bytes`)",
            command("chatty")
        )
    );
    assert_eq!(
        verdict(&host, "failing").reason,
        format!(
            "{prefix}`{}` failed (exit status: 1): asinfo: connection refused",
            command("failing")
        )
    );
}

/// Proves URL nodes: three answering the same configuration are `ok`; one that never
/// answers is `unknown` at `timeout`, one that never stops sending at `max_bytes`, one
/// answering 404 with its status, one with nobody listening with the connection error.
#[test]
fn hostile_urls_are_unknown() {
    let good = http_server(Reply::Body(GOOD.to_owned()));
    let silent = http_server(Reply::Silent);
    let endless = http_server(Reply::Endless);
    let missing = http_server(Reply::Status(404));
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        drop(listener);
        url
    };
    let host = run(&json!({
        "nodes": {
            "a": format!("{good}/a.conf"), "b": format!("{good}/b.conf"),
            "c": format!("{good}/c.conf"),
            "silent": format!("{silent}/x"), "endless": format!("{endless}/x"),
            "missing": format!("{missing}/x"), "closed": format!("{closed}/x")
        },
        "format": "aerospike",
        "timeout": 0.5,
        "max_bytes": 65536
    }));
    assert_states(&host, "ok", &["a", "b", "c"]);
    assert_states(
        &host,
        "unknown",
        &["closed", "endless", "missing", "silent"],
    );
    let reason = |node: &str| verdict(&host, node).reason.clone();
    assert!(
        reason("silent").starts_with(&format!(
            "configuration not readable: fetching {silent}/x: timeout"
        )),
        "{}",
        reason("silent")
    );
    assert_eq!(
        reason("endless"),
        format!(
            "configuration not readable: {endless}/x is larger than the limit of 65536 bytes \
             (`max_bytes`)"
        )
    );
    assert_eq!(
        reason("missing"),
        format!("configuration not readable: fetching {missing}/x: HTTP status 404")
    );
    assert!(
        reason("closed").starts_with(&format!(
            "configuration not readable: fetching {closed}/x: "
        )),
        "{}",
        reason("closed")
    );
}
