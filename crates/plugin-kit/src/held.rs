//! The model of one metric held in the plugin instance (ARTime, ContextOSE, the Ensemble):
//! it stays in memory between ticks, and the plugin state holds only a 16-byte stamp (the
//! newest time learned, the points learned). An instance whose model the stamp does not
//! name (after a restart, or when another runner moved the series on) or that holds none
//! rebuilds it from the last `backfill` seconds of the metric. Novelty, which keeps its
//! model in the state, uses the same stamp to know whether its decoded copy is current.
//!
//! The options these plugins share are checked here too, so that they mean and say the
//! same everywhere.

use am_nab_detectors::SeriesModel;
use am_plugin_api::{BaseTask, Context, Init, PluginError, Severity, Verdict};
use serde::de::DeserializeOwned;

use crate::{check, check_within};

/// State key of the stamp.
pub const STAMP: &str = "stamp";

/// The stamp of a model that has learned `learned` points, the newest at `last_ts`
/// (little-endian, 8 bytes each).
pub fn stamp(last_ts: i64, learned: u64) -> [u8; 16] {
    let mut s = [0u8; 16];
    s[..8].copy_from_slice(&last_ts.to_le_bytes());
    s[8..].copy_from_slice(&learned.to_le_bytes());
    s
}

/// A model of one series held in the plugin instance, checked against the state's stamp.
#[derive(Debug)]
pub struct HeldModel<M> {
    held: Option<Held<M>>,
}

#[derive(Debug)]
struct Held<M> {
    model: M,
    /// The newest time learned.
    last_ts: i64,
    /// Points learned.
    learned: u64,
}

impl<M> Held<M> {
    fn stamp(&self) -> [u8; 16] {
        stamp(self.last_ts, self.learned)
    }
}

impl<M> Default for HeldModel<M> {
    fn default() -> Self {
        HeldModel { held: None }
    }
}

impl<M: SeriesModel> HeldModel<M> {
    /// Learns the points of `metric` that are new since the last tick, in order, and writes
    /// the new stamp. The model held is used when the state's stamp names it; else a fresh
    /// one learns the last `backfill` seconds. Points that are not finite, or not newer than
    /// the newest learned, are skipped. Returns the output and value of the highest-scoring
    /// new point (the first on a tie); `None` when there is no new point.
    pub fn learn(
        &mut self,
        ctx: &Context<'_>,
        metric: &str,
        backfill: i64,
        p: &M::Params,
    ) -> Result<Option<(M::Output, f64)>, PluginError> {
        let now = ctx.tick();
        let stored = ctx.state_get(STAMP)?;
        let cached = self
            .held
            .take()
            .filter(|h| stored.as_deref().is_some_and(|s| s == h.stamp().as_slice()));
        if cached.is_none() && stored.is_some() {
            ctx.info("no model for the stored stamp (restart or another runner): rebuilding from the backfill");
        }
        let from = match &cached {
            Some(h) => h.last_ts.saturating_add(1),
            None => now.saturating_sub(backfill),
        };
        let mut h = cached.unwrap_or_else(|| Held {
            model: M::new(p),
            last_ts: i64::MIN,
            learned: 0,
        });
        let mut best: Option<(M::Output, f64)> = None;
        for point in ctx.read(metric, from, now)? {
            if !point.value.is_finite() || point.ts <= h.last_ts {
                continue;
            }
            h.last_ts = point.ts;
            h.learned += 1;
            let out = h.model.update(p, point.value);
            if best
                .as_ref()
                .is_none_or(|(b, _)| M::score(&out) > M::score(b))
            {
                best = Some((out, point.value));
            }
        }
        if best.is_some() {
            ctx.state_set(STAMP, &h.stamp())?;
        }
        self.held = Some(h);
        Ok(best)
    }

    /// The model held, if any.
    pub fn model(&self) -> Option<&M> {
        self.held.as_ref().map(|h| &h.model)
    }
}

/// What a held-model detector watches, from its options: the metric, how far back a new
/// model learns from and the `anomaly_score` that flags a detection.
#[derive(Debug, Clone, PartialEq)]
pub struct Watch {
    /// The metric, by exact name.
    pub metric: String,
    /// On the first run (or a lost model), how far back to learn from, in seconds.
    pub backfill: i64,
    /// `anomaly_score` at or above which a point is a detection.
    pub threshold: f64,
}

impl Watch {
    /// What `metric` is watched with.
    pub fn new(metric: &str, backfill: i64, threshold: f64) -> Self {
        Watch {
            metric: metric.to_owned(),
            backfill,
            threshold,
        }
    }
}

