//! End-to-end test of the `Skyline` plugin as shipped, sharded over the distributed runner:
//! `am-runner --role all` (scheduler and a worker of plugin processes in one process) runs a
//! Skyline service split into 3 tasks per tick, reading one-day series the store crate wrote
//! into a real redis-server, writing flags and totals into a real carbon-cache and its events
//! to a webhook.
//!
//! The test starts its own daemons on free ports and stops them by PID through the guards;
//! every wait is bounded.

// Helpers of a test crate are test code too (clippy.toml allows these in #[test] functions
// only): a failing unwrap or panic is a failing test with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use am_tests::now_unix;
use am_tests::runner::test_helpers::{WAIT, daemons, setup, start, wait_points, write};
use am_tests::runner::{PluginLib, WebhookServer, plugin_state, wait_whisper};
use serde_json::{Value, json};

/// Metrics with ordinary data, analysed every tick; the one at [`ANOMALOUS`] ends in a jump.
const ELIGIBLE: usize = 30;
/// The index of the anomalous metric.
const ANOMALOUS: usize = 17;
/// Shards (tasks per tick).
const SHARDS: u32 = 3;
/// Skyline's nine algorithm names.
const ALGORITHMS: [&str; 9] = [
    "median_absolute_deviation",
    "grubbs",
    "first_hour_average",
    "stddev_from_average",
    "stddev_from_moving_average",
    "mean_subtraction_cumulation",
    "least_squares",
    "histogram_bins",
    "ks_test",
];

fn name(i: usize) -> String {
    format!("test.sky.m{i:02}")
}

/// A one-day series at 60 s ending at `newest`: a level, a daily wave and noise from a
/// per-metric LCG; with `jump`, the last three values are ten times the level.
fn series(i: usize, newest: i64, jump: bool) -> Vec<(i64, f64)> {
    let mut state = 0x9e37_79b9_7f4a_7c15_u64 ^ (i as u64 + 1);
    let mut uniform = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 11) as f64 / 9_007_199_254_740_992.0
    };
    let level = 100.0 + 10.0 * i as f64;
    (0..1440)
        .map(|k| {
            let ts = newest - (1439 - k) * 60;
            let wave = (std::f64::consts::TAU * k as f64 / 1440.0).sin();
            let mut v = level + 0.1 * level * wave + 0.02 * level * (uniform() - 0.5);
            if jump && k >= 1437 {
                v = 10.0 * level;
            }
            (ts, v)
        })
        .collect()
}

