//! `event_outputs` in analyzer.json: where alarm transitions go, each output externally tagged
//! like anna-molly's sinks:
//!
//! ```json
//! "event_outputs": [
//!   { "Alertmanager": { "url": ["http://am1:9093", "http://am2:9093"], "labels": { "team": "ops" } } },
//!   { "PagerDuty": { "routing_key": "R0UT1NGK3Y" } },
//!   { "Slack": { "url": "https://hooks.slack.com/services/T/B/X" } },
//!   { "Email": { "smtp": "mail.example.com:587", "from": "am@example.com", "to": ["ops@example.com"] } },
//!   { "Webhook": { "url": "https://alerts.local/hook", "headers": { "X-Token": "..." } } },
//!   { "GraphiteEvents": { "url": "http://graphite/events/", "tags": ["prod"] } }
//! ]
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use crate::output::ConfigIssue;

/// Declares an output's config struct with the delivery settings every output has after its
/// own fields (one definition of their names, defaults and docs; each struct stays a plain
/// serde struct, so unknown keys and the JSON paths of errors keep working).
macro_rules! output_config {
    ($(#[$meta:meta])* pub struct $name:ident { $($body:tt)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            $($body)*
            /// A name for this output, unique among the outputs; its delivery progress in Redis
            /// is kept under it, so renaming it starts afresh. Default: the kind and where it
            /// sends to.
            pub name: Option<String>,
            /// Seconds allowed for one attempt (connect, send, answer), 5 by default.
            #[serde(default = "default_timeout_secs")]
            pub timeout_secs: u64,
            /// Retries after a failed attempt (a 5xx, 408 or 429 answer, a timeout, a refused
            /// connection), 10 by default, 0.5 s apart and doubling up to 60 s (about 4 minutes in
            /// all); then the notification is given up, counted and logged.
            #[serde(default = "default_max_retries")]
            pub max_retries: u32,
            /// A PEM file of certificate authorities trusted for `https://` (and SMTP TLS) besides
            /// the system's.
            pub ca_file: Option<PathBuf>,
            /// Accepted for older configs; unused: the transitions stream is the queue
            /// (`alarms.history_max_len` bounds it).
            pub queue_max_events: Option<usize>,
        }
    };
}

/// One output of alarm transitions.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum OutputConfig {
    /// Prometheus' Alertmanager: alerts posted to its API v2, firing ones re-sent every
    /// `resend_interval`, resolved ones with their `endsAt`.
    Alertmanager(AlertmanagerConfig),
    /// PagerDuty's Events API v2: trigger and resolve, with a stable `dedup_key` per alarm.
    PagerDuty(PagerDutyConfig),
    /// A Slack incoming webhook.
    Slack(SlackConfig),
    /// Email over SMTP (STARTTLS by default).
    Email(EmailConfig),
    /// `POST` of each transition as JSON.
    Webhook(WebhookConfig),
    /// A graphite-web event per transition (annotations in graphite-web and Grafana).
    GraphiteEvents(GraphiteEventsConfig),
}

/// One URL or several.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Urls {
    /// One.
    One(String),
    /// Several (an Alertmanager cluster: each gets every alert).
    Many(Vec<String>),
}

impl Urls {
    /// The URLs.
    pub fn list(&self) -> Vec<&str> {
        match self {
            Urls::One(u) => vec![u.as_str()],
            Urls::Many(v) => v.iter().map(String::as_str).collect(),
        }
    }
}

output_config! {
    /// `{"Alertmanager": {...}}`.
    pub struct AlertmanagerConfig {
        /// Alertmanager's base URL (`http://host:9093`), or a list for a cluster.
        pub url: Urls,
        /// Labels added to every alert, besides `alertname` (the plugin), `service`, `metric`,
        /// `severity` and the alarm's own labels.
        #[serde(default)]
        pub labels: BTreeMap<String, String>,
        /// Seconds between re-sends of the firing alerts (as Prometheus does, so Alertmanager never
        /// times them out), 60 by default; a firing alert's `endsAt` is four of these ahead.
        #[serde(default = "default_resend_interval")]
        pub resend_interval: u64,
        /// The alerts' `generatorURL` (a link back, such as the console); none by default.
        pub generator_url: Option<String>,
    }
}

