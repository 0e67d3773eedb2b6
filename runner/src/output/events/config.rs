//! `event_outputs` in `analyzer.json`: a list of outputs, each externally tagged like
//! anna-molly's sinks, e.g.
//!
//! ```json
//! "event_outputs": [
//!   { "Webhook": { "url": "http://alerts.local:9000/hook", "headers": { "X-Token": "..." } } },
//!   { "GraphiteEvents": { "url": "http://graphite/events/", "tags": ["prod"] } }
//! ]
//! ```

use std::collections::BTreeMap;

use serde::Deserialize;

use super::http::{RESERVED_HEADERS, parse_url, valid_header_name, valid_header_value};
use crate::output::ConfigIssue;

/// One event output.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum EventOutputConfig {
    /// `POST`s every event as JSON (an [`EventRecord`](super::EventRecord)) to a URL.
    Webhook(WebhookConfig),
    /// Creates a graphite-web event (`POST /events/`) per event, shown as annotations in
    /// graphite-web and Grafana.
    GraphiteEvents(GraphiteEventsConfig),
}

/// `{"Webhook": {...}}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Where to `POST` (an `http://` URL; https is not supported yet).
    pub url: String,
    /// Extra request headers (e.g. `Authorization`); none by default. `Host`,
    /// `Content-Length`, `Connection` and `Transfer-Encoding` are set by the runner.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Seconds allowed for one attempt (connect, send, read the status), 5 by default.
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
    /// Retries after a failed attempt (5xx, 408, 429, timeout, connection error), 5 by
    /// default, with a delay of 0.5 s doubling each time.
    #[serde(default = "default_max_retries")]
    pub max_retries: u32,
    /// Events waiting for this output, 10 000 by default; new events past it are dropped
    /// (counted in `events_dropped`).
    #[serde(default = "default_queue_max_events")]
    pub queue_max_events: usize,
}

/// `{"GraphiteEvents": {...}}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GraphiteEventsConfig {
    /// graphite-web's events endpoint, with its trailing slash: `http://graphite/events/`.
    pub url: String,
    /// Tags added to every event, after `anna-molly <Plugin> <service> <state>`; none by
    /// default. A tag cannot contain whitespace (graphite-web splits tags on spaces).
    #[serde(default)]
    pub tags: Vec<String>,
    /// Extra request headers (e.g. `Authorization` for a graphite-web behind basic auth);
    /// none by default.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Seconds allowed for one attempt, 5 by default.
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
    /// Retries after a failed attempt, 5 by default (0.5 s doubling).
    #[serde(default = "default_max_retries")]
    pub max_retries: u32,
    /// Events waiting for this output, 10 000 by default; new events past it are dropped.
    #[serde(default = "default_queue_max_events")]
    pub queue_max_events: usize,
}

fn default_timeout_secs() -> u64 {
    5
}

fn default_max_retries() -> u32 {
    5
}

fn default_queue_max_events() -> usize {
    10_000
}

/// The settings every output has, borrowed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Common<'a> {
    pub(crate) kind: &'static str,
    pub(crate) url: &'a str,
    pub(crate) headers: &'a BTreeMap<String, String>,
    pub(crate) timeout_secs: u64,
    pub(crate) max_retries: u32,
    pub(crate) queue_max_events: usize,
}

impl EventOutputConfig {
    /// The variant's name as written in the config.
    pub fn kind(&self) -> &'static str {
        self.common().kind
    }

    /// The URL events are sent to.
    pub fn url(&self) -> &str {
        self.common().url
    }

    pub(crate) fn common(&self) -> Common<'_> {
        match self {
            EventOutputConfig::Webhook(c) => Common {
                kind: "Webhook",
                url: &c.url,
                headers: &c.headers,
                timeout_secs: c.timeout_secs,
                max_retries: c.max_retries,
                queue_max_events: c.queue_max_events,
            },
            EventOutputConfig::GraphiteEvents(c) => Common {
                kind: "GraphiteEvents",
                url: &c.url,
                headers: &c.headers,
                timeout_secs: c.timeout_secs,
                max_retries: c.max_retries,
                queue_max_events: c.queue_max_events,
            },
        }
    }

    /// Checks values serde cannot. `path` is where this output sits (`event_outputs[0]`);
    /// issues name the field below it (`event_outputs[0].Webhook.url`).
    pub fn validate(&self, path: &str) -> Vec<ConfigIssue> {
        let c = self.common();
        let at = |field: &str| format!("{path}.{}.{field}", c.kind);
        let mut issues = Vec::new();
        if let Err(e) = parse_url(c.url) {
            issues.push(ConfigIssue::new(at("url"), e));
        }
        for (name, value) in c.headers {
            if !valid_header_name(name) {
                issues.push(ConfigIssue::new(
                    at(&format!("headers.{name}")),
                    "not a valid header name (letters, digits and !#$%&'*+-.^_`|~ only)",
                ));
            } else if RESERVED_HEADERS
                .iter()
                .any(|r| r.eq_ignore_ascii_case(name))
            {
                issues.push(ConfigIssue::new(
                    at(&format!("headers.{name}")),
                    "set by the runner itself; remove it",
                ));
            }
            if !valid_header_value(value) {
                issues.push(ConfigIssue::new(
                    at(&format!("headers.{name}")),
                    "a header value cannot contain line breaks or control characters",
                ));
            }
        }
        if c.timeout_secs == 0 {
            issues.push(ConfigIssue::new(at("timeout_secs"), "must be at least 1"));
        }
        if c.queue_max_events == 0 {
            issues.push(ConfigIssue::new(
                at("queue_max_events"),
                "must be at least 1",
            ));
        }
        if let EventOutputConfig::GraphiteEvents(g) = self {
            for (i, tag) in g.tags.iter().enumerate() {
                if tag.is_empty() || tag.chars().any(|ch| ch.is_whitespace() || ch.is_control()) {
                    issues.push(ConfigIssue::new(
                        at(&format!("tags[{i}]")),
                        "a tag must be non-empty and without whitespace (graphite-web splits \
                         tags on spaces)",
                    ));
                }
            }
        }
        issues
    }
}

