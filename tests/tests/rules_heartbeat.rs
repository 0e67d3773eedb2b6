//! End-to-end test of the `Heartbeat` plugin: 50 series sent live every second to a real
//! am-collector, stored in a real redis-server, judged every second by a real am-runner;
//! alarms observed with `am-runner alarms --json`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod rules_support;

use std::time::Duration;

use am_tests::runner::PluginLib;
use am_tests::runner::test_helpers::{daemons, setup, start};
use am_tests::{line, now_unix, send_lines};
use rules_support::{Feeder, active, collector, history, wait_alarms};
use serde_json::json;

/// Proves that of 50 series on a 1 s cadence, when 5 stop, exactly those 5 raise an ALARM, each
/// at the first tick past `tolerance` (3) cadences of silence — within 3 cadences plus one tick
/// of its last point; that a sixth series that sent its shutdown marker before stopping raises
/// none; that no other series does; and that the 5 are OK again once they report again.
#[test]
fn five_stopped_series_of_fifty_alarm_within_tolerance_and_recover() {
    let (redis, carbon) = daemons();
    let collector = collector(&redis);
    let names: Vec<String> = (0..50).map(|i| format!("test.hb.s{i:02}")).collect();
    let feeder = Feeder::start(collector.ports().line, &names, 1.0);
    let runner = start(
        &setup(&redis, &carbon).plugin(PluginLib::Heartbeat).service(
            "Heartbeat",
            json!({
                "scheduler_options": { "cron": "* * * * * *" },
                "worker_options": { "hb": {
                    "patterns": ["test.hb.*"], "tolerance": 3,
                    "shutdown_suffix": ".bye" } },
                "alarm": { "keep_firing_for": 0 }
            }),
        ),
    );
    let (config, dir) = (runner.config_path().to_owned(), runner.dir().to_owned());
    // Let every series show its cadence (3 intervals) with room to spare.
    std::thread::sleep(Duration::from_secs(8));
    assert!(
        active(&rules_support::alarms(&config, &dir)).is_empty(),
        "{}",
        runner.logs()
    );

    // s49 stops and says goodbye (its marker stamped with its last point's time).
    feeder.set("test.hb.s49", None);
    std::thread::sleep(Duration::from_millis(1200));
    let bye_at = feeder.last_sent("test.hb.s49").unwrap_or_else(now_unix);
    send_lines(
        collector.ports().line,
        &line("test.hb.s49.bye", 1.0, bye_at),
    )
    .unwrap();
    let stopped: Vec<String> = names[..5].to_vec();
    for s in &stopped {
        feeder.set(s, None);
    }

    let firing = wait_alarms(&config, &dir, "5 alarms", Duration::from_secs(30), |a| {
        a.len() >= 5
    });
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
    let later = rules_support::alarms(&config, &dir);
    assert_eq!(active(&later), expected, "{later}");

    for s in &stopped {
        feeder.set(s, Some(1.0));
    }
    let back = wait_alarms(
        &config,
        &dir,
        "all OK again",
        Duration::from_secs(30),
        |a| a.is_empty(),
    );
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
    drop(feeder);
}
