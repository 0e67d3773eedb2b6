//! What each output sends for a transition (or, for Alertmanager, for a firing alarm).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Value, json};

use super::config::{AlertmanagerConfig, PagerDutyConfig, SlackConfig};
use crate::alarm::{AlarmState, Transition};

/// `name=value, ...` of a transition's values.
fn values_text(values: &[(String, f64)]) -> String {
    values
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One line for a person: `ALARM Threshold/cpu servers.web01.cpu: avg 95 > 90 (avg=95)`, the
/// names as text: control characters escaped, so no name can add a line.
pub fn summary(t: &Transition) -> String {
    let mut s = format!(
        "{} {}/{} {}",
        t.state.as_str().to_uppercase(),
        t.algorithm,
        t.service,
        t.subject
    );
    if !t.reason.is_empty() {
        s.push_str(": ");
        s.push_str(&t.reason);
    }
    if !t.values.is_empty() {
        s.push_str(&format!(" ({})", values_text(&t.values)));
    }
    am_daemon::text::escaped(&s).into_owned()
}

/// The `Webhook` body: the transition as JSON.
pub fn webhook(t: &Transition) -> Result<Vec<u8>, serde_json::Error> {
    serde_json::to_vec(t)
}

/// graphite-web's event body (`POST /events/`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GraphiteEvent {
    /// Title: `<Plugin> <service> <state>: <metric>`.
    pub what: String,
    /// `anna-molly`, the plugin, the service, the state, then the configured extra tags.
    pub tags: Vec<String>,
    /// The reason and the values: `<reason> (name=value, ...)`.
    pub data: String,
    /// The transition's time, seconds since the epoch.
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
    /// The event of a transition, with `extra_tags` after the standard ones.
    pub fn of(t: &Transition, extra_tags: &[String]) -> GraphiteEvent {
        let mut tags = vec![
            "anna-molly".to_string(),
            tag(&t.plugin),
            tag(&t.service),
            tag(t.state.as_str()),
        ];
        tags.extend(extra_tags.iter().map(|x| tag(x)));
        let mut data = t.reason.clone();
        if !t.values.is_empty() {
            if !data.is_empty() {
                data.push(' ');
            }
            data.push_str(&format!("({})", values_text(&t.values)));
        }
        GraphiteEvent {
            what: format!("{} {} {}: {}", t.plugin, t.service, t.state, t.subject),
            tags,
            data,
            when: t.ts,
        }
    }
}

/// Slack's text needs `&`, `<` and `>` escaped, or a name could become a link or a mention.
fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The Slack incoming-webhook body.
pub fn slack(t: &Transition, c: &SlackConfig) -> Value {
    let icon = match t.state {
        AlarmState::Alarm => ":red_circle:",
        AlarmState::Ok => ":large_green_circle:",
        AlarmState::Undetermined => ":grey_question:",
        AlarmState::Pending => ":large_yellow_circle:",
    };
    let mut body = json!({
        "text": format!("{icon} {}", slack_escape(&summary(t))),
        "username": c.username,
    });
    if let Some(ch) = &c.channel {
        body["channel"] = json!(ch);
    }
    body
}

/// The PagerDuty Events API v2 body: trigger on ALARM and UNDETERMINED, resolve on OK, one
/// `dedup_key` per alarm.
pub fn pagerduty(t: &Transition, c: &PagerDutyConfig) -> Value {
    let action = if t.state == AlarmState::Ok {
        "resolve"
    } else {
        "trigger"
    };
    let severity = match (t.state, t.severity.as_str()) {
        (AlarmState::Undetermined, _) => "info",
        (_, "critical") => "critical",
        (_, "info") => "info",
        _ => "warning",
    };
    let values: BTreeMap<&str, f64> = t.values.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    json!({
        "routing_key": c.routing_key,
        "event_action": action,
        "dedup_key": t.alarm_id(),
        "payload": {
            "summary": summary(t),
            "source": c.source.clone().unwrap_or_else(|| t.subject.clone()),
            "severity": severity,
            "timestamp": rfc3339(t.ts),
            "component": t.service,
            "group": t.algorithm,
            "class": t.plugin,
            "custom_details": { "state": t.state, "previous_state": t.previous_state,
                                "reason": t.reason, "values": values, "labels": t.labels },
        },
    })
}

/// One alert for Alertmanager's API v2.
#[derive(Debug, Clone)]
pub struct Alert<'a> {
    /// The alarm's transition (or, for a re-send, its stored state as one).
    pub transition: &'a Transition,
    /// When the alert ends: for a firing alarm a few re-send intervals ahead, for a resolved
    /// one its resolution.
    pub ends_at: i64,
}

/// Alertmanager's `POST /api/v2/alerts` body.
pub fn alertmanager(alerts: &[Alert<'_>], c: &AlertmanagerConfig) -> Value {
    let list: Vec<Value> = alerts
        .iter()
        .map(|a| {
            let t = a.transition;
            let mut labels: BTreeMap<String, String> = c.labels.clone();
            labels.extend(t.labels.clone());
            labels.insert("alertname".into(), t.plugin.clone());
            labels.insert("service".into(), t.service.clone());
            labels.insert("metric".into(), t.subject.clone());
            labels.insert("severity".into(), t.severity.clone());
            if t.algorithm != t.plugin {
                labels.insert("algorithm".into(), t.algorithm.clone());
            }
            let mut annotations = BTreeMap::from([
                ("summary".to_string(), summary(t)),
                ("state".to_string(), t.state.as_str().to_string()),
            ]);
            if !t.reason.is_empty() {
                annotations.insert("reason".into(), t.reason.clone());
            }
            if !t.values.is_empty() {
                annotations.insert("values".into(), values_text(&t.values));
            }
            let mut alert = json!({
                "labels": labels,
                "annotations": annotations,
                "startsAt": rfc3339(t.since),
                "endsAt": rfc3339(a.ends_at),
            });
            if let Some(g) = &c.generator_url {
                alert["generatorURL"] = json!(g);
            }
            alert
        })
        .collect();
    Value::Array(list)
}

/// Seconds since the epoch as RFC 3339 (UTC).
pub fn rfc3339(ts: i64) -> String {
    chrono::DateTime::from_timestamp(ts, 0)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".into())
}

#[cfg(test)]
mod tests;
