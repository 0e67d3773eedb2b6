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
//!    log-distances: `z = (x − mean) / max(sd, 0.1)`, and the surprise is `z / (z + 4)` for
//!    z > 0, else 0. A file's own noise floor thus sets its scale: noisy and quiet series get
//!    comparable scores, so one global threshold fits all. The past distances are kept in
//!    the units of the values and divided by *today's* range when judged, so a range that
//!    grew since (as it does in every young series) does not make them look large. The
//!    first `settle` (300) distances, computed while the history was short and every window
//!    looked new, never enter the baseline. Consecutive distances share all but one point,
//!    so b of them are worth about b / 8: the spread is widened by `sqrt(1 + 8 / b)`.
//! 4. **Beyond the range.** After `extreme_after` (300) points, a value beyond the range
//!    seen so far by more than `extreme` (10 %) of it has a surprise of at least 0.5 and is
//!    a candidate even in a quiet period: a spike or new level is news even when its window
//!    has little past to be compared with, or follows another alert. In the quiet period of
//!    an earlier such value it must double the range: a climb alerts once.
//! 5. **Detection.** A point whose surprise reaches `threshold` (0.42, i.e. z ≥ 2.9), outside
//!    the first `warmup` points and the `quiet` points after a detection, is a *candidate*. Its
//!    confidence is the surprise minus `rate_penalty` (0.03) per detection in the last
//!    `rate_window` (4000) points: a series that keeps surprising the model (heavy-tailed
//!    noise) has to surprise it more and more to alert again, while the first alert after a
//!    calm spell keeps its full score. A candidate whose confidence reaches `min_score` (0.25) is
//!    a detection: `anomaly_score` is that confidence, `flag` 1, an `anomalous` verdict, and the
//!    next `quiet` (200) points are not candidates (one alert per incident; NAB rewards the
//!    first detection of a window and charges every later one that falls outside it). Every
//!    other point scores 0, so `anomaly_score` is 0 or a detection's confidence — one global
//!    threshold over many series compares detections, not noise.
//!
//! A flat history has distance 0 everywhere, so the first change after it is maximally novel.
//! Non-finite values are skipped.
//!
//! # Outputs (`<prefix>.Novelty.<service>.<field>`)
//!
//! | field | meaning |
//! |---|---|
//! | `anomaly_score` | in [0, 1): a detection's confidence (≥ `min_score`), else 0 |
//! | `flag` | 1 at a detection, else 0 |
//! | `raw_score` | the surprise, whatever the warm-up, quiet periods and rate penalty |
//! | `distance` | nearest-neighbour distance in units of the value range |
//!
//! When a tick brings several new points, each is learned in order and the fields of the most
//! anomalous one are written and judged: one verdict per tick on the metric ([`judge`]). A
//! tick with no new point writes and judges nothing (the alarm layer makes a metric left
//! unjudged undetermined).
//!
//! # Options
//!
//! | option | default | meaning |
//! |---|---|---|
//! | `metric` | required | the metric, by exact name |
//! | `window` | 8 | elements in the feature window |
//! | `stride` | 1 | points averaged per element |
//! | `history` | 4000 | past points searched for neighbours |
//! | `neighbours` | 3 | nearest windows averaged |
//! | `score_history` | 1000 | past log-distances the newest is judged against |
//! | `warmup` | 150 | points learned before any score |
//! | `quiet` | 200 | points after a detection that cannot be candidates |
//! | `threshold` | 0.42 | surprise that makes a candidate |
//! | `rate_window` | 4000 | points over which earlier detections are counted |
//! | `rate_penalty` | 0.03 | confidence taken off per detection in `rate_window` |
//! | `min_score` | 0.25 | confidence a candidate needs to be a detection (`flag`) |
//! | `settle` | 300 | first distances kept out of the baseline |
//! | `caution` | 0 | spread × `sqrt(1 + caution / m)`, m the distances computed (v10: 300) |
//! | `extreme` | 0.1 | a value beyond the range by this share of it is a candidate, even when quiet (0: off) |
//! | `extreme_after` | 300 | points seen before `extreme` applies |
//! | `backfill` | 604800 | first run only: seconds of history to learn from |
//!
//! `{"metric": "x"}` is the shipped (tuned) configuration.
//!
//! # Cost and state
//!
//! Per point O(`history · window`) multiply-adds (≈ 32 000 with the defaults) plus
//! O(`score_history`) (and as many logarithms at a point that widens the range); memory and
//! state are fixed: `history + 2 · window · stride` values, `score_history` distances and
//! `stride` raw values as `f32`, a few counters and the
//! times of the detections of the last `rate_window` points (at most
//! `rate_window / (quiet + 1) + 1`) — 20.3 kB with the defaults, whatever the length of the
//! series (the instance also keeps the distances' logarithms, 8 kB more, derived). The state
//! (key `model`, a little-endian blob, [`codec`]) is written at every tick;
//! the instance keeps a decoded copy and reloads the blob only when the 16-byte `stamp` key
//! shows that another instance moved on. A blob written with other sizes is discarded (the
//! model starts afresh). Points older than the newest learned one are ignored.
//!
//! # NAB v1.1 (35 of the 58 files; see `research/detection.md`)
//!
//! | profile | score | threshold | windows found / 55 | FP rows |
//! |---|---|---|---|---|
//! | standard | 68.0 | 0.2669 | 46 | 107 |
//! | reward low FP | 57.4 | 0.2669 | 46 | 107 |
//! | reward low FN | 73.8 | 0.2507 | 47 | 125 |
//!
//! With the threshold chosen on the other categories (`research/nab-loco`): 66.6. The same
//! files cut to 1500–2500 rows with the anomaly 350–700 rows in (`research/nab-segments`):
//! 75.4 / 60.8 / 61.3; cut to NAB-like short files (`--random A,B,C,D`): 53.2. The 35-file
//! replay (181 653 rows) takes 1.5 s on 2 cores. From the
//! workspace root:
//!
//! ```sh
//! cargo build --release -p am-runner -p am-plugin-novelty
//! target/release/am-runner replay --plugin target/release/libam_plugin_novelty.so \
//!     --options '{"metric": "x"}' --nab ../shared/nab/data --out /tmp/nabres --detector novelty
//! python3 ../shared/tools/nab_score.py --data ../shared/nab/data \
//!     --windows ../shared/nab/combined_windows.json --results /tmp/nabres --detector novelty
//! ```

