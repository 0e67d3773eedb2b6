//! End-to-end tests of `am-runner backtest`: history sent through a real am-collector into a
//! real redis-server, replayed by the real binary; and a live run of the real runner over the
//! same data, compared tick for tick.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod rules_support;

use std::time::Duration;

use am_tests::now_unix;
use am_tests::runner::PluginLib;
use am_tests::runner::test_helpers::{daemons, setup, start};
use rules_support::{
    backtest, backtest_cli, collector, history, minute_config, replay_args, replayed, send,
    wait_stored,
};
use serde_json::json;

const DAY: i64 = 86_400;

/// A CPU value every minute from `start` to `end`; 99 during each spike's five minutes.
fn minutes(name: &str, start: i64, end: i64, spikes: &[i64]) -> Vec<(String, f64, i64)> {
    (start..=end)
        .step_by(60)
        .map(|ts| {
            let spiking = spikes.iter().any(|s| (*s..*s + 300).contains(&ts));
            let v = if spiking {
                99.0
            } else {
                40.0 + ((ts / 60) % 7) as f64
            };
            (name.to_owned(), v, ts)
        })
        .collect()
}

/// Proves that a backtest of a minute-schedule Threshold service over two days of minute data
/// lists exactly the three planted spikes as ALARM transitions (at the minute each starts, for
/// the one series that spikes), each followed by its resolution, with the totals to match;
/// that the text report says so for a person; and that `--options` replays another tuning (a
/// threshold above the spikes: no alarm) without touching the configured one.
#[test]
fn two_days_of_minute_data_with_three_spikes_give_exactly_three_alarms() {
    let (redis, carbon) = daemons();
    let collector = collector(&redis);
    let end = now_unix() / 60 * 60 - 60;
    let start_ts = end - 2 * DAY;
    let spikes = [
        start_ts + 6 * 3600,
        start_ts + 20 * 3600 + 600,
        start_ts + 41 * 3600,
    ];
    let mut points = minutes("test.servers.web01.cpu", start_ts, end, &spikes);
    points.extend(minutes("test.servers.web02.cpu", start_ts, end, &[]));
    points.extend(minutes("test.servers.web03.cpu", start_ts, end, &[]));
    send(&collector, &points);
    wait_stored(&collector, "test.servers.*", points.len());

    let (dir, config) = minute_config(
        setup(&redis, &carbon),
        (PluginLib::Threshold, "Threshold"),
        json!({ "cpu": { "expression": "avg(test.servers.*.cpu) > 90", "match_by": true } }),
    );
    let since = (2 * DAY).to_string();
    let until = end.to_string();
    let span = replay_args("Threshold/cpu", &since, Some(&until));
    let report = backtest(&config, dir.path(), &span);
    assert_eq!(report["ticks"], 2 * DAY / 60 + 1, "{report}");
    assert_eq!(report["failed_ticks"], 0, "{report}");
    let alarms: Vec<(String, i64)> = replayed(&report)
        .into_iter()
        .filter(|(_, _, _, to)| to == "ALARM")
        .map(|(m, ts, _, _)| (m, ts))
        .collect();
    let expected: Vec<(String, i64)> = spikes
        .iter()
        .map(|s| ("test.servers.web01.cpu".to_owned(), *s))
        .collect();
    assert_eq!(alarms, expected, "{report}");
    let states: Vec<String> = replayed(&report).into_iter().map(|t| t.3).collect();
    assert_eq!(
        states,
        ["ALARM", "OK", "ALARM", "OK", "ALARM", "OK"],
        "{report}"
    );
    assert_eq!(report["totals"]["alarms"], 3, "{report}");
    assert_eq!(report["totals"]["notifications"], 6, "{report}");
    assert_eq!(report["totals"]["notifications_per_day"], 3.0, "{report}");

    // The same, for a person.
    let text = backtest_cli(&config, dir.path(), &span);
    assert_eq!(text.code(), Some(0), "{}", text.stderr);
    assert!(
        text.stdout
            .contains("Threshold/cpu (plugin Threshold): 2881 ticks every 60 s"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains("\ntest.servers.web01.cpu\n"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout
            .contains("totals: 3 alarms, 6 notifications over 2.00 days (3.0 per day), 1 subjects"),
        "{}",
        text.stdout
    );

    // Another tuning, tried before it goes live: above the spikes, nothing fires.
    let mut tuning = span.clone();
    tuning.extend([
        "--options".to_owned(),
        r#"{"expression": "avg(test.servers.*.cpu) > 99.5", "match_by": true}"#.to_owned(),
    ]);
    let tuned = backtest(&config, dir.path(), &tuning);
    assert_eq!(tuned["transitions"], json!([]), "{tuned}");

    // A bad expression in --options is refused with its column.
    let mut bad_tuning = replay_args("Threshold/cpu", "60", None);
    bad_tuning.extend([
        "--options".to_owned(),
        r#"{"expression": "avg(x > 1"}"#.to_owned(),
    ]);
    let bad = backtest_cli(&config, dir.path(), &bad_tuning);
    assert_eq!(bad.code(), Some(2));
    assert!(
        bad.stderr.contains("at column 7: expected `,` or `)`"),
        "{}",
        bad.stderr
    );
}

/// Proves that a backtest and the live run over the same data make the same transitions, tick
/// for tick: the data (three series, one spiking, one stopping) is in Redis before the runner
/// starts, stamped up to a minute ahead, so the live runner at each tick sees exactly what the
/// backtest's tick sees; the live transitions (`am-runner alarms`) of a Threshold and a
/// Heartbeat service equal the backtest's over the span the runner ran, and the backtest finds
/// nothing before it.
#[test]
fn a_backtest_and_the_live_run_make_the_same_transitions() {
    let (redis, carbon) = daemons();
    let collector = collector(&redis);
    let n = now_unix();
    let mut points = Vec::new();
    for t in n - 10..=n + 50 {
        let a = if (n + 15..n + 20).contains(&t) {
            95.0
        } else {
            50.0
        };
        points.push(("test.eq.a.cpu".to_owned(), a, t));
        points.push(("test.eq.b.cpu".to_owned(), 50.0, t));
        if t <= n + 20 {
            points.push(("test.eq.c.cpu".to_owned(), 50.0, t));
        }
    }
    send(&collector, &points);
    wait_stored(&collector, "test.eq.*", points.len());
    let mut runner = start(
        &setup(&redis, &carbon)
            .every_second(
                PluginLib::Threshold,
                "Threshold",
                json!({ "eq": {
                    "expression": "avg(test.eq.*.cpu, 2) > 90", "match_by": true, "interval": 1 } }),
            )
            .every_second(
                PluginLib::Heartbeat,
                "Heartbeat",
                json!({ "eq": { "patterns": ["test.eq.*"] } }),
            ),
    );
    let t0 = now_unix();
    assert!(t0 < n + 12, "the runner took too long to start: {}", t0 - n);
    let stop_at = n + 40;
    std::thread::sleep(Duration::from_secs(
        u64::try_from(stop_at - now_unix()).unwrap_or(0),
    ));
    runner.terminate(Duration::from_secs(20)).unwrap();
    let t1 = now_unix();
    let (config, dir) = (runner.config_path().to_owned(), runner.dir().to_owned());
    let live = rules_support::alarms(&config, &dir);
    // Ticks every live run certainly covered: from 2 s after the start to 2 s before the stop.
    let (lo, hi) = (t0 + 2, stop_at - 2);
    let since = (hi - (n - 10)).to_string();
    let until = hi.to_string();
    for alg in ["Threshold", "Heartbeat"] {
        let service = format!("{alg}/eq");
        let report = backtest(&config, &dir, &replay_args(&service, &since, Some(&until)));
        let replay = replayed(&report);
        assert!(
            replay.iter().all(|t| t.1 >= lo),
            "{alg}: the backtest found transitions before the live run started ({lo}): {replay:?}"
        );
        let live_alg: Vec<_> = history(&live, alg)
            .into_iter()
            .filter(|t| (lo..=hi).contains(&t.1))
            .collect();
        assert_eq!(
            replay, live_alg,
            "{alg}: backtest vs live (n = {n}, t0 = {t0}, t1 = {t1})\n{live}\n{report}"
        );
        assert!(!replay.is_empty(), "{alg}: nothing happened\n{live}");
    }
    // What happened, for the record: a fired and resolved, c went silent.
    let threshold = history(&live, "Threshold");
    let changes: Vec<(&str, i64, &str)> = threshold
        .iter()
        .map(|(m, ts, _, to)| (m.as_str(), ts - n, to.as_str()))
        .collect();
    assert_eq!(
        changes,
        vec![
            ("test.eq.a.cpu", 16, "ALARM"),
            ("test.eq.a.cpu", 23, "OK"),
            ("test.eq.c.cpu", 24, "UNDETERMINED")
        ],
        "{live}"
    );
    let heartbeat = history(&live, "Heartbeat");
    assert_eq!(
        heartbeat,
        vec![(
            "test.eq.c.cpu".to_owned(),
            n + 24,
            "NONE".to_owned(),
            "ALARM".to_owned()
        )],
        "{live}"
    );
}

/// Proves that the backtest replays any plugin, not only the rules: the `Example` detector
/// (pattern reads, its own state kept between ticks) over an hour of minute data raises its
/// ALARM at the tick whose newest point crosses its threshold, for that series only.
#[test]
fn a_backtest_replays_any_plugin() {
    let (redis, carbon) = daemons();
    let collector = collector(&redis);
    let end = now_unix() / 60 * 60 - 60;
    let crossing = end - 1800;
    let mut points = Vec::new();
    for ts in (end - 3600..=end).step_by(60) {
        points.push((
            "test.any.hot".to_owned(),
            if ts == crossing { 9.5 } else { 1.0 },
            ts,
        ));
        points.push(("test.any.cool".to_owned(), 1.0, ts));
    }
    send(&collector, &points);
    wait_stored(&collector, "test.any.*", points.len());
    let (dir, config) = minute_config(
        setup(&redis, &carbon),
        (PluginLib::Example, "Example"),
        json!({ "any": { "metrics": "test.any.*", "window": 30, "threshold": 5.0 } }),
    );
    let until = end.to_string();
    let report = backtest(
        &config,
        dir.path(),
        &replay_args("Example/any", "3600", Some(&until)),
    );
    assert_eq!(report["failed_ticks"], 0, "{report}");
    let transitions = replayed(&report);
    assert_eq!(
        transitions.first(),
        Some(&(
            "test.any.hot".to_owned(),
            crossing,
            // Example reports every run: the ticks before judged the series ok.
            "OK".to_owned(),
            "ALARM".to_owned()
        )),
        "{report}"
    );
    assert!(
        transitions.iter().all(|t| t.0 == "test.any.hot"),
        "{report}"
    );
}
