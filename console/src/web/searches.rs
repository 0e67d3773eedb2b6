//! The searches over every stored metric, as pages and JSON: correlation
//! (`/fragment/correlate`, `/api/correlate`) and search by shape (`/shape`,
//! `/fragment/shape`, `/api/shape`).
//!
//! A search reads every series: it waits for the one running (one at a time), then runs on a
//! blocking thread so the rest of the console keeps answering.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use am_store::{Pattern, Point, SeriesId};
use axum::Json;
use axum::extract::{Query, State};
use maud::{Markup, html};
use serde::Deserialize;

use super::layout::{Nav, duration, error_box, lag, metric_link, page, svg, text};
use super::metric::{MAX_LAG, WINDOW};
use super::{App, Failure, check_time};
use crate::correlate::{Correlated, Plan};
use crate::plot;
use crate::search::{self, CorrelateRequest, Correlation, ShapeMatch, ShapeSearch};
use crate::series::{bucket, fill_gaps, znormalize};
use crate::shape::{self, Query as ShapeQuery};
use crate::source::Source;

/// Most results a search returns.
const MAX_TOP: usize = 100;

/// Size of the small plots.
const SMALL: (u32, u32) = (300, 80);

/// Runs a search over every metric: one at a time, on a blocking thread.
async fn heavy<T, F, Fut>(app: &App, job: F) -> Result<T, Failure>
where
    T: Send + 'static,
    F: FnOnce(Source) -> Fut + Send + 'static,
    Fut: Future<Output = Result<T, search::SearchError>>,
{
    app.metrics.searches_waiting.add(1);
    let permit = app.heavy.clone().acquire_owned().await;
    app.metrics.searches_waiting.sub(1);
    let permit = permit.map_err(|_| Failure::upstream("the console is stopping"))?;
    let source = app.source.clone();
    let handle = tokio::runtime::Handle::current();
    // The permit goes with the job: a request that times out does not free the slot of a
    // search still running.
    let out = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        handle.block_on(job(source))
    })
    .await
    .map_err(|e| Failure::upstream(format!("a search failed: {e}")))?;
    out.map_err(|e| {
        if matches!(e, search::SearchError::Source(_)) {
            app.metrics.upstream_errors.inc();
        }
        Failure::from(e)
    })
}

/// The query of the correlation views.
#[derive(Debug, Deserialize)]
pub struct CorrelateQuery {
    /// The anomalous metric.
    metric: String,
    /// The anomaly's time (default: the last hour).
    #[serde(default)]
    at: Option<i64>,
    /// The window around it, seconds (300 to 86,400; default 3600).
    #[serde(default)]
    window: Option<i64>,
    /// Largest lag each way, seconds (up to half the window; default 900).
    #[serde(default)]
    max_lag: Option<i64>,
    /// Only metrics matching this glob (or `re:`).
    #[serde(default)]
    among: Option<String>,
    /// How many (default 20, at most 100).
    #[serde(default)]
    top: Option<usize>,
}

impl CorrelateQuery {
    fn request(&self, now: i64) -> Result<CorrelateRequest, Failure> {
        let window = self.window.unwrap_or(WINDOW);
        if !(300..=86_400).contains(&window) {
            return Err(Failure::bad_request("window must be 300 to 86400 seconds"));
        }
        let max_lag = self.max_lag.unwrap_or(MAX_LAG.min(window / 2));
        if !(0..=window / 2).contains(&max_lag) {
            return Err(Failure::bad_request("max_lag must be 0 to half the window"));
        }
        let at = match self.at {
            Some(at) => check_time("at", at)?,
            None => now - window / 2,
        };
        Ok(CorrelateRequest {
            metric: self.metric.clone(),
            at,
            window,
            max_lag,
            among: self.among.clone().filter(|a| !a.trim().is_empty()),
            top: self.top.unwrap_or(20).clamp(1, MAX_TOP),
        })
    }
}

