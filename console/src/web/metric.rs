//! `/metric/<name>`: a stored series plotted (the last hour, day, or all the retention
//! holds; zoom by dragging over the plot), its alarm transitions marked, its alarms, and the
//! metrics that moved with it (fetched from `/fragment/correlate` once the page is shown).
//! Also `/find` (stored names by glob) and `/api/series` (a series' points as JSON).

use std::sync::Arc;

use am_runner::alarm::{AlarmState, Transition};
use am_store::{Pattern, Point, SeriesId};
use axum::Json;
use axum::extract::{Path, Query, State};
use maud::{Markup, html};
use serde::{Deserialize, Serialize};

use super::alarms::transition_row;
use super::layout::{
    Nav, duration, enc, error_box, metric_href, metric_link, page, svg, text, time,
};
use super::{App, Failure, check_time};
use crate::plot;

/// Most names `/find` lists.
const MAX_FOUND: usize = 1000;

/// Default window of a correlation, seconds.
pub const WINDOW: i64 = 3600;

/// Default largest lag of a correlation, seconds.
pub const MAX_LAG: i64 = 900;

/// The plot's size in pixels.
const PLOT: (u32, u32) = (960, 320);

/// The query of a metric's page.
#[derive(Debug, Default, Deserialize)]
pub struct MetricQuery {
    /// `hour` (default), `day` or `all`.
    #[serde(default)]
    range: Option<String>,
    /// Zoomed: the plot's start...
    #[serde(default)]
    from: Option<i64>,
    /// ...and end.
    #[serde(default)]
    until: Option<i64>,
    /// The anomaly's time to correlate at.
    #[serde(default)]
    at: Option<i64>,
}

/// The retention of a series: how far back its oldest point may be.
fn retention(id: &SeriesId) -> i64 {
    i64::from(id.model.ttl()) + i64::from(id.model.span())
}

/// The range a query asks for: `(from, until, label)`.
fn range(q: &MetricQuery, id: Option<&SeriesId>, now: i64) -> Result<(i64, i64, String), Failure> {
    if let (Some(f), Some(u)) = (q.from, q.until) {
        let (f, u) = (check_time("from", f)?, check_time("until", u)?);
        if u <= f {
            return Err(Failure::bad_request("from must be before until"));
        }
        return Ok((f, u, "zoom".into()));
    }
    let r = q.range.as_deref().unwrap_or("hour");
    let back = match r {
        "hour" => 3600,
        "day" => 86_400,
        "all" => id.map_or(86_400, retention),
        other => {
            return Err(Failure::bad_request(format!(
                "range must be hour, day or all, not {:?}",
                text(other)
            )));
        }
    };
    Ok((now - back, now, r.to_owned()))
}

/// The anomaly time a page correlates at when none is asked for: the newest transition to
/// PENDING or ALARM shown, else the start of a firing alarm, else none (the last hour).
fn default_at(transitions: &[Transition], firing_since: Option<i64>) -> Option<i64> {
    transitions
        .iter()
        .rev()
        .find(|t| matches!(t.state, AlarmState::Pending | AlarmState::Alarm))
        .map(|t| t.ts)
        .or(firing_since)
}

