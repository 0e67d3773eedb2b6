//! Delivering plugins' events (state changes such as "this metric became anomalous").
//!
//! [`EventDispatcher::start`] starts one task per configured output ([`EventOutputConfig`]);
//! [`EventsHandle::emit`] logs the event and puts it on every output's bounded queue without
//! ever blocking: a dead output only fills its own queue, and past its bound (`queue_max_events`,
//! 10 000 by default) the *new* event is dropped for that output and counted in
//! `events_dropped` (a bounded channel keeps the queued events in order; the dropped ones are
//! still in the runner's log).
//!
//! Each output `POST`s one event per request with a small built-in HTTP/1.1 client (`http://`
//! only; put a TLS-terminating proxy in front of an https endpoint). Outcomes:
//! - 2xx: delivered (`events_delivered`);
//! - 408, 429, 5xx, a timeout or a connection error: retried after 0.5 s, 1 s, 2 s, … (at most
//!   60 s), up to `max_retries` times (`events_retried` per retry), then given up
//!   (`events_failed`);
//! - any other status (4xx, 3xx: redirects are not followed, 1xx): failed at once.
//!
//! Bodies:
//! - `Webhook`: the [`EventRecord`] as JSON, `values` as an object in the plugin's order:
//!   `{"plugin": "TukeysFilter", "service": "service1", "state": "anomalous", "severity":
//!   "warning", "metric": "system.web01.cpu", "reason": "...", "values": {"upper": 3.5}, "ts":
//!   1700000000}` (a non-finite value is `null`).
//! - `GraphiteEvents`: graphite-web's events API, `{"what": "<Plugin> <service> <state>:
//!   <metric>", "tags": ["anna-molly", "<Plugin>", "<service>", "<state>", ...extra],
//!   "data": "<reason> (name=value, ...)", "when": ts}`. Tags are a JSON list: graphite-web
//!   1.0 requires a list and 1.1 accepts a list or a space-separated string (0.9 wanted a
//!   string and is not supported). graphite-web joins tags with spaces, so whitespace inside
//!   a tag becomes `_`.
//!
//! `events_emitted` is the caller's to count (once per event, whatever the number of outputs);
//! the other `events_*` counters count per output.

mod config;
mod dispatcher;
mod http;

use serde::Serialize;

pub use am_plugin_api::records::VerdictRecord as EventRecord;
pub use config::{EventOutputConfig, GraphiteEventsConfig, WebhookConfig, validate_outputs};
pub use dispatcher::{DispatchOptions, EventDispatcher, EventsHandle};

/// graphite-web's event body (`POST /events/`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GraphiteEvent {
    /// Title: `<Plugin> <service> <state>: <metric>`.
    pub what: String,
    /// `anna-molly`, the plugin, the service, the state, then the configured extra tags.
    pub tags: Vec<String>,
    /// The reason and the values: `<reason> (name=value, ...)`.
    pub data: String,
    /// The event's time, seconds since the epoch.
    pub when: i64,
}

/// A tag graphite-web keeps whole: whitespace and control characters become `_`.
fn tag(s: &str) -> String {
    let t: String = s
        .chars()
        .map(|c| {
            if c.is_whitespace() || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect();
    if t.is_empty() { "_".to_string() } else { t }
}

impl GraphiteEvent {
    /// The body for graphite-web's events API about `event`, with `extra_tags` after the
    /// standard ones.
    pub fn of(event: &EventRecord, extra_tags: &[String]) -> GraphiteEvent {
        let e = event;
        let mut tags = vec![
            "anna-molly".to_string(),
            tag(&e.plugin),
            tag(&e.service),
            tag(&e.state),
        ];
        tags.extend(extra_tags.iter().map(|t| tag(t)));
        let mut data = e.reason.clone();
        if !e.values.is_empty() {
            let values: Vec<String> = e.values.iter().map(|(k, v)| format!("{k}={v}")).collect();
            if !data.is_empty() {
                data.push(' ');
            }
            data.push('(');
            data.push_str(&values.join(", "));
            data.push(')');
        }
        GraphiteEvent {
            what: format!("{} {} {}: {}", e.plugin, e.service, e.state, e.subject),
            tags,
            data,
            when: e.ts,
        }
    }
}

#[cfg(test)]
mod tests;
