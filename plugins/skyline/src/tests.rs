//! The plugin in `TestHost`: detection and verdicts, skip counts, options, sharding.

use std::collections::BTreeMap;

use am_plugin_api::testing::{TestHost, TestRunner, run_task};

use super::*;

const T0: i64 = 1_700_000_000;
/// The tick: a minute after the newest point of a day of minutes.
const TICK: i64 = T0 + 1440 * 60;

/// A deterministic noisy value in [45, 55].
fn noise(i: i64, seed: i64) -> f64 {
    50.0 + ((i * 37 + seed * 11) % 101) as f64 / 10.0 - 5.0
}

/// A day of noise for `name` ending a minute before the tick; `jump` is added to the last three
/// points.
fn day(host: &mut TestHost, name: &str, seed: i64, jump: f64) {
    for i in 0..1440 {
        let v = noise(i, seed) + if i >= 1437 { jump } else { 0.0 };
        host.add_point(name, T0 + i * 60, v);
    }
}

/// Emitted values by field, for the last run.
fn fields(host: &TestHost) -> BTreeMap<String, f64> {
    host.emitted()
        .iter()
        .map(|e| (e.field.clone(), e.value))
        .collect()
}

#[test]
fn an_anomalous_metric_is_flagged_and_its_verdict_names_the_algorithms() {
    let mut host = TestHost::new();
    day(&mut host, "web01.cpu", 1, 0.0);
    day(&mut host, "web02.cpu", 2, 500.0);
    run_task::<Skyline>("{}", "all", &mut host, TICK).unwrap();
    let out = fields(&host);
    assert_eq!(out.get("web02.cpu.flag"), Some(&1.0), "{out:?}");
    assert_eq!(
        out.get("web01.cpu.flag"),
        None,
        "only anomalous metrics get a flag"
    );
    assert_eq!(out.get("analysed"), Some(&2.0));
    assert_eq!(out.get("anomalous"), Some(&1.0));
    assert_eq!(out.get("skipped_short"), Some(&0.0));
    assert!(out.get("run_time_ms").is_some_and(|t| *t >= 0.0));
    let verdicts = host.verdicts();
    assert_eq!(verdicts.len(), 1, "{verdicts:?}");
    let e = &verdicts[0];
    assert_eq!(
        (e.state.as_str(), e.subject.as_str()),
        ("anomalous", "web02.cpu")
    );
    let (count, names) = e.reason.split_once(" (consensus 6): ").unwrap();
    let fired: Vec<&str> = names.split(", ").collect();
    assert_eq!(count, format!("{} of 9 algorithms fired", fired.len()));
    assert!(fired.len() >= 6, "{}", e.reason);
    assert!(
        fired
            .iter()
            .all(|n| am_skyline::Algorithm::from_name(n).is_some())
    );
    assert!(fired.contains(&"grubbs") && fired.contains(&"stddev_from_average"));
    assert_eq!(e.value("algorithms"), Some(fired.len() as f64));
    assert_eq!(
        e.value("value"),
        host.series("web02.cpu").map(|p| p[1439].value)
    );
    assert_eq!(e.ts, TICK);
}

