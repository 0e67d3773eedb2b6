//! `/`: the alarms that are not OK and the newest transitions, filtered by a glob on the
//! metric. The page fetches `/fragment/alarms` every few seconds and swaps it in, so it keeps
//! itself current without a reload; `/api/alarms` is the same as JSON (the shape of
//! `am-runner alarms --json`).

use std::sync::Arc;

use am_runner::alarm::{AlarmState, Transition};
use am_store::Pattern;
use axum::Json;
use axum::extract::{Query, State};
use maud::{Markup, html};
use serde::Deserialize;

use super::layout::{Nav, duration, enc, error_box, metric_link, page, text, time};
use super::{App, Failure};
use crate::source::{AlarmRow, AlarmsView};

/// Most transitions shown.
const MAX_HISTORY: usize = 500;

/// The query of the alarm views.
#[derive(Debug, Deserialize)]
pub struct AlarmsQuery {
    /// A glob (or `re:`) on the metric.
    #[serde(default)]
    filter: Option<String>,
    /// How many of the newest transitions.
    #[serde(default)]
    history: Option<usize>,
}

impl AlarmsQuery {
    fn pattern(&self) -> Result<Option<Pattern>, Failure> {
        match self.filter.as_deref().map(str::trim) {
            None | Some("") => Ok(None),
            Some(f) => Pattern::parse(f)
                .map(Some)
                .map_err(|e| Failure::bad_request(e.to_string())),
        }
    }

    fn history(&self) -> usize {
        self.history.unwrap_or(20).min(MAX_HISTORY)
    }
}

async fn view(app: &App, q: &AlarmsQuery) -> Result<AlarmsView, Failure> {
    let pattern = q.pattern()?;
    app.source
        .alarms(pattern.as_ref(), q.history())
        .await
        .map_err(|e| {
            app.metrics.upstream_errors.inc();
            Failure::from(e)
        })
}

/// `/`.
pub async fn index(State(app): State<Arc<App>>, Query(q): Query<AlarmsQuery>) -> Markup {
    let filter = q.filter.clone().unwrap_or_default();
    let src = format!(
        "/fragment/alarms?filter={}&history={}",
        enc(&filter),
        q.history()
    );
    let body = fragment_markup(&app, &q).await;
    page(
        "Alarms",
        Nav::Alarms,
        html! {
            h1 { "Alarms" }
            form.filter method="get" action="/" {
                label { "Metric filter " input type="search" name="filter" value=(filter) placeholder="glob, e.g. servers.*.cpu, or re:regex"; }
                button type="submit" { "Filter" }
                span #updated .status { }
            }
            div #alarms data-src=(src) data-refresh=(app.refresh_secs) { (body) }
        },
    )
}

/// `/fragment/alarms`: the tables alone, for the page's updates.
pub async fn fragment(State(app): State<Arc<App>>, Query(q): Query<AlarmsQuery>) -> Markup {
    fragment_markup(&app, &q).await
}

async fn fragment_markup(app: &App, q: &AlarmsQuery) -> Markup {
    let now = am_store::unix_now();
    match view(app, q).await {
        Ok(v) => tables(&v, now),
        Err(e) => error_box(&e.message),
    }
}

/// `/api/alarms`: `{"alarms": [...], "transitions": [...]}`.
pub async fn api(
    State(app): State<Arc<App>>,
    Query(q): Query<AlarmsQuery>,
) -> Result<Json<AlarmsView>, Failure> {
    view(&app, &q).await.map(Json).map_err(Failure::as_json)
}

fn state_badge(state: AlarmState) -> Markup {
    html! {
        span class={"state " (state.as_str())} {
            (state.as_str().to_uppercase())
        }
    }
}

fn tables(v: &AlarmsView, now: i64) -> Markup {
    html! {
        section.active {
            h2 { "Not OK " span.count { "(" (v.alarms.len()) ")" } }
            @if v.alarms.is_empty() {
                p.empty { "No alarms: everything judged is OK." }
            } @else {
                table.alarms {
                    thead { tr { th { "State" } th { "Since" } th { "Severity" } th { "Algorithm" } th { "Service" } th { "Metric" } th { "Reason" } } }
                    tbody { @for a in &v.alarms { (alarm_row(a, now)) } }
                }
            }
        }
        section.transitions {
            h2 { "Newest transitions" }
            @if v.transitions.is_empty() {
                p.empty { "No transitions recorded." }
            } @else {
                table.transitions {
                    thead { tr { th { "Time" } th { "Algorithm" } th { "Service" } th { "Metric" } th { "Change" } th { "Reason" } } }
                    tbody { @for t in &v.transitions { (transition_row(t)) } }
                }
            }
        }
    }
}

fn alarm_row(a: &AlarmRow, now: i64) -> Markup {
    html! {
        tr class=(a.state.as_str()) {
            td { (state_badge(a.state)) }
            td title=(time(a.since)) { (time(a.since)) br; span.ago { (duration(now - a.since)) " ago" } }
            td { (text(&a.severity)) }
            td { (text(&a.algorithm)) }
            td { (text(&a.service)) }
            td { (metric_link(&a.metric)) }
            td.reason { (text(&a.reason)) }
        }
    }
}

/// One row of a transitions table (also on a metric's page).
pub fn transition_row(t: &Transition) -> Markup {
    html! {
        tr {
            td { (time(t.ts)) }
            td { (text(&t.algorithm)) }
            td { (text(&t.service)) }
            td { (metric_link(&t.subject)) }
            td {
                @match t.previous_state { Some(p) => (state_badge(p)), None => span.state.none { "NONE" } }
                " → " (state_badge(t.state))
            }
            td.reason { (text(&t.reason)) }
        }
    }
}