fn number(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

/// 30 one-day metrics (one ending in a jump) plus one too short, two boring (constant) and one
/// stale, judged by `Skyline` with 3 shards under `--role all`, every 5 seconds: the anomalous
/// metric's flag (1) reaches whisper, its event reaches the webhook naming the algorithms that
/// fired (at least the consensus of 6, all among Skyline's nine), no other metric is flagged,
/// and each tick's totals count every metric exactly once across the shards: `analysed` 30,
/// `anomalous` 1, one short, one stale, two boring; each of the 3 shards recorded its part
/// of the tick in the plugin state, and the parts add up to the totals.
#[test]
fn sharded_skyline_flags_the_anomaly_and_counts_every_metric_once() {
    let (redis, carbon) = daemons();
    let hook = WebhookServer::start().unwrap();
    let now = now_unix();
    let newest = now - now.rem_euclid(60);
    let mut all: Vec<(String, Vec<(i64, f64)>)> = (0..ELIGIBLE)
        .map(|i| (name(i), series(i, newest, i == ANOMALOUS)))
        .collect();
    let short: Vec<(i64, f64)> = series(90, newest, false).split_off(1400);
    all.push(("test.sky.short".into(), short));
    for b in ["test.sky.boring1", "test.sky.boring2"] {
        let flat = series(91, newest, false)
            .iter()
            .map(|&(t, _)| (t, 42.0))
            .collect();
        all.push((b.into(), flat));
    }
    // Its newest point is an hour old: stale (the default stale period is 500 s). Its first
    // hour is dropped so that every point lies within the one-day ttl: the oldest would
    // otherwise fall in an expired chunk whenever it is in the last hour of its 4-hour chunk
    // (a quarter of the day), and the write would be refused.
    let stale: Vec<(i64, f64)> = series(92, newest - 3600, false).split_off(60);
    all.push(("test.sky.stale".into(), stale));
    let refs: Vec<(&str, &[(i64, f64)])> = all
        .iter()
        .map(|(n, p)| (n.as_str(), p.as_slice()))
        .collect();
    write(&redis, &refs);

    let runner = start(
        &setup(&redis, &carbon)
            .plugin(PluginLib::Skyline)
            .set("queue", json!({ "processes": 2, "time_limit": 30 }))
            .set(
                "event_outputs",
                json!([{ "Webhook": { "url": hook.url("/hook") } }]),
            )
            .service(
                "Skyline",
                json!({
                    "scheduler_options": { "interval_secs": 5, "shards": SHARDS },
                    "worker_options": { "all": { "patterns": ["test.sky.*"] } }
                }),
            )
            .arg("--role")
            .arg("all"),
    );

    // Two ticks' totals: every metric counted exactly once per tick, across the shards.
    let totals = |field: &str| {
        wait_points(
            &carbon,
            &runner,
            &format!("AnnaMolly.Skyline.all.{field}"),
            2,
        )
    };
    let analysed = totals("analysed");
    let ticks: Vec<i64> = analysed.iter().map(|p| p.0).collect();
    for (field, want) in [
        ("analysed", ELIGIBLE as f64),
        ("anomalous", 1.0),
        ("skipped_short", 1.0),
        ("skipped_stale", 1.0),
        ("skipped_boring", 2.0),
    ] {
        let points = totals(field);
        for (ts, v) in points.iter().filter(|(ts, _)| ticks.contains(ts)) {
            assert_eq!(*v, want, "{field} at {ts}: {points:?}\n{}", runner.logs());
        }
    }
    let run_time = totals("run_time_ms");
    assert!(
        run_time.iter().all(|(_, ms)| *ms >= 0.0 && *ms < 30_000.0),
        "{run_time:?}"
    );

    // Each shard's own part of a tick, from the plugin state: all three ran, and their
    // parts add up to the totals.
    let tick = ticks[0];
    let mut parts = 0.0;
    for shard in 0..SHARDS {
        let key = format!("totals:{shard}/{SHARDS}");
        let entry = plugin_state(&redis, "Skyline", "all", &key)
            .unwrap()
            .unwrap_or_else(|| panic!("no state {key}\n{}", runner.logs()));
        let entry: Value = serde_json::from_slice(&entry).unwrap();
        let part = entry
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e[0].as_i64() == Some(tick))
            .unwrap_or_else(|| panic!("{key} has no tick {tick}: {entry}"));
        let n = number(&part[1]["analysed"]);
        assert!(n > 0.0, "shard {shard} analysed nothing: {entry}");
        parts += n + number(&part[1]["skipped_short"]);
        parts += number(&part[1]["skipped_stale"]) + number(&part[1]["skipped_boring"]);
    }
    assert_eq!(parts, all.len() as f64, "the shards' parts of tick {tick}");

    // The anomalous metric's flag, and no other.
    let flag = format!("AnnaMolly.Skyline.all.{}.flag", name(ANOMALOUS));
    let flags = wait_whisper(&carbon, &flag, "a flag", WAIT, |p| !p.is_empty())
        .unwrap_or_else(|e| panic!("{e:#}\n{}", runner.logs()));
    assert!(flags.iter().all(|(_, v)| *v == 1.0), "{flags:?}");
    for i in (0..ELIGIBLE).filter(|&i| i != ANOMALOUS) {
        let other = carbon
            .whisper_file(&format!("AnnaMolly.Skyline.all.{}.flag", name(i)))
            .unwrap();
        assert!(!other.exists(), "{} was flagged", name(i));
    }

    // Its alarm notification, naming the algorithms that fired.
    let requests = hook
        .wait_requests(1, WAIT)
        .unwrap_or_else(|e| panic!("{e:#}\n{}", runner.logs()));
    let event: Value = serde_json::from_str(&requests[0].body).unwrap();
    assert_eq!(event["plugin"], "Skyline", "{event}");
    assert_eq!(event["service"], "all", "{event}");
    // Its first verdict raises the alarm (nothing before it: no previous state).
    assert_eq!(event["state"], "alarm", "{event}");
    assert_eq!(event["previous_state"], Value::Null, "{event}");
    assert_eq!(event["metric"], name(ANOMALOUS), "{event}");
    // "N of 9 algorithms fired (consensus 6): a, b, ..."
    let reason = event["reason"].as_str().unwrap();
    let (count, names) = reason
        .split_once(" algorithms fired (consensus 6): ")
        .unwrap_or_else(|| panic!("not Skyline's reason: {event}"));
    let fired: Vec<&str> = names.split(", ").collect();
    assert_eq!(count, format!("{} of 9", fired.len()), "{event}");
    assert!(fired.len() >= 6, "fewer than the consensus fired: {event}");
    assert!(
        fired.iter().all(|a| ALGORITHMS.contains(a)),
        "not Skyline's algorithm names: {event}"
    );
    assert_eq!(number(&event["values"]["algorithms"]), fired.len() as f64);
    assert_eq!(
        number(&event["values"]["value"]),
        10.0 * (100.0 + 10.0 * ANOMALOUS as f64)
    );
    assert!(
        hook.requests()
            .iter()
            .all(|r| r.body.contains(&name(ANOMALOUS))),
        "an event for another metric: {:?}",
        hook.requests()
    );
}
