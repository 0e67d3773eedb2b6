//! Throughput of `am_skyline::Analyser::analyse` on one core: 1-day series at 60 s resolution
//! (1440 points), random walks, consensus 6 (Skyline's default), the buffers reused across
//! series as the Skyline plugin does.
//!
//! `cargo run --release -p am-bench --bin skyline_analyse` prints the machine, the throughput
//! with all nine algorithms forced to run (consensus 1), and, last, `skyline_analyse_per_s
//! VALUE series/s`.

#![allow(clippy::print_stdout)] // A benchmark's output is its report.

use std::hint::black_box;
use std::time::{Duration, Instant};

use am_bench::{Lcg, machine};
use am_skyline::{Analyser, Window};

const POINTS: usize = 1440;
const SERIES: usize = 2000;
const T0: i64 = 1_700_000_000;

/// The series analysed round-robin, on one time axis.
struct Load {
    ts: Vec<i64>,
    series: Vec<Vec<f64>>,
    window: Window,
}

impl Load {
    /// [`SERIES`] random walks of [`POINTS`] points a minute apart, judged half a minute
    /// after the newest.
    fn new() -> Self {
        let ts: Vec<i64> = (0..POINTS as i64).map(|i| T0 + i * 60).collect();
        let window = Window {
            now: ts[POINTS - 1] + 30,
            full_duration: 86_400,
        };
        let mut rng = Lcg(42);
        let series = (0..SERIES)
            .map(|_| {
                let mut v = 1000.0 * rng.uniform();
                (0..POINTS)
                    .map(|_| {
                        v += rng.uniform() - 0.5;
                        v
                    })
                    .collect()
            })
            .collect();
        Load { ts, series, window }
    }

    /// Series per second analysing the series round-robin for at least `min` wall time, and
    /// how many of them were judged anomalous.
    fn rate(&self, analyser: &mut Analyser, consensus: usize, min: Duration) -> (f64, usize) {
        let start = Instant::now();
        let (mut done, mut anomalous) = (0usize, 0usize);
        while start.elapsed() < min {
            for v in &self.series {
                let verdict = analyser.analyse(&self.ts, black_box(v), &self.window, consensus);
                anomalous += usize::from(black_box(verdict).anomalous);
            }
            done += self.series.len();
        }
        (done as f64 / start.elapsed().as_secs_f64(), anomalous)
    }
}

fn main() {
    let load = Load::new();
    let mut analyser = Analyser::new();
    println!("machine: {}; one thread", machine());
    // Warm up (buffers grow, Grubbs' critical value for 1440 points is cached).
    load.rate(&mut analyser, 6, Duration::from_millis(300));
    let (full, _) = load.rate(&mut analyser, 1, Duration::from_secs(2));
    println!(
        "skyline_analyse_all_nine_per_s {full:.0} series/s ({:.1} µs per series)",
        1e6 / full
    );
    let (per_s, anomalous) = load.rate(&mut analyser, 6, Duration::from_secs(3));
    println!(
        "random walks judged anomalous at consensus 6: {anomalous} ({:.2} %); {:.1} µs per series",
        100.0 * anomalous as f64 / (per_s * 3.0),
        1e6 / per_s
    );
    println!("skyline_analyse_per_s {per_s:.0} series/s");
}