/// The page of `name`.
async fn page_handler(app: &App, name: &str, q: &MetricQuery) -> Result<Markup, Failure> {
    let now = am_store::unix_now();
    let source = &app.source;
    let id = source.locate(name).await?;
    let (from, until, label) = range(q, id.as_ref(), now)?;
    let points = match &id {
        Some(id) => source.read(id, from, until).await?,
        None => Vec::new(),
    };
    let transitions = source.transitions_of(name, from, until).await?;
    let exact = Pattern::exact(name).map_err(|e| Failure::bad_request(e.to_string()))?;
    let alarms = source.alarms(Some(&exact), 0).await?.alarms;
    let firing = alarms
        .iter()
        .filter(|a| a.state != AlarmState::Ok)
        .map(|a| a.since)
        .max();
    let at = match q.at {
        Some(at) => Some(check_time("at", at)?),
        None => default_at(&transitions, firing),
    };
    let drawn = if points.is_empty() {
        None
    } else {
        Some(
            plot::series(&points, &transitions, from, until, PLOT)
                .map_err(|e| Failure::upstream(e.to_string()))?,
        )
    };
    let href = metric_href(name);
    let correlate_src = format!(
        "/fragment/correlate?metric={}{}",
        enc(name),
        at.map(|a| format!("&at={a}")).unwrap_or_default()
    );
    let shape_href = format!("/shape?metric={}&from={from}&until={until}", enc(name));
    Ok(page(
        name,
        Nav::Metric,
        html! {
            h1.metric-name { (text(name)) }
            @match &id {
                Some(id) => p.meta { "stored as " code { (id.model.tag()) } ", " (points.len()) " points shown, " (time(from)) " to " (time(until)) },
                None => (error_box("No stored series has this name (it may have expired, or the alarm's subject is not a metric).")),
            }
            nav.ranges {
                @for (r, l) in [("hour", "last hour"), ("day", "last day"), ("all", "all retention holds")] {
                    a class=[(label == r).then_some("here")] href={(href) "?range=" (r)} { (l) }
                }
                @if label == "zoom" { span.here { "zoomed: " (duration(until - from)) } }
                a href=(shape_href) { "find metrics shaped like this" }
            }
            @if !alarms.is_empty() {
                table.alarms {
                    thead { tr { th { "State" } th { "Since" } th { "Severity" } th { "Algorithm" } th { "Service" } th { "Reason" } } }
                    tbody {
                        @for a in &alarms {
                            tr class=(a.state.as_str()) {
                                td { span class={"state " (a.state.as_str())} { (a.state.as_str().to_uppercase()) } }
                                td { (time(a.since)) }
                                td { (text(&a.severity)) }
                                td { (text(&a.algorithm)) }
                                td { (text(&a.service)) }
                                td.reason { (text(&a.reason)) }
                            }
                        }
                    }
                }
            }
            @if let Some(d) = drawn {
                figure.plot #plot data-from=(d.from) data-until=(d.until) data-left=(d.x_pixels.start) data-right=(d.x_pixels.end) data-width=(d.width) data-href=(href) {
                    (svg(d.svg))
                    figcaption {
                        "Drag across the plot to zoom; click a time to correlate there. Transitions: "
                        @for s in [AlarmState::Pending, AlarmState::Alarm, AlarmState::Ok, AlarmState::Undetermined] {
                            span.legend { span class={"swatch " (s.as_str())} {} " " (s.as_str()) " " }
                        }
                    }
                }
            } @else if id.is_some() {
                p.empty { "No points in this range." }
            }
            @if !transitions.is_empty() {
                h2 { "Transitions in this range" }
                table.transitions {
                    thead { tr { th { "Time" } th { "Algorithm" } th { "Service" } th { "Metric" } th { "Change" } th { "Reason" } } }
                    tbody { @for t in transitions.iter().rev() { (transition_row(t)) } }
                }
            }
            @if id.is_some() {
                section.correlated {
                    h2 { "Moved with it" }
                    p.meta #correlate-at { @match at {
                        Some(a) => { "around " (time(a)) " (±" (duration(WINDOW / 2)) ", lags up to ±" (duration(MAX_LAG)) ")" },
                        None => { "over the last hour (lags up to ±" (duration(MAX_LAG)) ")" },
                    } }
                    div #correlate data-src=(correlate_src) { p.status { "Correlating with every stored metric…" } }
                }
            }
        },
    ))
}

/// `/metric/<name>` as a route.
pub async fn metric_page(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    Query(q): Query<MetricQuery>,
) -> Result<Markup, Failure> {
    page_handler(&app, &name, &q).await.inspect_err(|e| {
        if e.status.is_server_error() {
            app.metrics.upstream_errors.inc();
        }
    })
}

/// The query of `/find`.
#[derive(Debug, Deserialize)]
pub struct FindQuery {
    /// A glob or `re:`; a bare word is looked for anywhere in the name.
    #[serde(default)]
    pattern: Option<String>,
}

