//! Options are checked at start-up, naming the option; and the fleet's edges: no nodes, two
//! files for one node, more nodes than `max_nodes`, names with dots or unsafe for a command,
//! a lone node.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use am_plugin_api::Level;
use common::{Fleet, assert_logged, assert_verdict, dump, emitted, refused, run, states, verdict};
use serde_json::json;

/// Proves that unknown keys, a `nodes` of the wrong shape, a URL that is not http(s), a
/// runtime source with two places or without `{node}`, an unknown format and a zero timeout
/// are refused with a message naming the option.
#[test]
fn bad_options_are_refused_naming_the_option() {
    let message = refused(&json!({ "nodes": "/x/*", "format": "ini", "ignor": [] }));
    assert!(message.contains("unknown field `ignor`"), "{message}");
    let message = refused(&json!({ "nodes": 3, "format": "ini" }));
    assert!(
        message.starts_with("invalid option `nodes`")
            && message.contains("a glob of files, or an object mapping node names to URLs"),
        "{message}"
    );
    let message = refused(&json!({ "nodes": { "a": "ftp://a/x" }, "format": "ini" }));
    assert_eq!(
        message,
        "`nodes.a`: `ftp://a/x` is not an http:// or https:// URL"
    );
    let message = refused(&json!({
        "nodes": "/x/*", "format": "ini",
        "runtime": { "files": "/r/*", "command": "cat {node}" }
    }));
    assert_eq!(
        message,
        "`runtime[0]`: give exactly one of `files`, `url`, `command`"
    );
    let message = refused(&json!({
        "nodes": "/x/*", "format": "ini",
        "runtime": [{ "files": "/r/*" }, { "command": "asinfo -v get-config" }]
    }));
    assert_eq!(
        message,
        "`runtime[1]`: `command`: `asinfo -v get-config` must have `{node}` in it"
    );
    let message = refused(&json!({
        "nodes": "/x/*", "format": "ini", "runtime": { "command": "sh -c 'echo {node}" }
    }));
    assert_eq!(
        message,
        "`runtime[0]`: `command`: `sh -c 'echo {node}` has unbalanced quotes"
    );
    let message = refused(&json!({
        "nodes": "/x/*", "format": "ini", "runtime": { "files": "/r/*", "formt": "kv" }
    }));
    assert!(message.contains("unknown field `formt`"), "{message}");
    let message = refused(&json!({ "nodes": "/x/*", "format": "toml" }));
    assert!(
        message.starts_with("invalid option `format`: unknown variant `toml`"),
        "{message}"
    );
    let message = refused(&json!({ "nodes": "/x/*", "format": "ini", "timeout": 0 }));
    assert_eq!(
        message,
        "`timeout` must be more than 0 and at most 3600 seconds, got 0"
    );
    let message = refused(&json!({ "nodes": "/x/[", "format": "ini" }));
    assert!(
        message.starts_with("`nodes`: `/x/[` is not a valid glob"),
        "{message}"
    );
}

/// Proves the fleet's edges: a glob matching nothing writes `nodes` 0 and warns; two files
/// with one stem make that node `unknown`; beyond `max_nodes` nodes are dropped, counted and
/// logged; dots in a node's name become `_` in its output's name; a node name that could
/// inject into a command is refused for it; a lone node with nothing to compare with is
/// `unknown`.
#[test]
fn the_fleets_edges() {
    let fleet = Fleet::new();
    let host = run(&json!({ "nodes": fleet.path("none/*.ini"), "format": "ini" }));
    assert!(host.verdicts().is_empty());
    assert_eq!(emitted(&host, "nodes"), Some(0.0));
    assert_logged(&host, Level::Warn, |m| m.starts_with("no nodes found"));

    for name in ["web1.example.com", "web2.example.com", "web3.example.com"] {
        fleet.write(&format!("a/{name}.ini"), "[s]\nk = 1\n");
    }
    fleet.write("a/web3.example.com.cfg", "[s]\nk = 1\n");
    fleet.write("a/-rf.ini", "[s]\nk = 1\n");
    let options = json!({
        "nodes": fleet.path("a/*"), "format": "ini", "max_nodes": 3,
        "runtime": { "command": "echo k={node}", "prefix": "s" }
    });
    let host = run(&options);
    // In name order: `-rf`, web1, web2 are judged; web3 (two files) is beyond the limit.
    assert_eq!(
        states(&host),
        [
            ("-rf".to_owned(), "unknown".to_owned()),
            ("web1.example.com".to_owned(), "anomalous".to_owned()),
            ("web2.example.com".to_owned(), "anomalous".to_owned()),
        ],
        "{}",
        dump(&host)
    );
    assert!(
        verdict(&host, "-rf")
            .reason
            .contains("the node name `-rf` cannot go into a URL or command"),
        "{}",
        dump(&host)
    );
    assert_eq!(
        verdict(&host, "web1.example.com").reason,
        "1 key path differs: s.k is 1 in the file, web1.example.com at runtime"
    );
    assert_eq!(emitted(&host, "web1_example_com.drift"), Some(1.0));
    assert_eq!(emitted(&host, "dropped_nodes"), Some(1.0));
    assert_logged(&host, Level::Error, |m| {
        m == "1 nodes beyond `max_nodes` (3) left out"
    });

    let host = run(&json!({ "nodes": fleet.path("a/web3*"), "format": "ini" }));
    assert_verdict(&host, "web3.example.com", "unknown", |r| {
        r.starts_with("configuration not readable: several files name this node: ")
    });

    let host = run(&json!({ "nodes": fleet.path("a/web1*"), "format": "ini" }));
    assert_eq!(
        verdict(&host, "web1.example.com").reason,
        "no drift found, but nothing to compare with: no reference, no peers, no running \
         configuration"
    );
}
