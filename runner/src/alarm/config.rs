//! The alarm settings of analyzer.json: `alarms` (where the state and history live) and each
//! algorithm's `alarm` (flap control, per algorithm with per-service overrides), resolved into a
//! [`Policy`] in seconds.

use std::collections::BTreeMap;

use indexmap::IndexMap;
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};

/// `alarms` in analyzer.json: where alarm state and history live.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlarmsConfig {
    /// Prefix of the Redis keys of alarm state and history (default `am1:alarm`; the keys are
    /// under `{<prefix>}`, a hash tag, so they share one slot of a Redis Cluster); runners
    /// sharing alarms use the same.
    pub prefix: String,
    /// Transitions kept in the history stream (`{<prefix>}:transitions`), oldest trimmed first
    /// (default 100,000). Notifiers read from it: one that falls this far behind loses the
    /// oldest, counted and logged.
    pub history_max_len: u64,
    /// Write each alarm's state to Graphite as `<prefix>.<Plugin>.<service>.alarm.<subject>`
    /// (0 OK, 1 PENDING, 2 ALARM, 3 UNDETERMINED) at every run that judges it (default true).
    pub graphite_state: bool,
}

impl Default for AlarmsConfig {
    fn default() -> Self {
        AlarmsConfig {
            prefix: "am1:alarm".into(),
            history_max_len: 100_000,
            graphite_state: true,
        }
    }
}

/// A length of time: seconds (`90`), or text with a unit: `"30s"`, `"5m"`, `"2h"`, `"1d"`, or
/// `"3 ticks"` (a number of the algorithm's schedule periods).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Span {
    /// Seconds.
    Secs(u64),
    /// Schedule periods.
    Ticks(u64),
}

impl Span {
    /// In seconds, for a schedule of `period` seconds.
    pub fn secs(self, period: u64) -> u64 {
        match self {
            Span::Secs(s) => s,
            Span::Ticks(t) => t.saturating_mul(period),
        }
    }

    fn parse(text: &str) -> Result<Span, String> {
        let t = text.trim();
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        let n: u64 = num
            .parse()
            .map_err(|_| format!("{text:?} is not a duration"))?;
        let secs = |mult: u64| Ok(Span::Secs(n.saturating_mul(mult)));
        match unit.trim() {
            "" | "s" => secs(1),
            "m" => secs(60),
            "h" => secs(3600),
            "d" => secs(86_400),
            "tick" | "ticks" => Ok(Span::Ticks(n)),
            other => Err(format!(
                "unknown unit {other:?} in {text:?}: expected seconds, or a number with s, m, h, d or ticks"
            )),
        }
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Span, D::Error> {
        struct SpanVisitor;
        impl Visitor<'_> for SpanVisitor {
            type Value = Span;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(r#"seconds, or a duration such as "30s", "5m", "2h" or "3 ticks""#)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Span, E> {
                Ok(Span::Secs(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Span, E> {
                u64::try_from(v)
                    .map(Span::Secs)
                    .map_err(|_| E::custom("a duration cannot be negative"))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Span, E> {
                Span::parse(v).map_err(E::custom)
            }
        }
        d.deserialize_any(SpanVisitor)
    }
}

/// `services.<Algorithm>.alarm` in analyzer.json: flap control for the algorithm's alarms,
/// and in `services`, overrides per service.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlarmConfig {
    /// How long an anomalous verdict must hold before the alarm fires; PENDING until then.
    /// Default 0: the first anomalous verdict fires.
    #[serde(rename = "for")]
    pub for_: Option<Span>,
    /// How long a firing alarm keeps firing after its verdict turned ok, so a flapping series
    /// does not notify on every flap. Default `"3 ticks"`.
    pub keep_firing_for: Option<Span>,
    /// A firing alarm that no run judges for this long becomes UNDETERMINED (its task keeps
    /// failing, or its subject is gone). Default `"10 ticks"`; 0 turns it off.
    pub undetermined_after: Option<Span>,
    /// The severity of the alarms (`info`, `warning`, `critical`), instead of the plugin's.
    pub severity: Option<SeverityWord>,
    /// Labels added to the alarms' notifications (Alertmanager labels, webhook body).
    pub labels: BTreeMap<String, String>,
    /// Per-service overrides, by service name (a key of `worker_options`): a setting a
    /// service does not give is the algorithm's. Only at the algorithm level.
    pub services: IndexMap<String, AlarmConfig>,
}

/// A severity word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SeverityWord {
    /// `info`.
    Info,
    /// `warning`.
    Warning,
    /// `critical`.
    Critical,
}

impl SeverityWord {
    /// The word.
    pub fn as_str(self) -> &'static str {
        match self {
            SeverityWord::Info => "info",
            SeverityWord::Warning => "warning",
            SeverityWord::Critical => "critical",
        }
    }
}

/// The flap control of one service's alarms, in seconds: what travels with each task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// `for`.
    pub for_secs: u64,
    /// `keep_firing_for`.
    pub keep_firing_secs: u64,
    /// `undetermined_after` (0: never).
    pub undetermined_secs: u64,
    /// The severity instead of the plugin's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
    /// Labels added to notifications.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy::resolve(None, "", 60)
    }
}