output_config! {
    /// `{"PagerDuty": {...}}`.
    pub struct PagerDutyConfig {
        /// The integration's routing key.
        pub routing_key: String,
        /// The Events API v2 endpoint (default `https://events.pagerduty.com/v2/enqueue`).
        #[serde(default = "default_pagerduty_url")]
        pub url: String,
        /// The `source` of the events: default, the alarm's metric.
        pub source: Option<String>,
    }
}

output_config! {
    /// `{"Slack": {...}}`.
    pub struct SlackConfig {
        /// The incoming webhook's URL.
        pub url: String,
        /// A channel to post to instead of the webhook's own.
        pub channel: Option<String>,
        /// The name to post as; default `anna-molly`.
        #[serde(default = "default_slack_username")]
        pub username: String,
    }
}

output_config! {
    /// `{"Email": {...}}`.
    pub struct EmailConfig {
        /// The SMTP server, `host:port` (port 587 by default).
        pub smtp: String,
        /// `starttls` (the default: refuse a server that does not offer it), `tls` (TLS from the
        /// first byte, port 465) or `none` (plaintext; only for a relay on localhost).
        #[serde(default = "default_email_security")]
        pub security: String,
        /// The sender.
        pub from: String,
        /// The recipients.
        pub to: Vec<String>,
        /// The SMTP user, when the server wants one.
        pub username: Option<String>,
        /// Its password.
        pub password: Option<String>,
        /// Put before each subject; default `[anna-molly]`.
        #[serde(default = "default_subject_prefix")]
        pub subject_prefix: String,
    }
}

output_config! {
    /// `{"Webhook": {...}}`.
    pub struct WebhookConfig {
        /// Where to `POST` (`http://` or `https://`).
        pub url: String,
        /// Extra request headers (e.g. `Authorization`); none by default.
        #[serde(default)]
        pub headers: BTreeMap<String, String>,
    }
}

output_config! {
    /// `{"GraphiteEvents": {...}}`.
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
    }
}

fn default_timeout_secs() -> u64 {
    5
}
fn default_max_retries() -> u32 {
    10
}
fn default_resend_interval() -> u64 {
    60
}
fn default_pagerduty_url() -> String {
    "https://events.pagerduty.com/v2/enqueue".into()
}
fn default_slack_username() -> String {
    "anna-molly".into()
}
fn default_email_security() -> String {
    "starttls".into()
}
fn default_subject_prefix() -> String {
    "[anna-molly]".into()
}

/// The delivery settings of an output, borrowed.
#[derive(Debug, Clone, Copy)]
pub struct Delivery<'a> {
    /// The variant's name as written in the config.
    pub kind: &'static str,
    /// Where it sends to (a URL, or the SMTP server), for names and logs.
    pub target: &'a str,
    /// Its configured name.
    pub name: Option<&'a str>,
    /// Seconds per attempt.
    pub timeout_secs: u64,
    /// Retries.
    pub max_retries: u32,
    /// Extra CAs.
    pub ca_file: Option<&'a PathBuf>,
    /// Extra headers.
    pub headers: Option<&'a BTreeMap<String, String>>,
}

macro_rules! delivery {
    ($c:expr, $kind:literal, $target:expr, $headers:expr) => {
        Delivery {
            kind: $kind,
            target: $target,
            name: $c.name.as_deref(),
            timeout_secs: $c.timeout_secs,
            max_retries: $c.max_retries,
            ca_file: $c.ca_file.as_ref(),
            headers: $headers,
        }
    };
}

