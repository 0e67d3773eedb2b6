//! Throughput of a robust periodic STL on one day of 1-minute points aggregated to 10 minutes
//! (1440 points, period 144): prints `stl_decompositions_per_s N`.
//!
//! Run with `cargo run --release -p am-stl --example stl_bench`.

#![allow(clippy::print_stdout)] // Printing the figure is the point of this example.

use am_stl::{StlError, StlParams, decompose};
use std::f64::consts::TAU;
use std::hint::black_box;
use std::time::{Duration, Instant};

const POINTS: usize = 1440;
const PERIOD: usize = 144;
/// Measure for at least this long so the figure is stable.
const MEASURE: Duration = Duration::from_secs(2);

/// A series with a level, a slope, a daily cycle, deterministic noise and a few spikes.
fn series() -> Vec<f64> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..POINTS)
        .map(|i| {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let noise = (x >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
            let cycle = (TAU * (i % PERIOD) as f64 / PERIOD as f64).sin();
            let spike = if i % 397 == 0 { 80.0 } else { 0.0 };
            200.0 + 0.02 * i as f64 + 25.0 * cycle + 4.0 * noise + spike
        })
        .collect()
}

fn main() -> Result<(), StlError> {
    let data = series();
    let params = StlParams::periodic(PERIOD, true);
    // Warm up caches and the allocator.
    for _ in 0..10 {
        black_box(decompose(black_box(&data), &params)?);
    }
    let start = Instant::now();
    let mut runs = 0u64;
    while start.elapsed() < MEASURE {
        black_box(decompose(black_box(&data), &params)?);
        runs += 1;
    }
    let per_s = runs as f64 / start.elapsed().as_secs_f64();
    println!("stl_decompositions_per_s {per_s:.0}");
    Ok(())
}
