//! `Novelty`: a streaming anomaly detector for one metric — how far is the newest stretch of
//! the series from everything it has seen recently, compared with how far it usually is?
//!
//! # Algorithm (per point, tick by tick, no look-ahead)
//!
//! 1. **Feature window.** The newest `window` elements (each the mean of `stride` points; with
//!    the default `stride` 1, the newest 8 raw values).
//! 2. **Nearest neighbours.** The root-mean-square distance of that window to its `neighbours`
//!    nearest earlier windows among the last `history` points (windows overlapping the newest
//!    one are excluded), divided by the value range seen so far (`max − min`): a scale-free
//!    distance, 0 for a pattern seen before, large for a new level, shape or spike.
//! 3. **Surprise.** `ln(distance + 0.001)` is compared with the last `score_history` such
//!    log-distances: `z = (x − mean) / max(sd, 0.1)`, and `anomaly_score = z / (z + 4)` for
//!    z > 0, else 0. A file's own noise floor thus sets its scale: noisy and quiet series get
//!    comparable scores, so one global threshold fits all.
//! 4. **Detection.** `anomaly_score ≥ threshold` (0.4, i.e. z ≥ 2.67) is a detection: `flag` 1
//!    and an `anomalous` event. Then the score is held at 0 for `quiet` points (one alert per
//!    incident; NAB rewards the first detection of a window and charges every later one that
//!    falls outside it), and during the first `warmup` points (learning).
//!
//! A flat history has distance 0 everywhere, so the first change after it is maximally novel.
//! Non-finite values are skipped.
//!
//! # Outputs (`<prefix>.Novelty.<service>.<field>`)
//!
//! | field | meaning |
//! |---|---|
//! | `anomaly_score` | in [0, 1): the surprise, 0 during warm-up and quiet periods |
//! | `flag` | 1 at a detection (score ≥ `threshold`, default 0.4), else 0 |
//! | `raw_score` | the surprise before warm-up and quiet periods |
//! | `distance` | nearest-neighbour distance in units of the value range |
//!
//! When a tick brings several new points, each is learned in order and the fields of the most
//! anomalous one are written. A tick with no new point writes nothing.
//!
//! # Options
//!
//! | option | default | meaning |
//! |---|---|---|
//! | `metric` | required | the metric, by exact name |
//! | `window` | 8 | elements in the feature window |
//! | `stride` | 1 | points averaged per element |
//! | `history` | 3000 | past points searched for neighbours |
//! | `neighbours` | 3 | nearest windows averaged |
//! | `score_history` | 1000 | past log-distances the newest is judged against |
//! | `warmup` | 150 | points learned before any score |
//! | `quiet` | 200 | points held at 0 after a detection |
//! | `threshold` | 0.4 | detection threshold (`flag`) |
//! | `backfill` | 604800 | first run only: seconds of history to learn from |
//!
//! `{"metric": "x"}` is the shipped (tuned) configuration.
//!
//! # Cost and state
//!
//! Per point O(`history · window`) multiply-adds (≈ 24 000 with the defaults, with early
//! abandoning) plus O(`score_history`); memory and state are fixed: `history + 2 · window ·
//! stride` values, `score_history` log-distances and `stride` raw values as `f32`, plus a few
//! counters — 16 kB with the defaults, whatever the length of the series. The state (key
//! `model`, a little-endian blob, [`codec`]) is written at every tick; the instance keeps a
//! decoded copy and reloads the blob only when the 16-byte `stamp` key shows that another
//! instance moved on. A blob written with other sizes is discarded (the model starts afresh).
//! Points older than the newest learned one are ignored.
//!
//! # NAB v1.1 (35 of the 58 files; see `docs/detection.md`)
//!
//! | profile | score | threshold | windows found / 55 | FP rows |
//! |---|---|---|---|---|
//! | standard | 63.1 | 0.4006 | 45 | 133 |
//! | reward low FP | 50.1 | 0.4006 | 45 | 133 |
//! | reward low FN | 69.3 | 0.4006 | 45 | 133 |
//!
//! At the documented fixed threshold 0.4: 63.0 / 49.9 / 69.3. The 35-file replay (181 653
//! rows) takes 1.7 s on 2 cores. From the workspace root:
//!
//! ```sh
//! cargo build --release -p am-runner -p am-plugin-novelty
//! target/release/am-runner replay --plugin target/release/libam_plugin_novelty.so \
//!     --options '{"metric": "x"}' --nab ../shared/nab/data --out /tmp/nabres --detector novelty
//! python3 ../shared/tools/nab_score.py --data ../shared/nab/data \
//!     --windows ../shared/nab/combined_windows.json --results /tmp/nabres --detector novelty
//! ```