/// What a held-model detector (ARTime, ContextOSE, the Ensemble) adds to the plugin glue
/// they share, [`HeldTask`]: its options, its model, its extra outputs and its verdict.
pub trait HeldDetector: Send + 'static {
    /// The plugin's name ([`BaseTask::NAME`]).
    const NAME: &'static str;
    /// The options of one service.
    type Options: DeserializeOwned;
    /// The model of the series, held in the instance.
    type Model: SeriesModel<Params: Send + std::fmt::Debug> + Send + std::fmt::Debug;

    /// Checks the options: what is watched, and the model's parameters.
    fn setup(
        options: &Self::Options,
    ) -> Result<(Watch, <Self::Model as SeriesModel>::Params), PluginError>;

    /// Writes the tick's fields besides `anomaly_score` and `flag`, for the output `out` of
    /// its best point (`model`: the model held after learning it).
    fn emit(
        ctx: &Context<'_>,
        model: Option<&Self::Model>,
        out: &<Self::Model as SeriesModel>::Output,
    ) -> Result<(), PluginError>;

    /// The verdict on the tick's best point, of value `value` and output `out`.
    fn judge(
        metric: &str,
        out: &<Self::Model as SeriesModel>::Output,
        value: f64,
        threshold: f64,
    ) -> Verdict;
}

/// A held-model detector as a plugin: per tick, its model learns the new points
/// ([`HeldModel::learn`]); the best one's `anomaly_score` and `flag` ([`emit_score`]), the
/// detector's own fields and its verdict are written. A tick without a new point writes and
/// judges nothing.
#[derive(Debug)]
pub struct HeldTask<D: HeldDetector> {
    watch: Watch,
    params: <D::Model as SeriesModel>::Params,
    model: HeldModel<D::Model>,
}

impl<D: HeldDetector> BaseTask for HeldTask<D> {
    type Options = D::Options;
    const NAME: &'static str = D::NAME;

    fn new(options: D::Options, init: &Init<'_>) -> Result<Self, PluginError> {
        let (watch, params) = D::setup(&options)?;
        init.debug(format!("watching `{}`", watch.metric));
        Ok(HeldTask {
            watch,
            params,
            model: HeldModel::default(),
        })
    }

    fn run(&mut self, ctx: &mut Context<'_>) -> Result<(), PluginError> {
        let w = &self.watch;
        let best = self.model.learn(ctx, &w.metric, w.backfill, &self.params)?;
        let Some((out, value)) = best else {
            return Ok(());
        };
        emit_score(ctx, D::Model::score(&out), w.threshold)?;
        D::emit(ctx, self.model.model(), &out)?;
        ctx.verdict(D::judge(&w.metric, &out, value, w.threshold))
    }
}

/// Writes `anomaly_score` and `flag` (1 when `score ≥ threshold`, else 0); whether flagged.
pub fn emit_score(ctx: &Context<'_>, score: f64, threshold: f64) -> Result<bool, PluginError> {
    let flag = score >= threshold;
    ctx.emit("anomaly_score", score)?;
    ctx.emit("flag", if flag { 1.0 } else { 0.0 })?;
    Ok(flag)
}

/// The verdict on a tick's highest-scoring point: `anomalous` (a warning) when `score ≥
/// threshold`, saying `why`, else `ok`, saying `why_not`; each followed by the score and the
/// threshold. The alarm layer turns the verdicts of successive ticks into alarms.
pub fn score_verdict(
    metric: &str,
    value: f64,
    score: f64,
    threshold: f64,
    why: &str,
    why_not: &str,
) -> Verdict {
    let verdict = if score >= threshold {
        Verdict::anomalous(metric)
            .severity(Severity::Warning)
            .reason(format!("{why}: score {score:.3} (threshold {threshold})"))
    } else {
        Verdict::ok(metric).reason(format!(
            "{why_not}: score {score:.3} (threshold {threshold})"
        ))
    };
    verdict.value("value", value).value("anomaly_score", score)
}

/// Checks `metric` (not empty) and `backfill` (seconds, not negative).
pub fn check_series(metric: &str, backfill: i64) -> Result<(), PluginError> {
    check(
        !metric.trim().is_empty(),
        "metric",
        "the name of the metric to watch",
        format!("{metric:?}"),
    )?;
    check(
        backfill >= 0,
        "backfill",
        "a number of seconds ≥ 0",
        backfill,
    )
}

/// Checks how ARTime and ContextOSE learn a series (so the Ensemble too): `probation` (16
/// to 1 000 000 points), `input_min` and `input_max` (both or neither; finite, min ≤ max)
/// and `margin` (0 to 100). Returns the range, when given.
pub fn check_learning(
    probation: usize,
    input_min: Option<f64>,
    input_max: Option<f64>,
    margin: f64,
) -> Result<Option<(f64, f64)>, PluginError> {
    check_within("probation", 16..=1_000_000, " points", probation)?;
    let range = match (input_min, input_max) {
        (Some(lo), Some(hi)) if !(lo.is_finite() && hi.is_finite() && lo <= hi) => {
            return Err(PluginError::options(format!(
                "`input_min` and `input_max` must be finite, min ≤ max, got {lo} and {hi}"
            )));
        }
        (Some(_), None) | (None, Some(_)) => {
            return Err(PluginError::options(
                "`input_min` and `input_max` go together: give both or neither",
            ));
        }
        (lo, hi) => lo.zip(hi),
    };
    let ok = (0.0..=100.0).contains(&margin);
    check(ok, "margin", "between 0 and 100", margin)?;
    Ok(range)
}