impl Policy {
    /// The policy of `service` from its algorithm's `alarm` config, for a schedule of
    /// `period` seconds.
    pub fn resolve(config: Option<&AlarmConfig>, service: &str, period: u64) -> Policy {
        let none = AlarmConfig::default();
        let alg = config.unwrap_or(&none);
        let svc = alg.services.get(service).unwrap_or(&none);
        let pick = |f: fn(&AlarmConfig) -> Option<Span>, default: Span| {
            f(svc).or(f(alg)).unwrap_or(default).secs(period)
        };
        let mut labels = alg.labels.clone();
        labels.extend(svc.labels.clone());
        Policy {
            for_secs: pick(|s| s.for_, Span::Secs(0)),
            keep_firing_secs: pick(|s| s.keep_firing_for, Span::Ticks(3)),
            undetermined_secs: pick(|s| s.undetermined_after, Span::Ticks(10)),
            severity: svc.severity.or(alg.severity).map(|s| s.as_str().to_owned()),
            labels,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_parse_and_resolve() {
        let spans: Vec<Span> =
            serde_json::from_str(r#"[90, "30s", "5m", "2h", "1d", "3 ticks", "1tick"]"#).unwrap();
        let secs: Vec<u64> = spans.iter().map(|s| s.secs(10)).collect();
        assert_eq!(secs, [90, 30, 300, 7200, 86_400, 30, 10]);
        let bad = serde_json::from_str::<Span>(r#""3 weeks""#).unwrap_err();
        assert!(bad.to_string().contains("unknown unit"), "{bad}");
        assert!(serde_json::from_str::<Span>("-1").is_err());
    }

    #[test]
    fn services_override_their_algorithm() {
        let c: AlarmConfig = serde_json::from_str(
            r#"{"for": "2 ticks", "severity": "critical", "labels": {"team": "ops"},
                "services": {"web": {"for": 5, "labels": {"tier": "front"}}}}"#,
        )
        .unwrap();
        let web = Policy::resolve(Some(&c), "web", 10);
        assert_eq!(
            (web.for_secs, web.keep_firing_secs, web.undetermined_secs),
            (5, 30, 100)
        );
        assert_eq!(web.severity.as_deref(), Some("critical"));
        assert_eq!(web.labels.len(), 2);
        let db = Policy::resolve(Some(&c), "db", 10);
        assert_eq!(db.for_secs, 20);
        assert_eq!(Policy::resolve(None, "x", 60).keep_firing_secs, 180);
        let typo = serde_json::from_str::<AlarmConfig>(r#"{"fro": 3}"#);
        assert!(typo.is_err());
    }
}