use am_nab_detectors::SeriesModel;
use am_nab_detectors::novelty::{Model, Output, Params};
use am_plugin_api::{BaseTask, Context, Init, PluginError, Severity, Verdict};
use am_plugin_kit::held::{STAMP, check_series, stamp};
use am_plugin_kit::{check, check_within};

pub mod codec;

am_plugin_kit::series_options! {
    /// The options of one service. Every option but `metric` defaults to the tuned value, so
    /// `{"metric": "x"}` is the shipped configuration.
    pub struct Options(p = Params::default()) {
        /// Elements in the feature window (the newest `window · stride` points). Default 8.
        pub window: usize,
        /// Points averaged into each element of the window (1: the raw points). Default 1.
        pub stride: usize,
        /// Past points (so past windows) the newest window is compared with. Default 4000.
        pub history: usize,
        /// Nearest past windows averaged into the distance. Default 3.
        pub neighbours: usize,
        /// Past distances the newest distance is judged against. Default 1000.
        pub score_history: usize,
        /// Points learned before any non-zero score. Default 150.
        pub warmup: usize,
        /// Points after a detection during which the score is held at 0. Default 200.
        pub quiet: usize,
        /// Surprise at or above which a point is a candidate detection. Default 0.4.
        pub threshold: f64,
        /// Points over which earlier detections count against a new candidate. Default 4000.
        pub rate_window: usize,
        /// Score taken off a candidate per detection in the last `rate_window` points.
        /// Default 0.03.
        pub rate_penalty: f64,
        /// Score (after the rate penalty) at or above which a candidate is a detection.
        /// Default 0.25.
        pub min_score: f64,
        /// Distances computed at the start of a series (while its history is short, so every
        /// window looks new) that are kept out of the baseline. Default 300.
        pub settle: usize,
        /// Caution while the series is young: the baseline's spread is widened by
        /// `sqrt(1 + caution / m)`, m the distances computed so far. Default 0 (off; it was 300
        /// in v10, before the baseline was re-expressed in the current range).
        pub caution: f64,
        /// A value beyond the range seen so far by more than this share of the range is a
        /// candidate, with a surprise of at least 0.5, whatever its window's distance and even
        /// in a quiet period (in the quiet period of an earlier such value, only if it doubles
        /// the range). 0 turns it off. Default 0.1.
        pub extreme: f64,
        /// Points seen before `extreme` applies: the range of a shorter past is not yet the
        /// series' range. Default 300.
        pub extreme_after: usize,
    }
}