async fn run_correlation(app: &App, q: &CorrelateQuery) -> Result<Correlation, Failure> {
    let now = am_store::unix_now();
    let req = q.request(now)?;
    let c = heavy(app, move |source| async move {
        search::correlate(&source, &req, now).await
    })
    .await?;
    app.metrics.correlations.inc();
    app.metrics.correlation_seconds.observe(c.elapsed);
    app.metrics.series_scanned.add(c.read as u64);
    tracing::info!(
        metric = %am_daemon::text::escaped(&q.metric),
        at = c.plan.at,
        read = c.read,
        skipped = c.skipped,
        ms = c.elapsed.as_millis() as u64,
        "correlated"
    );
    Ok(c)
}

/// `/api/correlate?metric=&at=`: `[{"metric", "score", "lag"}, ...]`, best first.
pub async fn correlate_api(
    State(app): State<Arc<App>>,
    Query(q): Query<CorrelateQuery>,
) -> Result<Json<Vec<Correlated>>, Failure> {
    let c = run_correlation(&app, &q).await.map_err(Failure::as_json)?;
    Ok(Json(c.ranked.into_iter().map(|(r, _)| r).collect()))
}

/// `/fragment/correlate`: the ranking with small plots, for a metric's page.
pub async fn correlate_fragment(
    State(app): State<Arc<App>>,
    Query(q): Query<CorrelateQuery>,
) -> Markup {
    match correlation_markup(&app, &q).await {
        Ok(m) => m,
        Err(e) => error_box(&e.message),
    }
}

/// A series on the plan's widened grid, normalized, shifted by `shift` seconds: x in minutes
/// from the anomaly.
fn on_grid(plan: &Plan, points: &[Point], shift: i64) -> Vec<(f64, f64)> {
    let (from, until) = plan.read_range();
    let n = usize::try_from((until - from + 1) / plan.step).unwrap_or(0);
    let mut v = vec![0f32; n];
    if bucket(points, from, plan.step, &mut v) == 0 {
        return Vec::new();
    }
    fill_gaps(&mut v);
    znormalize(&mut v);
    v.iter()
        .enumerate()
        .map(|(i, &y)| {
            let ts = from + i as i64 * plan.step + shift;
            ((ts - plan.at) as f64 / 60.0, f64::from(y))
        })
        .collect()
}

async fn correlation_markup(app: &App, q: &CorrelateQuery) -> Result<Markup, Failure> {
    let c = run_correlation(app, q).await?;
    let (from, until) = c.plan.read_range();
    let ids: Vec<SeriesId> = c.ranked.iter().map(|(_, id)| id.clone()).collect();
    let series = app.source.read_many(&ids, from, until).await?;
    let mut rows = Vec::with_capacity(c.ranked.len());
    for ((r, _), points) in c.ranked.iter().zip(&series) {
        // The anomalous metric moved `lag` seconds earlier: shifted by it, it lies over this one.
        let reference = on_grid(&c.plan, &c.points, r.lag);
        let subject = on_grid(&c.plan, points, 0);
        let small = plot::small(&subject, &reference, SMALL)
            .map_err(|e| Failure::upstream(e.to_string()))?;
        rows.push((r, small));
    }
    Ok(html! {
        p.meta.summary {
            (c.read) " metrics compared in " (format!("{:.2}", c.elapsed.as_secs_f64())) " s"
            @if c.skipped > 0 { ", " (c.skipped) " left out (too few points in the window, or flat)" }
            "; grid " (duration(c.plan.step)) ", lags " (lag(-(c.plan.lead as i64) * c.plan.step)) " to " (lag(c.plan.trail as i64 * c.plan.step)) "."
        }
        @if rows.is_empty() {
            p.empty { "No other metric has data in this window." }
        } @else {
            ol.correlated {
                @for (r, small) in &rows {
                    li.match data-metric=(text(&r.metric)) data-lag=(r.lag) data-score=(format!("{:.4}", r.score)) {
                        div.name { (metric_link(&r.metric)) }
                        div.numbers {
                            span.score { "score " (format!("{:+.3}", r.score)) }
                            " · "
                            span.lag { "lag " (lag(r.lag)) }
                        }
                        div.small { (svg(small.clone())) }
                    }
                }
            }
            p.meta { "Grey: " (text(&q.metric)) ", shifted by each lag; blue: the metric, both normalized. Positive lags: the metric moved after." }
        }
    })
}

