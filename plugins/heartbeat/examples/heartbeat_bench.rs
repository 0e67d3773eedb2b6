//! Bench: 100,000 series tracked per tick, through the plugin's ABI against the in-memory test
//! host: every tick reads the new points of every series, updates its cadence, judges it and
//! writes the state back (the test host's reads and state included; not Redis).
//!
//! ```sh
//! cargo run --release -p am-plugin-heartbeat --example heartbeat_bench [SERIES] [TICKS]
//! ```
//!
//! Each series reports every 10 s and the plugin ticks every 10 s; after the warm-up, 1 % of
//! the series stop. It prints each tick's time, the state's size, the overdue count, and the
//! peak memory; then the plugin's own work alone on the tracked state (judging every series
//! and encoding the state), without the reads.

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use am_plugin_api::testing::{TestHost, TestRunner};
use am_plugin_heartbeat::Heartbeat;
use am_plugin_heartbeat::codec::{decode, encode};
use am_plugin_heartbeat::track::{Rules, judge};
use am_plugin_kit::testing::{bench_args, median, peak_rss_mb};

fn main() {
    let (n, ticks) = bench_args(100_000, 12);
    let names: Vec<String> = (0..n).map(|i| format!("apps.a{i:06}.heartbeat")).collect();
    let mut host = TestHost::new();
    let options = r#"{"patterns": ["apps.*.heartbeat"]}"#;
    let mut runner = TestRunner::new::<Heartbeat>(options, "apps", &mut host).unwrap();
    let start = 1_700_000_000i64;
    let warm = 5;
    let mut times = Vec::new();
    for k in 0..warm + ticks {
        let tick = start + 10 * k as i64;
        for (i, name) in names.iter().enumerate() {
            let stopped = k >= warm && i % 100 == 3;
            if !stopped {
                host.add_point(name, tick - (i % 10) as i64, 1.0);
            }
        }
        host.clear_outputs();
        let t = Instant::now();
        runner.run(&mut host, tick).unwrap();
        let ms = t.elapsed().as_secs_f64() * 1e3;
        let state = host
            .state("Heartbeat", "apps", "series")
            .map_or(0, <[u8]>::len);
        let overdue = host.verdicts().len();
        println!(
            "tick {k}: {ms:.1} ms, {overdue} overdue, state {:.2} MB ({:.1} bytes/series)",
            state as f64 / 1e6,
            state as f64 / n as f64
        );
        if k >= warm {
            times.push(ms);
        }
    }
    let expected = (0..n).filter(|i| i % 100 == 3).count();
    let last = host.verdicts().len();
    assert_eq!(last, expected, "the stopped 1 % are overdue");
    let (tick, tracked) = decode(host.state("Heartbeat", "apps", "series").unwrap()).unwrap();
    let rules = Rules {
        tolerance: 3.0,
        learn: 3,
        forget_after: 86_400,
    };
    let mut own = Vec::new();
    for _ in 0..ticks {
        let mut series = tracked.clone();
        let t = Instant::now();
        let j = judge(&mut series, tick + 10, &rules);
        let bytes = encode(&series, tick + 10);
        own.push(t.elapsed().as_secs_f64() * 1e3);
        assert_eq!((j.tracked, bytes.is_empty()), (n, false));
    }
    println!(
        "heartbeat_own_ms {:.1} (median of {ticks}: judge {n} series and encode the state)",
        median(own)
    );
    println!(
        "heartbeat_tick_ms {:.1} (median of {ticks} ticks, {n} series tracked, {last} overdue; peak RSS {:.0} MB)",
        median(times),
        peak_rss_mb()
    );
}
