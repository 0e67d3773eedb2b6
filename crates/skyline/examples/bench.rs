//! Throughput of [`Analyser::analyse`] on one core: 1-day series at 60 s resolution (1440
//! points), random walks, consensus 6 (Skyline's default), the buffers reused across series as
//! the Skyline plugin does.
//!
//! `cargo run --release -p am-skyline --example bench` prints the machine, the throughput with
//! all nine algorithms forced to run (consensus 1), and, last, `skyline_analyse_per_s VALUE
//! series/s`.

#![allow(clippy::print_stdout)] // A benchmark's output is its report.

use std::hint::black_box;
use std::time::{Duration, Instant};

use am_skyline::{Analyser, Window};

const POINTS: usize = 1440;
const SERIES: usize = 2000;
const T0: i64 = 1_700_000_000;

/// A 64-bit LCG: uniform in [0, 1).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 11) as f64 / 9_007_199_254_740_992.0
    }
}

/// Series per second analysing `series` round-robin for at least `min` wall time.
fn rate(
    analyser: &mut Analyser,
    ts: &[i64],
    series: &[Vec<f64>],
    window: &Window,
    consensus: usize,
    min: Duration,
) -> (f64, usize) {
    let start = Instant::now();
    let (mut done, mut anomalous) = (0usize, 0usize);
    while start.elapsed() < min {
        for v in series {
            let verdict = analyser.analyse(ts, black_box(v), window, consensus);
            anomalous += usize::from(black_box(verdict).anomalous);
        }
        done += series.len();
    }
    (done as f64 / start.elapsed().as_secs_f64(), anomalous)
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{cpu}, {cores} cores available; one thread")
}

fn main() {
    let ts: Vec<i64> = (0..POINTS as i64).map(|i| T0 + i * 60).collect();
    let window = Window {
        now: ts[POINTS - 1] + 30,
        full_duration: 86_400,
    };
    let mut rng = Lcg(42);
    let series: Vec<Vec<f64>> = (0..SERIES)
        .map(|_| {
            let mut v = 1000.0 * rng.next();
            (0..POINTS)
                .map(|_| {
                    v += rng.next() - 0.5;
                    v
                })
                .collect()
        })
        .collect();
    let mut analyser = Analyser::new();
    println!("machine: {}", machine());
    // Warm up (buffers grow, Grubbs' critical value for 1440 points is cached).
    rate(
        &mut analyser,
        &ts,
        &series,
        &window,
        6,
        Duration::from_millis(300),
    );
    let (full, _) = rate(
        &mut analyser,
        &ts,
        &series,
        &window,
        1,
        Duration::from_secs(2),
    );
    println!(
        "skyline_analyse_all_nine_per_s {full:.0} series/s ({:.1} µs per series)",
        1e6 / full
    );
    let (per_s, anomalous) = rate(
        &mut analyser,
        &ts,
        &series,
        &window,
        6,
        Duration::from_secs(3),
    );
    println!(
        "random walks judged anomalous at consensus 6: {anomalous} ({:.2} %); {:.1} µs per series",
        100.0 * anomalous as f64 / (per_s * 3.0),
        1e6 / per_s
    );
    println!("skyline_analyse_per_s {per_s:.0} series/s");
}