/// The body of `/api/shape` and `/fragment/shape`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShapeRequest {
    /// The shape: equally spaced values (3 to 10,000).
    values: Vec<f64>,
    /// How far back the series are compared, seconds (300 to 604,800; default 3600).
    #[serde(default)]
    range: Option<i64>,
    /// Only metrics matching this glob (or `re:`).
    #[serde(default)]
    among: Option<String>,
    /// How many (default 20, at most 100).
    #[serde(default)]
    top: Option<usize>,
}

async fn run_shape(
    app: &App,
    req: ShapeRequest,
) -> Result<(ShapeSearch, ShapeQuery, i64, i64), Failure> {
    let query = ShapeQuery::new(&req.values).map_err(|e| Failure::bad_request(e.to_string()))?;
    let range = req.range.unwrap_or(3600);
    if !(300..=604_800).contains(&range) {
        return Err(Failure::bad_request("range must be 300 to 604800 seconds"));
    }
    let among = req
        .among
        .as_deref()
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .unwrap_or("*");
    let among = Pattern::parse(among).map_err(|e| Failure::bad_request(e.to_string()))?;
    let top = req.top.unwrap_or(20).clamp(1, MAX_TOP);
    let until = am_store::unix_now();
    let from = until - range;
    let q = query.clone();
    let s = heavy(app, move |source| async move {
        search::shape_search(&source, &q, &among, from, until, top).await
    })
    .await?;
    app.metrics.shape_searches.inc();
    app.metrics.shape_search_seconds.observe(s.elapsed);
    app.metrics.series_scanned.add(s.read as u64);
    Ok((s, query, from, until))
}

/// `/api/shape` (POST `{"values": [...], "range", "among", "top"}`): `[{"metric",
/// "distance"}, ...]`, closest first.
pub async fn shape_api(
    State(app): State<Arc<App>>,
    Json(req): Json<ShapeRequest>,
) -> Result<Json<Vec<ShapeMatch>>, Failure> {
    let (s, _, _, _) = run_shape(&app, req).await.map_err(Failure::as_json)?;
    Ok(Json(s.matches.into_iter().map(|(m, _)| m).collect()))
}

/// `/fragment/shape`: the matches with small plots.
pub async fn shape_fragment(
    State(app): State<Arc<App>>,
    body: Result<Json<ShapeRequest>, axum::extract::rejection::JsonRejection>,
) -> Markup {
    let result = async {
        let Json(req) = body.map_err(|e| Failure::bad_request(e.body_text()))?;
        let (s, query, from, until) = run_shape(&app, req).await?;
        let ids: Vec<SeriesId> = s.matches.iter().map(|(_, id)| id.clone()).collect();
        let series = app.source.read_many(&ids, from, until).await?;
        let q: Vec<(f64, f64)> = query
            .values()
            .iter()
            .enumerate()
            .map(|(i, &v)| (i as f64, f64::from(v)))
            .collect();
        let step = ((until - from + 1) as f64 / shape::POINTS as f64).ceil() as i64;
        let start = until + 1 - step * shape::POINTS as i64;
        let mut rows = Vec::new();
        for ((m, _), points) in s.matches.iter().zip(&series) {
            let mut v = vec![0f32; shape::POINTS];
            bucket(points, start, step, &mut v);
            fill_gaps(&mut v);
            znormalize(&mut v);
            let c: Vec<(f64, f64)> = v.iter().enumerate().map(|(i, &y)| (i as f64, f64::from(y))).collect();
            let small = plot::small(&c, &q, SMALL).map_err(|e| Failure::upstream(e.to_string()))?;
            rows.push((m.clone(), small));
        }
        Ok::<_, Failure>(html! {
            p.meta.summary {
                (s.read) " series compared in " (format!("{:.2}", s.elapsed.as_secs_f64())) " s ("
                (s.pruned) " ruled out by the lower bound, " (s.abandoned) " abandoned mid-warping)."
            }
            @if rows.is_empty() {
                p.empty { "No series has enough points in this range." }
            } @else {
                ol.correlated {
                    @for (m, small) in &rows {
                        li.match data-metric=(text(&m.metric)) data-distance=(format!("{:.4}", m.distance)) {
                            div.name { (metric_link(&m.metric)) }
                            div.numbers { span.score { "distance " (format!("{:.3}", m.distance)) } }
                            div.small { (svg(small.clone())) }
                        }
                    }
                }
                p.meta { "Grey: the shape; blue: the series over the range, both normalized." }
            }
        })
    }
    .await;
    result.unwrap_or_else(|e| error_box(&e.message))
}