#[test]
fn flags_all_writes_zero_for_the_quiet_ones() {
    let mut host = TestHost::new();
    day(&mut host, "web01.cpu", 1, 0.0);
    day(&mut host, "web02.cpu", 2, 500.0);
    run_task::<Skyline>(r#"{"flags": "all"}"#, "all", &mut host, TICK).unwrap();
    let out = fields(&host);
    assert_eq!(out.get("web01.cpu.flag"), Some(&0.0));
    assert_eq!(out.get("web02.cpu.flag"), Some(&1.0));
}

#[test]
fn short_stale_and_boring_series_are_counted_not_analysed() {
    let mut host = TestHost::new();
    day(&mut host, "ok", 1, 0.0);
    for i in 0..50 {
        host.add_point("short", TICK - 3000 + i * 60, noise(i, 3));
    }
    for i in 0..1400 {
        // The newest point is 41 minutes before the tick.
        host.add_point("stale", T0 + i * 60, noise(i, 4));
    }
    for i in 0..1440 {
        let v = if i < 1300 { noise(i, 5) } else { 7.0 };
        host.add_point("boring", T0 + i * 60, v);
    }
    // Outside the window entirely: no point in [tick − full_duration, tick].
    host.add_point("ancient", T0 - 100_000, 1.0);
    run_task::<Skyline>("{}", "all", &mut host, TICK).unwrap();
    let out = fields(&host);
    assert_eq!(out.get("analysed"), Some(&1.0), "{out:?}");
    assert_eq!(out.get("skipped_short"), Some(&2.0));
    assert_eq!(out.get("skipped_stale"), Some(&1.0));
    assert_eq!(out.get("skipped_boring"), Some(&1.0));
    assert!(host.verdicts().is_empty());
}

#[test]
fn patterns_select_the_metrics_once_each() {
    let mut host = TestHost::new();
    day(&mut host, "web.a", 1, 500.0);
    day(&mut host, "web.b", 2, 0.0);
    day(&mut host, "db.a", 3, 500.0);
    let opts = r#"{"patterns": ["web.*", "*.a"], "flags": "all"}"#;
    run_task::<Skyline>(opts, "some", &mut host, TICK).unwrap();
    let out = fields(&host);
    assert_eq!(
        out.get("analysed"),
        Some(&3.0),
        "web.a matches both, counted once"
    );
    assert_eq!(host.verdicts().len(), 2);
    let host2 = &mut TestHost::new();
    day(host2, "web.a", 1, 500.0);
    day(host2, "db.a", 3, 500.0);
    run_task::<Skyline>(r#"{"patterns": ["db.*"]}"#, "db", host2, TICK).unwrap();
    let out = fields(host2);
    assert_eq!(out.get("analysed"), Some(&1.0));
    assert_eq!(host2.verdicts()[0].subject, "db.a");
}

#[test]
fn options_are_checked() {
    let mut host = TestHost::new();
    for (bad, named) in [
        (r#"{"consensus": 0}"#, "consensus"),
        (r#"{"consensus": 10}"#, "consensus"),
        (r#"{"full_duration": 0}"#, "full_duration"),
        (r#"{"stale_period": -1}"#, "stale_period"),
        (r#"{"min_points": 0}"#, "min_points"),
        (r#"{"batch_size": 0}"#, "batch_size"),
        (r#"{"patterns": []}"#, "patterns"),
        (r#"{"flags": "some"}"#, "flags"),
        (r#"{"consenus": 5}"#, "consenus"),
    ] {
        let e = run_task::<Skyline>(bad, "s", &mut host, TICK).unwrap_err();
        assert!(e.message().contains(named), "{bad}: {e}");
    }
}

#[test]
fn batches_do_not_change_the_result() {
    let build = || {
        let mut host = TestHost::new();
        for k in 0..7 {
            day(
                &mut host,
                &format!("m{k}"),
                k,
                if k % 3 == 0 { 500.0 } else { 0.0 },
            );
        }
        host
    };
    let mut one = build();
    run_task::<Skyline>(r#"{"flags": "all"}"#, "s", &mut one, TICK).unwrap();
    let mut small = build();
    run_task::<Skyline>(
        r#"{"flags": "all", "batch_size": 2}"#,
        "s",
        &mut small,
        TICK,
    )
    .unwrap();
    let strip = |h: &TestHost| {
        let mut f = fields(h);
        f.remove("run_time_ms");
        f
    };
    assert_eq!(strip(&one), strip(&small));
    assert_eq!(one.verdicts(), small.verdicts());
}

/// Runs the 4 shards of one tick in the given order; returns the metrics each flagged
/// (`flags: "all"`, so every analysed metric) and whether it wrote totals.
fn run_shards(host: &mut TestHost, order: &[u32], tick: i64) -> Vec<(u32, Vec<String>, bool)> {
    let mut out = Vec::new();
    for &shard in order {
        host.clear_outputs();
        host.set_shard(shard, 4);
        let mut runner =
            TestRunner::new::<Skyline>(r#"{"flags": "all", "min_points": 10}"#, "all", host)
                .unwrap();
        runner.run(host, tick).unwrap();
        let flagged: Vec<String> = host
            .emitted()
            .iter()
            .filter_map(|e| e.field.strip_suffix(".flag").map(str::to_owned))
            .collect();
        let wrote_totals = host.emitted().iter().any(|e| e.field == "analysed");
        out.push((shard, flagged, wrote_totals));
    }
    out
}

#[test]
fn four_shards_analyse_every_metric_exactly_once_and_sum_the_totals() {
    let mut host = TestHost::new();
    let mut names: Vec<String> = (0..200).map(|i| format!("system.host{i}.load")).collect();
    for (k, name) in names.iter().enumerate() {
        for i in 0..120 {
            host.add_point(name, TICK - 7200 + i * 60, noise(i, k as i64));
        }
    }
    // One short metric, so the skip counts are summed too.
    host.add_point("system.lonely", TICK - 60, 1.0);

    let runs = run_shards(&mut host, &[2, 0, 3, 1], TICK);
    let mut seen: BTreeMap<String, u32> = BTreeMap::new();
    for (shard, flagged, _) in &runs {
        for name in flagged {
            assert_eq!(
                shard_of(name, 4),
                *shard,
                "{name} analysed by the wrong shard"
            );
            *seen.entry(name.clone()).or_default() += 1;
        }
    }
    names.sort();
    assert_eq!(
        seen.keys().cloned().collect::<Vec<_>>(),
        names,
        "every metric analysed"
    );
    assert!(seen.values().all(|&n| n == 1), "each exactly once");
    assert!(
        runs.iter().all(|(_, f, _)| !f.is_empty()),
        "every shard has work"
    );

    // Only the last shard to finish saw the set complete and wrote the sums.
    let wrote: Vec<bool> = runs.iter().map(|r| r.2).collect();
    assert_eq!(wrote, [false, false, false, true]);
    let out = fields(&host);
    assert_eq!(out.get("analysed"), Some(&200.0), "{out:?}");
    assert_eq!(out.get("skipped_short"), Some(&1.0));
    assert_eq!(out.get("anomalous"), Some(&0.0));

    // The next tick: state from the previous one does not complete it early, and each shard's
    // entry keeps at most 8 ticks.
    for k in 1..=10 {
        let tick = TICK + 60 * k;
        let runs = run_shards(&mut host, &[1, 3, 0, 2], tick);
        let wrote: Vec<bool> = runs.iter().map(|r| r.2).collect();
        assert_eq!(wrote, [false, false, false, true], "tick {k}");
    }
    let entry: Vec<(i64, Totals)> = host
        .state_json("Skyline", "all", &totals::key(0, 4))
        .unwrap()
        .unwrap();
    assert_eq!(entry.len(), 8);
    assert_eq!(entry.last().map(|e| e.0), Some(TICK + 600));
}

#[test]
fn unsharded_tasks_write_totals_without_state() {
    let mut host = TestHost::new();
    day(&mut host, "a", 1, 0.0);
    run_task::<Skyline>("{}", "all", &mut host, TICK).unwrap();
    assert_eq!(fields(&host).get("analysed"), Some(&1.0));
    assert!(host.state("Skyline", "all", &totals::key(0, 1)).is_none());
}