impl Options {
    /// Checks the options, naming the first one out of its range; the model's parameters.
    pub fn params(&self) -> Result<Params, PluginError> {
        let o = self;
        check_series(&o.metric, o.backfill)?;
        let points = |range, name, value| check_within(name, range, " points", value);
        points(2..=256, "window", o.window)?;
        points(1..=64, "stride", o.stride)?;
        points(10..=100_000, "history", o.history)?;
        let ok = o.history >= 2 * o.window * o.stride;
        check(
            ok,
            "history",
            "at least 2 · window · stride points",
            o.history,
        )?;
        check_within("neighbours", 1..=16, "", o.neighbours)?;
        points(10..=100_000, "score_history", o.score_history)?;
        points(0..=100_000, "rate_window", o.rate_window)?;
        points(0..=100_000, "settle", o.settle)?;
        points(0..=100_000_000, "extreme_after", o.extreme_after)?;
        let share = |ok: bool, name, rule, value: f64| check(ok, name, rule, value);
        share(
            o.threshold > 0.0 && o.threshold < 1.0,
            "threshold",
            "in (0, 1)",
            o.threshold,
        )?;
        let ok = o.rate_penalty >= 0.0 && o.rate_penalty < 1.0;
        share(ok, "rate_penalty", "in [0, 1)", o.rate_penalty)?;
        share(
            o.min_score > 0.0 && o.min_score < 1.0,
            "min_score",
            "in (0, 1)",
            o.min_score,
        )?;
        let ok = o.caution >= 0.0 && o.caution <= 1e6;
        share(ok, "caution", "between 0 and 1000000", o.caution)?;
        let ok = o.extreme >= 0.0 && o.extreme <= 1e6;
        share(ok, "extreme", "between 0 (off) and 1000000", o.extreme)?;
        Ok(Params {
            window: o.window,
            stride: o.stride,
            history: o.history,
            neighbours: o.neighbours,
            score_history: o.score_history,
            warmup: o.warmup,
            quiet: o.quiet,
            threshold: o.threshold,
            rate_window: o.rate_window,
            rate_penalty: o.rate_penalty,
            min_score: o.min_score,
            settle: o.settle,
            caution: o.caution,
            extreme: o.extreme,
            extreme_after: o.extreme_after,
        })
    }
}

/// State key of the model blob ([`codec`]).
pub const MODEL: &str = "model";

/// The `Novelty` detector. The model lives in the state; the instance keeps a copy to avoid
/// decoding it at every tick, checked against the state's stamp.
#[derive(Debug)]
pub struct Novelty {
    options: Options,
    params: Params,
    cache: Option<(Model, i64)>,
}

impl Novelty {
    /// The model and newest learned time from the cache or the state; `None`: start afresh.
    fn load(&mut self, ctx: &Context<'_>) -> Result<Option<(Model, i64)>, PluginError> {
        let stored = ctx.state_get(STAMP)?;
        if let (Some(s), Some((m, t))) = (&stored, self.cache.take())
            && s.as_slice() == stamp(t, m.n)
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
        let params = options.params()?;
        init.debug(format!("watching `{}`", options.metric));
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
        let mut best: Option<(Output, f64)> = None;
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
        ctx.state_set(STAMP, &stamp(last_ts, model.n))?;
        self.cache = Some((model, last_ts));
        let Some((out, value)) = best else {
            return Ok(());
        };
        ctx.emit("anomaly_score", out.score)?;
        ctx.emit("flag", out.flag)?;
        ctx.emit("raw_score", out.raw_score)?;
        ctx.emit("distance", out.distance)?;
        ctx.verdict(judge(
            &self.options.metric,
            &out,
            value,
            self.options.threshold,
        ))?;
        Ok(())
    }
}

/// The verdict on one tick's most anomalous point: `anomalous` at a detection (`flag` 1),
/// else `ok`. The one place where Novelty judges; the alarm layer turns the verdicts of
/// successive ticks into alarms.
pub fn judge(metric: &str, out: &Output, value: f64, threshold: f64) -> Verdict {
    let verdict = if out.flag > 0.0 {
        let what = if out.extreme {
            "beyond the range seen so far"
        } else {
            "novel"
        };
        Verdict::anomalous(metric)
            .severity(Severity::Warning)
            .reason(format!(
                "value {value} is {what}: confidence {:.3} (surprise {:.3}, threshold {threshold})",
                out.score, out.raw_score
            ))
    } else {
        Verdict::ok(metric).reason(format!(
            "value {value} is not novel enough: surprise {:.3} (threshold {threshold})",
            out.raw_score
        ))
    };
    verdict
        .value("value", value)
        .value("anomaly_score", out.score)
        .value("raw_score", out.raw_score)
}

am_plugin_api::export_plugin!(Novelty);

#[cfg(test)]
mod tests;
