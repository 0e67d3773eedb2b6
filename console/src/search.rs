//! The two searches over every stored metric: what moved with an anomaly ([`correlate`]) and
//! what looks like a shape ([`shape_search`]). Both read each series once, in pipelines over
//! several connections, and score it as its reply arrives ([`Source::scan`]).

use std::time::{Duration, Instant};

use am_store::{Pattern, Point, SeriesId};

use crate::correlate::{Correlated, Plan, Reference, ReferenceError, Scorer, TopK, step_of};
use crate::shape::{Matcher, Query};
use crate::source::{Source, SourceError};

/// Why a search failed.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// The metric asked about is not stored.
    #[error("no stored series is named {0:?}")]
    NotStored(String),
    /// The anomalous metric cannot be correlated.
    #[error("{0}")]
    Reference(#[from] ReferenceError),
    /// A pattern does not parse.
    #[error("{0}")]
    Pattern(am_store::Error),
    /// Redis.
    #[error("{0}")]
    Source(#[from] SourceError),
}

/// What to correlate.
#[derive(Debug, Clone)]
pub struct CorrelateRequest {
    /// The anomalous metric.
    pub metric: String,
    /// The anomaly's time.
    pub at: i64,
    /// The window around it, seconds.
    pub window: i64,
    /// The largest lag tried each way, seconds.
    pub max_lag: i64,
    /// Which metrics to rank (a glob or `re:`); every stored one by default.
    pub among: Option<String>,
    /// How many to return.
    pub top: usize,
}

/// The answer of [`correlate`].
#[derive(Debug, Clone)]
pub struct Correlation {
    /// The grid, window and lags used.
    pub plan: Plan,
    /// The anomalous metric's series.
    pub series: SeriesId,
    /// Its points over the widened window ([`Plan::read_range`]).
    pub points: Vec<Point>,
    /// The best `top` metrics, best first, and the series they were read from.
    pub ranked: Vec<(Correlated, SeriesId)>,
    /// Metrics read.
    pub read: usize,
    /// Metrics left out: too few points in the window, or constant.
    pub skipped: usize,
    /// How long it took.
    pub elapsed: Duration,
    /// Of which: finding the names to compare...
    pub finding: Duration,
    /// ...and reading and scoring them.
    pub scanning: Duration,
}

/// Ranks every stored metric (but the anomalous one) by how it moved with `req.metric`
/// around `req.at` (see [`crate::correlate`]).
pub async fn correlate(
    source: &Source,
    req: &CorrelateRequest,
    now: i64,
) -> Result<Correlation, SearchError> {
    let started = Instant::now();
    let series = source
        .locate(&req.metric)
        .await?
        .ok_or_else(|| SearchError::NotStored(req.metric.clone()))?;
    let around = source
        .read(
            &series,
            req.at - req.window - req.max_lag,
            req.at + req.window + req.max_lag,
        )
        .await?;
    let plan = Plan::new(req.at, req.window, req.max_lag, step_of(&around), now);
    let plan = match around.first() {
        Some(p) => plan.clipped(p.ts),
        None => plan,
    };
    let (from, until) = plan.read_range();
    let reference = Reference::new(plan, &around)?;
    let among =
        Pattern::parse(req.among.as_deref().unwrap_or("*")).map_err(SearchError::Pattern)?;
    let found = Instant::now();
    let mut ids = source.names(&among).await?;
    ids.retain(|id| id.name != series.name);
    let finding = found.elapsed();
    let scanned = Instant::now();
    let top = req.top.max(1);
    let states = source
        .scan(
            &ids,
            from,
            until,
            || (Scorer::new(&reference), TopK::new(top), 0usize),
            |(scorer, best, skipped), i, points| match scorer.score(points) {
                Some((r, lag)) => best.push(r.abs(), i, (r, lag)),
                None => *skipped += 1,
            },
        )
        .await?;
    let scanning = scanned.elapsed();
    let mut best = TopK::new(top);
    let mut skipped = 0;
    for (_, b, s) in states {
        best.merge(b);
        skipped += s;
    }
    let ranked = best
        .into_sorted()
        .into_iter()
        .filter_map(|(_, i, (score, lag))| {
            let id = ids.get(i)?;
            Some((
                Correlated {
                    metric: id.name.clone(),
                    score,
                    lag,
                },
                id.clone(),
            ))
        })
        .collect();
    let lo = around.partition_point(|p| p.ts < from);
    let hi = around.partition_point(|p| p.ts <= until);
    Ok(Correlation {
        plan,
        series,
        points: around.get(lo..hi).unwrap_or_default().to_vec(),
        ranked,
        read: ids.len(),
        skipped,
        elapsed: started.elapsed(),
        finding,
        scanning,
    })
}

/// One series found by shape.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ShapeMatch {
    /// The metric's name.
    pub metric: String,
    /// Root mean square of the warped differences of the normalized shapes (0: identical).
    pub distance: f32,
}

/// The answer of [`shape_search`].
#[derive(Debug, Clone)]
pub struct ShapeSearch {
    /// The best matches, closest first, with the series they were read from.
    pub matches: Vec<(ShapeMatch, SeriesId)>,
    /// Series read.
    pub read: usize,
    /// Series rejected by the lower bound without warping.
    pub pruned: u64,
    /// Series whose warping stopped early.
    pub abandoned: u64,
    /// How long it took.
    pub elapsed: Duration,
}

/// The `top` stored series (matching `among`) most like `query` over `[from, until]`.
pub async fn shape_search(
    source: &Source,
    query: &Query,
    among: &Pattern,
    from: i64,
    until: i64,
    top: usize,
) -> Result<ShapeSearch, SearchError> {
    let started = Instant::now();
    let ids = source.names(among).await?;
    let top = top.max(1);
    let states = source
        .scan(
            &ids,
            from,
            until,
            || (Matcher::new(query), TopK::new(top)),
            |(matcher, best), i, points| {
                let bound = best.threshold().map_or(f32::INFINITY, |t| -t);
                if let Some(d) = matcher.score(points, from, until, bound) {
                    best.push(-d, i, ());
                }
            },
        )
        .await?;
    let mut best = TopK::new(top);
    let (mut pruned, mut abandoned) = (0, 0);
    for (m, b) in states {
        pruned += m.pruned;
        abandoned += m.abandoned;
        best.merge(b);
    }
    let matches = best
        .into_sorted()
        .into_iter()
        .filter_map(|(key, i, ())| {
            let id = ids.get(i)?;
            Some((
                ShapeMatch {
                    metric: id.name.clone(),
                    distance: -key,
                },
                id.clone(),
            ))
        })
        .collect();
    Ok(ShapeSearch {
        matches,
        read: ids.len(),
        pruned,
        abandoned,
        elapsed: started.elapsed(),
    })
}