/// A query as a pattern: a bare word (no glob characters) is looked for anywhere.
fn find_pattern(raw: &str) -> Result<Pattern, Failure> {
    let raw = raw.trim();
    let glob = if raw.starts_with("re:") || raw.contains(['*', '?', '[', '{']) {
        raw.to_owned()
    } else {
        let mut escaped = String::with_capacity(raw.len() + 2);
        escaped.push('*');
        for c in raw.chars() {
            if matches!(c, '\\' | ']' | '}' | ',') {
                escaped.push('\\');
            }
            escaped.push(c);
        }
        escaped.push('*');
        escaped
    };
    Pattern::parse(&glob).map_err(|e| Failure::bad_request(e.to_string()))
}

/// `/find`: the stored names matching a pattern, as links.
pub async fn find(State(app): State<Arc<App>>, Query(q): Query<FindQuery>) -> Markup {
    let raw = q.pattern.unwrap_or_default();
    let result = async {
        if raw.trim().is_empty() {
            return Ok(None);
        }
        let p = find_pattern(&raw)?;
        Ok::<_, Failure>(Some(app.source.names(&p).await?))
    }
    .await;
    page(
        "Metrics",
        Nav::Find,
        html! {
            h1 { "Stored metrics" }
            form.filter method="get" action="/find" {
                label { "Name " input type="search" name="pattern" value=(raw) placeholder="a word, a glob (servers.*.cpu) or re:regex"; }
                button type="submit" { "Find" }
            }
            @match result {
                Ok(None) => p.meta { "A word finds every name holding it; " code { "*" } " crosses dots." },
                Ok(Some(ids)) => {
                    p.meta { (ids.len()) " found" @if ids.len() > MAX_FOUND { ", the first " (MAX_FOUND) " shown" } }
                    ul.names { @for id in ids.iter().take(MAX_FOUND) { li { (metric_link(&id.name)) } } }
                },
                Err(e) => (error_box(&e.message)),
            }
        },
    )
}

/// The query of `/api/series`.
#[derive(Debug, Deserialize)]
pub struct SeriesQuery {
    /// The metric.
    metric: String,
    /// From (default: an hour ago).
    #[serde(default)]
    from: Option<i64>,
    /// Until (default: now).
    #[serde(default)]
    until: Option<i64>,
}

/// The answer of `/api/series`.
#[derive(Debug, Serialize)]
pub struct SeriesAnswer {
    /// The metric.
    metric: String,
    /// The model it was read from (its tag).
    model: String,
    /// `[ts, value]` pairs, oldest first.
    points: Vec<(i64, f64)>,
}

/// `/api/series?metric=&from=&until=`.
pub async fn api_series(
    State(app): State<Arc<App>>,
    Query(q): Query<SeriesQuery>,
) -> Result<Json<SeriesAnswer>, Failure> {
    let now = am_store::unix_now();
    let until = check_time("until", q.until.unwrap_or(now)).map_err(Failure::as_json)?;
    let from = check_time("from", q.from.unwrap_or(until - 3600)).map_err(Failure::as_json)?;
    let id = app
        .source
        .locate(&q.metric)
        .await
        .map_err(|e| Failure::from(e).as_json())?
        .ok_or_else(|| Failure::not_found("no stored series has this name").as_json())?;
    let points: Vec<Point> = app
        .source
        .read(&id, from, until)
        .await
        .map_err(|e| Failure::from(e).as_json())?;
    Ok(Json(SeriesAnswer {
        metric: q.metric,
        model: id.model.tag(),
        points: points.iter().map(|p| (p.ts, p.value)).collect(),
    }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn bare_words_are_looked_for_anywhere() {
        let p = find_pattern("cpu").unwrap();
        assert!(p.matches("servers.web01.cpu.user"));
        let p = find_pattern("a,b}").unwrap();
        assert!(p.matches("x.a,b}.y"));
        let p = find_pattern("servers.*.cpu").unwrap();
        assert!(!p.matches("x.servers.a.cpu"));
    }

    #[test]
    fn ranges() {
        let now = 100_000;
        let q = MetricQuery::default();
        assert_eq!(range(&q, None, now).unwrap(), (96_400, now, "hour".into()));
        let q = MetricQuery {
            from: Some(5),
            until: Some(3),
            ..Default::default()
        };
        assert!(range(&q, None, now).is_err());
        let q = MetricQuery {
            range: Some("<b>".into()),
            ..Default::default()
        };
        assert!(range(&q, None, now).is_err());
    }
}
