//! Bench: 100,000 series under `avg(servers.*.cpu, 120) > 90` with `match_by`, evaluated per
//! tick through the plugin's ABI against the in-memory test host (the plugin's own cost: find,
//! grouping, reads through the ABI, judgement, verdicts, state; not Redis's).
//!
//! ```sh
//! cargo run --release -p am-plugin-threshold --example threshold_bench [SERIES] [TICKS]
//! ```
//!
//! Each series has a point every 10 s; 1 % of them average above 90. Every tick adds the
//! next point of every series and runs the plugin; it prints each tick's time and the median,
//! then the time of the plugin's own work alone (selecting and grouping the names, judging
//! every alarm: `groups::select` and `Threshold::judge` on series already in memory), which
//! is what the plugin adds to the store's reads in the runner.

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use am_plugin_api::testing::{TestHost, TestRunner};
use am_plugin_api::{Point, Series};
use am_plugin_kit::testing::{bench_args, median, peak_rss_mb};
use am_plugin_threshold::groups::{Read, select};
use am_plugin_threshold::held::Held;
use am_plugin_threshold::{MatchBy, Options, SeverityWord, Threshold, compile};

fn value(i: usize, ts: i64) -> f64 {
    let base = if i % 100 == 7 { 95.0 } else { 40.0 };
    base + ((ts / 10 + i as i64) % 7) as f64 * 0.5
}

fn main() {
    let (n, ticks) = bench_args(100_000, 7);
    let names: Vec<String> = (0..n).map(|i| format!("servers.s{i:06}.cpu")).collect();
    let mut host = TestHost::new();
    let start = 1_700_000_000i64;
    for (i, name) in names.iter().enumerate() {
        for ts in (start - 600..=start).step_by(10) {
            host.add_point(name, ts, value(i, ts));
        }
    }
    let options = r#"{"expression": "avg(servers.*.cpu, 120) > 90", "match_by": true}"#;
    let mut runner = TestRunner::new::<Threshold>(options, "cpu", &mut host).unwrap();
    let mut times = Vec::new();
    for k in 0..ticks {
        let tick = start + 10 * k as i64;
        if k > 0 {
            for (i, name) in names.iter().enumerate() {
                host.add_point(name, tick, value(i, tick));
            }
        }
        host.clear_outputs();
        let t = Instant::now();
        runner.run(&mut host, tick).unwrap();
        let ms = t.elapsed().as_secs_f64() * 1e3;
        let alarms = host.verdicts().len();
        println!("tick {k}: {ms:.1} ms, {alarms} alarms of {n} series");
        assert_eq!(alarms, (0..n).filter(|i| i % 100 == 7).count(), "1 % alarm");
        times.push(ms);
    }
    let through_host = median(times);

    // The plugin's own work on series already read.
    let t = compile(&Options {
        expression: "avg(servers.*.cpu, 120) > 90".into(),
        match_by: MatchBy::Wildcards(true),
        severity: SeverityWord::Warning,
        interval: 60,
        delay: 0,
    })
    .unwrap();
    let tick = start + 10 * (ticks as i64 - 1);
    let series: Vec<Series> = names
        .iter()
        .enumerate()
        .map(|(i, name)| Series {
            name: name.clone(),
            points: (tick - 230..=tick)
                .step_by(10)
                .map(|ts| Point {
                    ts,
                    value: value(i, ts),
                })
                .collect(),
        })
        .collect();
    let mut own = Vec::new();
    for _ in 0..ticks {
        let series = series.clone();
        let found = names.clone();
        let t0 = Instant::now();
        let (_, keys) = select(t.grouping(), &t.sources()[0], found, (0, 1));
        let reads = [Read { series, keys }];
        let mut held = Held::new();
        let (alarms, outcomes) = t.judge(&reads, tick, &mut held);
        own.push(t0.elapsed().as_secs_f64() * 1e3);
        assert_eq!(alarms, n);
        assert_eq!(outcomes.len(), (0..n).filter(|i| i % 100 == 7).count());
    }
    println!(
        "threshold_own_ms {:.1} (median of {ticks}: select, group and judge {n} series)",
        median(own)
    );
    println!(
        "threshold_tick_ms {through_host:.1} (median of {ticks} ticks through the test host, {n} series, 24 points read each; peak RSS {:.0} MB)",
        peak_rss_mb()
    );
}