/// Checks every output of `event_outputs`, naming each as `event_outputs[i]`.
pub fn validate_outputs(outputs: &[EventOutputConfig]) -> Vec<ConfigIssue> {
    outputs
        .iter()
        .enumerate()
        .flat_map(|(i, o)| o.validate(&format!("event_outputs[{i}]")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_externally_tagged() {
        let outs: Vec<EventOutputConfig> = serde_json::from_str(
            r#"[{"Webhook": {"url": "http://127.0.0.1:9000/hook", "headers": {"X-Token": "t"}}},
                {"GraphiteEvents": {"url": "http://graphite/events/", "tags": ["prod"],
                                    "timeout_secs": 2, "max_retries": 1}}]"#,
        )
        .unwrap();
        let EventOutputConfig::Webhook(w) = &outs[0] else {
            panic!("{outs:?}")
        };
        assert_eq!(
            (w.timeout_secs, w.max_retries, w.queue_max_events),
            (5, 5, 10_000)
        );
        assert_eq!(w.headers["X-Token"], "t");
        let EventOutputConfig::GraphiteEvents(g) = &outs[1] else {
            panic!("{outs:?}")
        };
        assert_eq!((g.timeout_secs, g.max_retries), (2, 1));
        assert_eq!(g.tags, ["prod"]);
        assert!(validate_outputs(&outs).is_empty());
        assert_eq!(outs[1].kind(), "GraphiteEvents");
        assert_eq!(outs[1].url(), "http://graphite/events/");
    }

    #[test]
    fn rejects_unknown() {
        let r =
            serde_json::from_str::<EventOutputConfig>(r#"{"Webhook": {"url": "x", "urll": 1}}"#);
        assert!(r.unwrap_err().to_string().contains("urll"));
        assert!(serde_json::from_str::<EventOutputConfig>(r#"{"Slack": {"url": "x"}}"#).is_err());
        assert!(serde_json::from_str::<EventOutputConfig>(r#"{"Webhook": {}}"#).is_err());
    }

    #[test]
    fn validation_names_paths() {
        let outs: Vec<EventOutputConfig> = serde_json::from_str(
            r#"[{"Webhook": {"url": "http://ok/"}},
                {"Webhook": {"url": "https://hooks.example/x", "timeout_secs": 0,
                             "headers": {"Bad Name": "v", "X-A": "a\nb", "host": "h"}}},
                {"GraphiteEvents": {"url": "graphite/events/", "tags": ["a b", ""],
                                    "queue_max_events": 0}}]"#,
        )
        .unwrap();
        let issues: Vec<String> = validate_outputs(&outs)
            .iter()
            .map(|i| i.to_string())
            .collect();
        let expect = [
            "event_outputs[1].Webhook.url: https is not supported yet",
            "event_outputs[1].Webhook.headers.Bad Name: not a valid header name",
            "event_outputs[1].Webhook.headers.X-A: a header value cannot contain",
            "event_outputs[1].Webhook.headers.host: set by the runner",
            "event_outputs[1].Webhook.timeout_secs: must be at least 1",
            "event_outputs[2].GraphiteEvents.url: expected an http:// URL",
            "event_outputs[2].GraphiteEvents.queue_max_events: must be at least 1",
            "event_outputs[2].GraphiteEvents.tags[0]: a tag must be",
            "event_outputs[2].GraphiteEvents.tags[1]: a tag must be",
        ];
        assert_eq!(issues.len(), expect.len(), "{issues:#?}");
        for (got, want) in issues.iter().zip(expect) {
            assert!(got.starts_with(want), "{got} !~ {want}");
        }
    }
}