/// Checks `threshold`, a score: in (0, 1].
pub fn check_threshold(threshold: f64) -> Result<(), PluginError> {
    let ok = threshold > 0.0 && threshold <= 1.0;
    check(ok, "threshold", "in (0, 1]", threshold)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused<T: std::fmt::Debug>(r: Result<T, PluginError>) -> String {
        r.unwrap_err().message().to_owned()
    }

    #[test]
    fn the_shared_options_are_checked_naming_the_option() {
        assert!(refused(check_series("", 0)).starts_with("`metric` must be"));
        assert!(refused(check_series(" ", 0)).starts_with("`metric` must be"));
        assert!(refused(check_series("x", -1)).starts_with("`backfill` must be"));
        assert!(check_series("x", 0).is_ok());
        let learning = |p, lo, hi, margin| refused(check_learning(p, lo, hi, margin));
        assert!(learning(3, None, None, 0.3).starts_with("`probation` must be"));
        assert!(learning(750, Some(1.0), None, 0.3).contains("go together"));
        assert!(learning(750, None, Some(1.0), 0.3).contains("go together"));
        assert!(learning(750, Some(2.0), Some(1.0), 0.3).contains("min ≤ max"));
        assert!(learning(750, Some(f64::NAN), Some(1.0), 0.3).contains("finite"));
        assert!(learning(750, None, None, -0.1).starts_with("`margin` must be"));
        assert_eq!(check_learning(750, None, None, 0.3).unwrap(), None);
        let known = check_learning(16, Some(-1.0), Some(1.0), 0.0).unwrap();
        assert_eq!(known, Some((-1.0, 1.0)));
        for t in [0.0, -0.5, 1.01, f64::NAN] {
            assert!(refused(check_threshold(t)).starts_with("`threshold` must be"));
        }
        assert!(check_threshold(1.0).is_ok());
    }

    /// Counts the points it learned; scores each by its value.
    #[derive(Debug)]
    struct Count(u64);

    impl SeriesModel for Count {
        type Params = ();
        type Output = f64;
        fn new(_: &()) -> Self {
            Count(0)
        }
        fn update(&mut self, _: &(), value: f64) -> f64 {
            self.0 += 1;
            value
        }
        fn score(out: &f64) -> f64 {
            *out
        }
    }

    #[derive(serde::Deserialize)]
    struct NoOptions {}

    /// Writes the best new value and the points its model learned.
    #[derive(Debug)]
    struct Task(HeldModel<Count>);

    impl am_plugin_api::BaseTask for Task {
        type Options = NoOptions;
        const NAME: &'static str = "Held";
        fn new(_: Self::Options, _: &am_plugin_api::Init<'_>) -> Result<Self, PluginError> {
            Ok(Task(HeldModel::default()))
        }
        fn run(&mut self, ctx: &mut Context<'_>) -> Result<(), PluginError> {
            if let Some((best, _)) = self.0.learn(ctx, "m", 1000, &())? {
                ctx.emit("best", best)?;
            }
            ctx.emit("learned", self.0.model().map_or(0.0, |m| m.0 as f64))
        }
    }

    #[test]
    fn the_model_is_kept_while_the_stamp_names_it_and_rebuilt_otherwise() {
        use am_plugin_api::testing::{TestHost, TestRunner};
        let mut host = TestHost::new();
        let values = (100..=120)
            .filter(|t| *t != 104)
            .map(|t| (t, (t % 7) as f64));
        host.add_points("m", values).add_point("m", 104, f64::NAN);
        let mut first = TestRunner::new::<Task>("{}", "s", &mut host).unwrap();
        let tick = |runner: &mut TestRunner, host: &mut TestHost, t| {
            host.clear_outputs();
            runner.run(host, t).unwrap();
            (host.last_value("best"), host.last_value("learned"))
        };
        // 100..=105 but the NaN at 104: 5 points, the best 103 % 7.
        assert_eq!(tick(&mut first, &mut host, 105), (Some(5.0), Some(5.0)));
        // Only the new points, on the same model; a tick without one writes no best.
        assert_eq!(tick(&mut first, &mut host, 107), (Some(2.0), Some(7.0)));
        assert_eq!(tick(&mut first, &mut host, 107), (None, Some(7.0)));
        // Another instance finds a stamp it does not hold: it rebuilds from the backfill.
        let mut second = TestRunner::new::<Task>("{}", "s", &mut host).unwrap();
        assert_eq!(tick(&mut second, &mut host, 110), (Some(5.0), Some(10.0)));
        // The first one's model is no longer the state's: rebuilt too; then the second's.
        assert_eq!(tick(&mut first, &mut host, 111), (Some(6.0), Some(11.0)));
        assert_eq!(tick(&mut second, &mut host, 112), (Some(6.0), Some(12.0)));
        // While no one else moves the series on, the model is kept.
        assert_eq!(tick(&mut second, &mut host, 113), (Some(1.0), Some(13.0)));
    }

    #[test]
    fn the_stamp_is_the_newest_time_and_the_points_learned() {
        let s = stamp(-2, 7);
        assert_eq!(s[..8], (-2i64).to_le_bytes());
        assert_eq!(s[8..], 7u64.to_le_bytes());
    }
}