/// The query of `/shape`: a stored series to start from.
#[derive(Debug, Deserialize)]
pub struct ShapePageQuery {
    /// A metric whose shape to search for.
    #[serde(default)]
    metric: Option<String>,
    /// Its range: from...
    #[serde(default)]
    from: Option<i64>,
    /// ...until.
    #[serde(default)]
    until: Option<i64>,
}

/// `/shape`: draw or paste a shape.
pub async fn shape_page(State(app): State<Arc<App>>, Query(q): Query<ShapePageQuery>) -> Markup {
    let started = Instant::now();
    let mut seed = String::new();
    let mut note = None;
    if let Some(name) = &q.metric {
        let now = am_store::unix_now();
        let until = q.until.unwrap_or(now).clamp(0, now + 86_400);
        let from = q.from.unwrap_or(until - 3600).clamp(0, until);
        match app.source.locate(name).await {
            Ok(Some(id)) => match app.source.read(&id, from, until).await {
                Ok(points) => {
                    let n = 100usize;
                    let step = ((until - from + 1) / n as i64).max(1);
                    let mut v = vec![0f32; n];
                    bucket(&points, from, step, &mut v);
                    fill_gaps(&mut v);
                    seed = v
                        .iter()
                        .filter(|x| x.is_finite())
                        .map(|x| format!("{x}"))
                        .collect::<Vec<_>>()
                        .join(", ");
                    note = Some(
                        html! { "The shape of " (metric_link(name)) " from its page's range (" (duration(until - from)) ")." },
                    );
                }
                Err(e) => note = Some(error_box(&e.to_string())),
            },
            Ok(None) => note = Some(error_box("No stored series has this name.")),
            Err(e) => note = Some(error_box(&e.to_string())),
        }
    }
    tracing::debug!(ms = started.elapsed().as_millis() as u64, "shape page");
    page(
        "Search by shape",
        Nav::Shape,
        html! {
            h1 { "Search by shape" }
            p.meta { "Draw a shape with the mouse (or finger), or paste numbers; the stored series most alike over the range come first, whatever their scale (normalized, dynamic time warping)." }
            @if let Some(n) = note { p.meta { (n) } }
            form #shape-form {
                canvas #shape-canvas width="600" height="160" aria-label="draw a shape here" {}
                div.controls {
                    button type="button" #shape-clear { "Clear" }
                    label { "Range " select name="range" {
                        option value="3600" selected { "last hour" }
                        option value="21600" { "last 6 hours" }
                        option value="86400" { "last day" }
                        option value="604800" { "last week" }
                    } }
                    label { "Among " input type="search" name="among" placeholder="* (every metric)"; }
                    button type="submit" { "Search" }
                }
                label.values { "Values (comma or space separated)" textarea name="values" rows="3" { (seed) } }
            }
            div #shape-results {}
        },
    )
}
