//! End-to-end test of the `Threshold` plugin: points sent live to a real am-collector, stored in
//! a real redis-server, judged every second by a real am-runner (outputs to a real
//! carbon-cache); alarms observed with `am-runner alarms --json`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod rules_support;

use std::time::Duration;

use am_tests::runner::PluginLib;
use rules_support::{LiveRules, active, history};
use serde_json::json;

/// Proves that with `match_by`, one alarm per series: of ten series reported every second, the
/// one whose 2-second average crosses 90 fires (and no other), and it resolves once it is
/// back under the threshold; the history holds exactly its ALARM and its return to OK.
#[test]
fn one_alarm_per_matched_series_fires_for_the_one_that_crosses_and_resolves() {
    let names: Vec<String> = (0..10)
        .map(|i| format!("test.servers.s{i:02}.cpu"))
        .collect();
    let live = LiveRules::start(
        &names,
        30.0,
        (PluginLib::Threshold, "Threshold"),
        json!({ "cpu": {
            "expression": "avg(test.servers.*.cpu, 2) > 90",
            "match_by": true, "interval": 1, "severity": "critical" } }),
        json!({ "keep_firing_for": "2 ticks" }),
    );
    // Ten seconds of normal traffic: no alarm.
    std::thread::sleep(Duration::from_secs(6));
    live.assert_quiet();

    live.feeder.set("test.servers.s07.cpu", Some(97.0));
    let firing = live.wait_alarms("s07 firing", |a| !a.is_empty());
    assert_eq!(
        active(&firing),
        vec![("test.servers.s07.cpu".to_owned(), "alarm".to_owned())],
        "{firing}"
    );
    let alarm = &firing["alarms"][0];
    assert_eq!(alarm["severity"], "critical", "{firing}");
    assert!(
        alarm["reason"]
            .as_str()
            .unwrap()
            .starts_with("avg(test.servers.*.cpu, 2) > 90: "),
        "{firing}"
    );
    // It stays the only one while it is high.
    std::thread::sleep(Duration::from_secs(3));
    let still = live.alarms();
    assert_eq!(active(&still), active(&firing), "{still}");

    live.feeder.set("test.servers.s07.cpu", Some(30.0));
    let resolved = live.wait_alarms("s07 resolved", <[_]>::is_empty);
    let h = history(&resolved, "Threshold");
    let changes: Vec<(&str, &str, &str)> = h
        .iter()
        .map(|(m, _, from, to)| (m.as_str(), from.as_str(), to.as_str()))
        .collect();
    assert_eq!(
        changes,
        vec![
            ("test.servers.s07.cpu", "NONE", "ALARM"),
            ("test.servers.s07.cpu", "ALARM", "OK")
        ],
        "{resolved}"
    );
}