impl OutputConfig {
    /// Its delivery settings.
    pub fn delivery(&self) -> Delivery<'_> {
        match self {
            OutputConfig::Alertmanager(c) => {
                delivery!(
                    c,
                    "Alertmanager",
                    c.url.list().first().copied().unwrap_or(""),
                    None
                )
            }
            OutputConfig::PagerDuty(c) => delivery!(c, "PagerDuty", &c.url, None),
            OutputConfig::Slack(c) => delivery!(c, "Slack", &c.url, None),
            OutputConfig::Email(c) => delivery!(c, "Email", &c.smtp, None),
            OutputConfig::Webhook(c) => delivery!(c, "Webhook", &c.url, Some(&c.headers)),
            OutputConfig::GraphiteEvents(c) => {
                delivery!(c, "GraphiteEvents", &c.url, Some(&c.headers))
            }
        }
    }

    /// The name of its delivery progress in Redis: its `name`, else its kind and a hash of
    /// where it sends, so reordering the outputs changes nothing.
    pub fn id(&self) -> String {
        let d = self.delivery();
        match d.name {
            Some(n) => n.to_owned(),
            None => {
                let mut h: u64 = 0xcbf2_9ce4_8422_2325;
                for b in d.target.bytes() {
                    h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
                }
                format!("{}-{h:016x}", d.kind)
            }
        }
    }

    /// Checks values serde cannot. `path` is where this output sits (`event_outputs[0]`);
    /// issues name the field below it (`event_outputs[0].Webhook.url`).
    pub fn validate(&self, path: &str) -> Vec<ConfigIssue> {
        let d = self.delivery();
        let at = |field: &str| format!("{path}.{}.{field}", d.kind);
        let mut issues = Vec::new();
        let urls: Vec<(&str, &str)> = match self {
            OutputConfig::Alertmanager(c) => c.url.list().into_iter().map(|u| ("url", u)).collect(),
            OutputConfig::Email(_) => Vec::new(),
            _ => vec![("url", d.target)],
        };
        if urls.is_empty() && !matches!(self, OutputConfig::Email(_)) {
            issues.push(ConfigIssue::new(at("url"), "give at least one URL"));
        }
        for (field, url) in urls {
            if let Err(e) = super::http::check_url(url) {
                issues.push(ConfigIssue::new(at(field), e));
            }
        }
        for (name, value) in d.headers.into_iter().flatten() {
            if let Err(e) = super::http::check_header(name, value) {
                issues.push(ConfigIssue::new(at(&format!("headers.{name}")), e));
            }
        }
        if d.timeout_secs == 0 {
            issues.push(ConfigIssue::new(at("timeout_secs"), "must be at least 1"));
        }
        if let Some(f) = d.ca_file
            && let Err(e) = std::fs::read(f)
        {
            issues.push(ConfigIssue::new(
                at("ca_file"),
                format!("cannot read {}: {e}", f.display()),
            ));
        }
        match self {
            OutputConfig::GraphiteEvents(g) => {
                for (i, tag) in g.tags.iter().enumerate() {
                    if tag.is_empty() || tag.chars().any(|ch| ch.is_whitespace() || ch.is_control())
                    {
                        issues.push(ConfigIssue::new(
                            at(&format!("tags[{i}]")),
                            "a tag must be non-empty and without whitespace (graphite-web splits tags on spaces)",
                        ));
                    }
                }
            }
            OutputConfig::Alertmanager(a) if a.resend_interval == 0 => {
                issues.push(ConfigIssue::new(
                    at("resend_interval"),
                    "must be at least 1",
                ));
            }
            OutputConfig::Email(e) => issues.extend(super::email::validate(e, &at)),
            _ => {}
        }
        issues
    }
}

/// Checks every output of `event_outputs`, naming each as `event_outputs[i]`; two outputs
/// may not share a name.
pub fn validate_outputs(outputs: &[OutputConfig]) -> Vec<ConfigIssue> {
    let mut issues: Vec<ConfigIssue> = outputs
        .iter()
        .enumerate()
        .flat_map(|(i, o)| o.validate(&format!("event_outputs[{i}]")))
        .collect();
    let mut seen = std::collections::HashMap::new();
    for (i, o) in outputs.iter().enumerate() {
        if let Some(first) = seen.insert(o.id(), i) {
            issues.push(ConfigIssue::new(
                format!("event_outputs[{i}]"),
                format!(
                    "sends to the same place as event_outputs[{first}]; give one a distinct `name`"
                ),
            ));
        }
    }
    issues
}