use am_plugin_api::{BaseTask, Context, Event, Init, PluginError, Severity};
use serde::Deserialize;

pub mod codec;
pub mod model;

pub use model::{Model, Params, nearest_distance, surprise};

/// The options of one service. Every option but `metric` defaults to the tuned value, so
/// `{"metric": "x"}` is the shipped configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// The metric to watch, by its exact name. Required.
    pub metric: String,
    /// Elements in the feature window (the newest `window · stride` points). Default 8.
    #[serde(default = "d_window")]
    pub window: usize,
    /// Points averaged into each element of the window (1: the raw points). Default 1.
    #[serde(default = "d_stride")]
    pub stride: usize,
    /// Past points (so past windows) the newest window is compared with. Default 3000.
    #[serde(default = "d_history")]
    pub history: usize,
    /// Nearest past windows averaged into the distance. Default 3.
    #[serde(default = "d_neighbours")]
    pub neighbours: usize,
    /// Past distances the newest distance is judged against. Default 1000.
    #[serde(default = "d_score_history")]
    pub score_history: usize,
    /// Points learned before any non-zero score. Default 150.
    #[serde(default = "d_warmup")]
    pub warmup: usize,
    /// Points after a detection during which the score is held at 0. Default 200.
    #[serde(default = "d_quiet")]
    pub quiet: usize,
    /// `anomaly_score` at or above which a point is a detection (`flag` 1). Default 0.4.
    #[serde(default = "d_threshold")]
    pub threshold: f64,
    /// On the first run (no state), how far back to learn from, in seconds. Default 604800.
    #[serde(default = "d_backfill")]
    pub backfill: i64,
}

fn d_window() -> usize {
    8
}
fn d_stride() -> usize {
    1
}
fn d_history() -> usize {
    3000
}
fn d_neighbours() -> usize {
    3
}
fn d_score_history() -> usize {
    1000
}
fn d_warmup() -> usize {
    150
}
fn d_quiet() -> usize {
    200
}
fn d_threshold() -> f64 {
    0.4
}
fn d_backfill() -> i64 {
    7 * 86400
}

impl Options {
    /// The model's parameters.
    pub fn params(&self) -> Params {
        Params {
            window: self.window,
            stride: self.stride,
            history: self.history,
            neighbours: self.neighbours,
            score_history: self.score_history,
            warmup: self.warmup,
            quiet: self.quiet,
            threshold: self.threshold,
        }
    }
}

/// State key of the model blob ([`codec`]).
pub const MODEL: &str = "model";
/// State key of the 16-byte stamp (newest time, points seen) that tells whether a cached
/// model is still the one in the state.
pub const STAMP: &str = "stamp";

/// The `Novelty` detector. The model lives in the state; the instance keeps a copy to avoid
/// decoding it at every tick, checked against the state's stamp.
#[derive(Debug)]
pub struct Novelty {
    options: Options,
    params: Params,
    cache: Option<(Model, i64)>,
}

fn stamp(model: &Model, last_ts: i64) -> [u8; 16] {
    let mut s = [0u8; 16];
    s[..8].copy_from_slice(&last_ts.to_le_bytes());
    s[8..].copy_from_slice(&model.n.to_le_bytes());
    s
}

