//! End-to-end test of the `Heartbeat` plugin: 50 series sent live every second to a real
//! am-collector, stored in a real redis-server, judged every second by a real am-runner;
//! alarms observed with `am-runner alarms --json`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod rules_support;

use std::time::Duration;

use am_tests::runner::PluginLib;
use am_tests::{line, now_unix, send_lines};
use rules_support::{LiveRules, active, history};
use serde_json::json;

/// Proves that of 50 series on a 1 s cadence, when 5 stop, exactly those 5 raise an ALARM, each
/// at the first tick past `tolerance` (3) cadences of silence — within 3 cadences plus one tick
/// of its last point; that a sixth series that sent its shutdown marker before stopping raises
/// none; that no other series does; and that the 5 are OK again once they report again.
#[test]
fn five_stopped_series_of_fifty_alarm_within_tolerance_and_recover() {
    let names: Vec<String> = (0..50).map(|i| format!("test.hb.s{i:02}")).collect();
    let live = LiveRules::start(
        &names,
        1.0,
        (PluginLib::Heartbeat, "Heartbeat"),
        json!({ "hb": { "patterns": ["test.hb.*"], "tolerance": 3, "shutdown_suffix": ".bye" } }),
        json!({ "keep_firing_for": 0 }),
    );
    let feeder = &live.feeder;
    // Let every series show its cadence (3 intervals) with room to spare.
    std::thread::sleep(Duration::from_secs(8));
    live.assert_quiet();

    // s49 stops and says goodbye (its marker stamped with its last point's time).
    feeder.set("test.hb.s49", None);
    std::thread::sleep(Duration::from_millis(1200));
    let bye_at = feeder.last_sent("test.hb.s49").unwrap_or_else(now_unix);
    send_lines(
        live.collector.ports().line,
        &line("test.hb.s49.bye", 1.0, bye_at),
    )
    .unwrap();
    let stopped: Vec<String> = names[..5].to_vec();
    for s in &stopped {
        feeder.set(s, None);
    }

    let firing = live.wait_alarms("5 alarms", |a| a.len() >= 5);
    let expected: Vec<(String, String)> = stopped
        .iter()
        .map(|s| (s.clone(), "alarm".to_owned()))
        .collect();
    assert_eq!(active(&firing), expected, "{firing}");
    for (metric, ts, from, to) in history(&firing, "Heartbeat") {
        assert_eq!((from.as_str(), to.as_str()), ("NONE", "ALARM"), "{metric}");
        let last = feeder.last_sent(&metric).unwrap();
        let late = ts - last;
        assert!(
            (4..=4).contains(&late),
            "{metric}: ALARM at {ts}, {late} s after its last point at {last}: expected the \
             first tick past 3 cadences (3 s), which is 4 s after it\n{firing}"
        );
    }
    // Some seconds more: still exactly those five (s49 retired, the others reporting).
    std::thread::sleep(Duration::from_secs(5));
    let later = live.alarms();
    assert_eq!(active(&later), expected, "{later}");

    for s in &stopped {
        feeder.set(s, Some(1.0));
    }
    let back = live.wait_alarms("all OK again", <[_]>::is_empty);
    let h = history(&back, "Heartbeat");
    assert_eq!(h.len(), 10, "{back}");
    for s in &stopped {
        let states: Vec<&str> = h
            .iter()
            .filter(|(m, ..)| m == s)
            .map(|(_, _, _, to)| to.as_str())
            .collect();
        assert_eq!(states, ["ALARM", "OK"], "{s}: {back}");
    }
}
