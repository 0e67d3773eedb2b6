//! Per-tick cost of each detector for many series on one core: every series gets one new
//! point per tick, as in production with one tick per metric interval.
//!
//!   cargo run --release -p am-plugin-ensemble --example tick_bench -- [SERIES] [MODELS] [WARMUP] [ONLY]
//!
//! ONLY: one of novelty, artime, context_ose, ensemble (default: all).
//!
//! MODELS distinct models (default 500) are warmed up on distinct NAB-like series (a daily
//! cycle of 288 points, noise, a random walk, rare spikes) for WARMUP points (default 5000,
//! past Novelty's 4000-point history and every probationary period), then SERIES (default
//! 10000) series are served per tick, series `i` by model `i mod MODELS` (holding 10 000
//! warmed models would take ~10 GB for ContextOSE; the cycling keeps the per-point work
//! the same, with 500 models' state — tens of MB — out of cache as 10 000 would be). Prints
//! the median of 9 ticks per detector (wall clock, and the time on the CPU: on a shared
//! machine the wall clock also counts other processes), and the models' state sizes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]
use am_nab_detectors::ensemble::{self, Ensemble};
use am_nab_detectors::{SeriesModel, artime, context_ose, novelty};
use am_plugin_kit::testing::median;
use std::time::Instant;

struct Gen {
    x: u64,
    walk: f64,
    i: usize,
    amp: f64,
}

impl Gen {
    fn new(seed: u64) -> Self {
        Gen {
            x: seed.wrapping_mul(0x9E3779B97F4A7C15) | 1,
            walk: 0.0,
            i: 0,
            amp: 5.0 + (seed % 50) as f64,
        }
    }
    fn uniform(&mut self) -> f64 {
        self.x ^= self.x << 13;
        self.x ^= self.x >> 7;
        self.x ^= self.x << 17;
        (self.x >> 11) as f64 / (1u64 << 53) as f64
    }
    fn next(&mut self) -> f64 {
        self.i += 1;
        self.walk += (self.uniform() - 0.5) * 0.2;
        let day = (self.i % 288) as f64 / 288.0 * std::f64::consts::TAU;
        let spike = if self.uniform() < 0.001 {
            5.0 * self.amp
        } else {
            0.0
        };
        100.0 + self.amp * day.sin() + self.walk + (self.uniform() - 0.5) * self.amp * 0.3 + spike
    }
}

/// Seconds this thread has run on a CPU (Linux's schedstat), if readable: on a shared
/// machine, wall-clock time also counts the time other processes held the core.
fn cpu_seconds() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: f64 = text.split_whitespace().next()?.parse().ok()?;
    Some(ns / 1e9)
}

/// The median of 9 ticks: (wall-clock seconds, CPU seconds or NaN).
fn time_ticks(series: usize, models: usize, mut step: impl FnMut(usize, f64)) -> (f64, f64) {
    let mut gens: Vec<Gen> = (0..series).map(|i| Gen::new(1000 + i as u64)).collect();
    let mut times = Vec::new();
    let mut cpu = Vec::new();
    for _ in 0..9 {
        let values: Vec<f64> = gens.iter_mut().map(Gen::next).collect();
        let c = cpu_seconds();
        let t = Instant::now();
        for (i, v) in values.iter().enumerate() {
            step(i % models, *v);
        }
        times.push(t.elapsed().as_secs_f64());
        cpu.push(cpu_seconds().zip(c).map_or(f64::NAN, |(b, a)| b - a));
    }
    (median(times), median(cpu))
}

/// How a tick's cost is printed.
fn show(name: &str, (wall, cpu): (f64, f64)) -> String {
    format!("{name:<12} {wall:.3} s per tick ({cpu:.3} s on the CPU)")
}

/// `models` models, each warmed up on its own series of `warmup` points.
fn warmed<M: SeriesModel>(p: &M::Params, models: usize, warmup: usize) -> Vec<M> {
    (0..models)
        .map(|k| {
            let mut g = Gen::new(k as u64 + 1);
            let mut m = M::new(p);
            for _ in 0..warmup {
                std::hint::black_box(m.update(p, g.next()));
            }
            m
        })
        .collect()
}

/// The median tick of the `warm` models serving `series` series in turn.
fn tick<M: SeriesModel>(p: &M::Params, warm: &mut [M], series: usize) -> (f64, f64) {
    let models = warm.len();
    time_ticks(series, models, |i, v| {
        std::hint::black_box(warm[i].update(p, v));
    })
}

fn main() {
    let only = std::env::args().nth(4).unwrap_or_default();
    let run = |name: &str| only.is_empty() || only == name;
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .take(3)
        .map(|a| a.parse().unwrap())
        .collect();
    let series = args.first().copied().unwrap_or(10_000);
    let models = args.get(1).copied().unwrap_or(500);
    let warmup = args.get(2).copied().unwrap_or(5000);
    let p = ensemble::Params::default();
    println!(
        "{series} series per tick, {models} distinct models warmed on {warmup} points, 1 core"
    );
    if run("novelty") {
        let mut nov = warmed::<novelty::Model>(&p.novelty, models, warmup);
        let s = tick(&p.novelty, &mut nov, series);
        println!("{}", show("novelty", s));
    }
    if run("artime") {
        let mut art = warmed::<artime::Artime>(&p.artime, models, warmup);
        let cats: usize = art.iter().map(|m| m.art.categories()).sum();
        let s = tick(&p.artime, &mut art, series);
        println!(
            "{} (mean {:.0} categories, {:.1} kB of weights per series)",
            show("artime", s),
            cats as f64 / models as f64,
            cats as f64 / models as f64 * 32.0 * 8.0 / 1000.0
        );
    }
    if run("context_ose") {
        let mut cad = warmed::<context_ose::Series>(&p.cad, models, warmup);
        let ctx: usize = cad.iter().map(context_ose::Series::contexts).sum();
        let bytes: usize = cad.iter().map(context_ose::Series::bytes).sum();
        let s = tick(&p.cad, &mut cad, series);
        println!(
            "{} (mean {:.0} contexts, {:.0} kB per series: {:.0} bytes a context)",
            show("context_ose", s),
            ctx as f64 / models as f64,
            bytes as f64 / models as f64 / 1000.0,
            bytes as f64 / ctx.max(1) as f64
        );
    }
    if run("ensemble") {
        let mut ens = warmed::<Ensemble>(&p, models, warmup);
        let s = tick(&p, &mut ens, series);
        println!("{}", show("ensemble", s));
    }
}