impl Novelty {
    /// The model and newest learned time from the cache or the state; `None`: start afresh.
    fn load(&mut self, ctx: &Context<'_>) -> Result<Option<(Model, i64)>, PluginError> {
        let stored = ctx.state_get(STAMP)?;
        if let (Some(s), Some((m, t))) = (&stored, self.cache.take())
            && s.as_slice() == stamp(&m, t)
        {
            return Ok(Some((m, t)));
        }
        if stored.is_none() {
            return Ok(None);
        }
        let Some(bytes) = ctx.state_get(MODEL)? else {
            return Ok(None);
        };
        let decoded = codec::decode(&bytes, &self.params);
        if decoded.is_none() {
            ctx.warn(
                "the stored model was written with other options or is damaged; starting afresh",
            );
        }
        Ok(decoded)
    }
}

impl BaseTask for Novelty {
    type Options = Options;
    const NAME: &'static str = "Novelty";

    fn new(options: Options, init: &Init<'_>) -> Result<Self, PluginError> {
        let bad = |name: &str, why: &str| Err(PluginError::options(format!("`{name}` {why}")));
        if options.metric.trim().is_empty() {
            return bad("metric", "must not be empty");
        }
        if !(2..=256).contains(&options.window) {
            return bad("window", "must be between 2 and 256 points");
        }
        if !(10..=100_000).contains(&options.history) {
            return bad("history", "must be between 10 and 100000 points");
        }
        if options.history < 2 * options.window * options.stride {
            return bad("history", "must be at least 2 · window · stride points");
        }
        if !(1..=64).contains(&options.stride) {
            return bad("stride", "must be between 1 and 64 points");
        }
        if !(1..=16).contains(&options.neighbours) {
            return bad("neighbours", "must be between 1 and 16");
        }
        if !(10..=100_000).contains(&options.score_history) {
            return bad("score_history", "must be between 10 and 100000 points");
        }
        if !(options.threshold > 0.0 && options.threshold < 1.0) {
            return bad("threshold", "must be in (0, 1)");
        }
        if options.backfill < 0 {
            return bad("backfill", "must be a non-negative number of seconds");
        }
        init.debug(format!("watching `{}`", options.metric));
        let params = options.params();
        Ok(Novelty {
            options,
            params,
            cache: None,
        })
    }

    fn run(&mut self, ctx: &mut Context<'_>) -> Result<(), PluginError> {
        let now = ctx.tick();
        let loaded = self.load(ctx)?;
        let from = match &loaded {
            Some((_, t)) => t.saturating_add(1),
            None => now.saturating_sub(self.options.backfill),
        };
        let (mut model, mut last_ts) =
            loaded.unwrap_or_else(|| (Model::new(&self.params), i64::MIN));
        let points = ctx.read(&self.options.metric, from, now)?;
        if points.is_empty() {
            self.cache = Some((model, last_ts));
            return Ok(());
        }
        let mut best: Option<(model::Output, f64)> = None;
        for p in &points {
            last_ts = p.ts;
            let Some(out) = model.update(&self.params, p.value) else {
                continue;
            };
            if best.is_none_or(|(b, _)| out.score > b.score || out.flag > b.flag) {
                best = Some((out, p.value));
            }
        }
        ctx.state_set(MODEL, &codec::encode(&model, &self.params, last_ts))?;
        ctx.state_set(STAMP, &stamp(&model, last_ts))?;
        self.cache = Some((model, last_ts));
        let Some((out, value)) = best else {
            return Ok(());
        };
        ctx.emit("anomaly_score", out.score)?;
        ctx.emit("flag", out.flag)?;
        ctx.emit("raw_score", out.raw_score)?;
        ctx.emit("distance", out.distance)?;
        if out.flag > 0.0 {
            ctx.event(
                Event::anomalous(&self.options.metric)
                    .severity(Severity::Warning)
                    .reason(format!(
                        "value {value} is novel: anomaly score {:.3} (threshold {})",
                        out.score, self.options.threshold
                    ))
                    .value("value", value)
                    .value("anomaly_score", out.score),
            )?;
        }
        Ok(())
    }
}

am_plugin_api::export_plugin!(Novelty);

#[cfg(test)]
mod tests;
