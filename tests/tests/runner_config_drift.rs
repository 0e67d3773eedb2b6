//! End to end: the `ConfigDrift` plugin run by a real am-runner against a real redis-server,
//! its verdicts becoming alarms. The shipped example fleet (`config/examples/config-drift/`,
//! as2 drifted from its running configuration, as3 from its peers) plus a node whose file
//! cannot be parsed: exactly as2 and as3 fire, each alarm naming its key path and both values,
//! the broken node is UNDETERMINED with the parser's reason, and mending as3's file resolves its
//! alarm.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use am_tests::runner::test_helpers::{WAIT, alarms_json, daemons, setup, start};
use am_tests::runner::{PluginLib, Runner, WebhookServer};
use am_tests::wait_until;
use serde_json::{Value, json};

/// The alarms of `ConfigDrift`, as `(metric, state, reason)`, sorted by node.
fn drift_alarms(runner: &Runner) -> Vec<(String, String, String)> {
    let mut got: Vec<(String, String, String)> = alarms_json(runner)["alarms"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["algorithm"] == "ConfigDrift")
        .map(|a| {
            let s = |k: &str| a[k].as_str().unwrap_or_default().to_owned();
            (s("metric"), s("state"), s("reason"))
        })
        .collect();
    got.sort();
    got
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

#[test]
fn drifted_nodes_fire_an_unparsable_one_is_undetermined_and_a_mended_one_resolves() {
    let (redis, carbon) = daemons();
    let hook = WebhookServer::start().unwrap();
    let fleet = tempfile::tempdir().unwrap();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/examples/config-drift");
    copy_dir(&example.join("nodes"), &fleet.path().join("nodes"));
    copy_dir(&example.join("runtime"), &fleet.path().join("runtime"));
    std::fs::write(
        fleet.path().join("nodes/as4.conf"),
        "namespace test {\n    replication-factor 2\n",
    )
    .unwrap();
    let path = |p: &str| fleet.path().join(p).display().to_string();
    let service = json!({
        "scheduler_options": { "interval_secs": 1, "plugin_args": { "name": "ConfigDrift" } },
        "worker_options": { "aerospike": {
            "nodes": path("nodes/*.conf"),
            "format": "aerospike",
            "runtime": { "files": path("runtime/*.kv"), "prefix": "service" },
            "ignore": ["service.node-id", "network.service.access-address"]
        } },
        "alarm": { "keep_firing_for": 0 }
    });
    let runner = start(
        &setup(&redis, &carbon)
            .plugin(PluginLib::ConfigDrift)
            .service("ConfigDrift", service)
            .set(
                "event_outputs",
                json!([{ "Webhook": { "url": hook.url("/drift") } }]),
            ),
    );

    let alarms = wait_until("three ConfigDrift alarms", WAIT, || {
        let got = drift_alarms(&runner);
        Ok((got.len() >= 3).then_some(got))
    })
    .unwrap_or_else(|e| panic!("{e:#}\n{}", runner.logs()));
    let states: Vec<(&str, &str)> = alarms
        .iter()
        .map(|(m, s, _)| (m.as_str(), s.as_str()))
        .collect();
    assert_eq!(
        states,
        [("as2", "alarm"), ("as3", "alarm"), ("as4", "undetermined")],
        "{alarms:?}"
    );
    assert_eq!(
        alarms[0].2,
        "1 key path differs: service.proto-fd-max is 15000 in the file, 20000 at runtime"
    );
    assert!(
        alarms[1]
            .2
            .starts_with("1 key path differs: namespace[test].replication-factor is 3 here, 2 on "),
        "{alarms:?}"
    );
    assert!(alarms[2].2.contains("as4"), "{alarms:?}");

    // Mend as3: its alarm resolves, and the webhook hears both transitions.
    let as3 = fleet.path().join("nodes/as3.conf");
    let text = std::fs::read_to_string(&as3).unwrap();
    std::fs::write(
        &as3,
        text.replace("replication-factor 3", "replication-factor 2"),
    )
    .unwrap();
    wait_until("as3 resolved at the webhook", WAIT, || {
        Ok(hook.requests().into_iter().find(|r| {
            let b: Value = serde_json::from_str(&r.body).unwrap_or_default();
            b["metric"] == "as3" && b["state"] == "ok" && b["previous_state"] == "alarm"
        }))
    })
    .unwrap_or_else(|e| panic!("{e:#}\n{:?}\n{}", hook.requests(), runner.logs()));
    let after: Vec<String> = drift_alarms(&runner).into_iter().map(|a| a.0).collect();
    assert_eq!(after, ["as2", "as4"]);
}
