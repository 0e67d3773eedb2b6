//! The shipped example service (`config/config-drift.example.json`, with its node files under
//! `config/examples/config-drift/`) runs as documented.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;

use common::{assert_states, emitted, run, verdict};
use serde_json::Value;

/// Proves that the example's options load, and that its three nodes give what the plugin
/// index says: as3 drifted from its peers, as2 from its running configuration, as1 ok.
#[test]
fn the_shipped_example_runs_as_documented() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let text = std::fs::read_to_string(root.join("config/config-drift.example.json")).unwrap();
    let example: Value = serde_json::from_str(&text).unwrap();
    let service = &example["ConfigDrift"];
    assert_eq!(
        service["scheduler_options"]["plugin_args"]["name"],
        "ConfigDrift"
    );
    let mut options = service["worker_options"]["aerospike"].clone();
    // The paths are relative to the runner's directory, the repository's root.
    let absolute =
        |relative: &Value| Value::from(root.join(relative.as_str().unwrap()).display().to_string());
    options["nodes"] = absolute(&options["nodes"]);
    options["runtime"]["files"] = absolute(&options["runtime"]["files"]);

    let host = run(&options);
    assert_states(&host, "anomalous", &["as2", "as3"]);
    assert_eq!(
        verdict(&host, "as3").reason,
        "1 key path differs: namespace[test].replication-factor is 3 here, 2 on 2 of 2 peers"
    );
    assert_eq!(
        verdict(&host, "as2").reason,
        "1 key path differs: service.proto-fd-max is 15000 in the file, 20000 at runtime"
    );
    assert_eq!(verdict(&host, "as1").state, "ok");
    assert_eq!(emitted(&host, "drifted_nodes"), Some(2.0));
}
