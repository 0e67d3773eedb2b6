//! What crosses the boundary as owned data: the series a plugin reads ([`Series`]) and what a
//! task leaves behind ([`Emitted`] points, [`VerdictRecord`]s, [`LogRecord`]s).
//!
//! These are the one shape of each thing wherever it travels: the runner's host, the worker's
//! plugin processes (as JSON lines), the outputs and [`TestHost`](crate::testing::TestHost)
//! all use them. JSON has no NaN or infinity, so a non-finite value is written as `null` and
//! read back as NaN.

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::abi::{Level, Point};

/// One metric's points, as [`Context::read_pattern`](crate::Context::read_pattern) returns
/// them.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// The metric's full name.
    pub name: String,
    /// Its points, oldest first.
    pub points: Vec<Point>,
}

/// An output point a plugin emitted: written to Graphite as `<prefix>.<plugin>.<service>.<field>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Emitted {
    /// The plugin's name.
    pub plugin: String,
    /// The service.
    pub service: String,
    /// The field.
    pub field: String,
    /// The value (`null` in JSON when not finite).
    #[serde(with = "finite")]
    pub value: f64,
    /// Seconds since the epoch.
    pub ts: i64,
}

impl Emitted {
    /// A point of `plugin`'s `service`.
    pub fn new(plugin: &str, service: &str, field: String, value: f64, ts: i64) -> Self {
        Emitted {
            plugin: plugin.to_owned(),
            service: service.to_owned(),
            field,
            value,
            ts,
        }
    }

    /// The series name the runner would write, without its prefix:
    /// `<plugin>.<service>.<field>`.
    pub fn name(&self) -> String {
        format!("{}.{}.{}", self.plugin, self.service, self.field)
    }
}

/// A verdict a plugin reported, as it crossed the boundary; `values` as a JSON object in the
/// plugin's order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerdictRecord {
    /// The plugin (algorithm) name, e.g. `TukeysFilter`.
    pub plugin: String,
    /// The service (an entry of `worker_options`).
    pub service: String,
    /// `ok`, `anomalous` or `unknown`.
    pub state: String,
    /// `info`, `warning` or `critical`.
    pub severity: String,
    /// What is judged: a metric's name, or another subject.
    pub subject: String,
    /// A sentence for a person.
    pub reason: String,
    /// The values behind the verdict, in the plugin's order; a JSON object.
    #[serde(with = "ordered_values")]
    pub values: Vec<(String, f64)>,
    /// When, in seconds since the epoch.
    pub ts: i64,
}

impl VerdictRecord {
    /// The value named `name`, if the verdict carries one.
    pub fn value(&self, name: &str) -> Option<f64> {
        self.values.iter().find(|(n, _)| n == name).map(|(_, v)| *v)
    }
}

/// A line a plugin logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    /// The plugin's name.
    pub plugin: String,
    /// The service.
    pub service: String,
    /// The level.
    pub level: Level,
    /// The message.
    pub message: String,
}

/// `f64` as a JSON number, or `null` when it is not finite (read back as NaN).
mod finite {
    use super::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        if v.is_finite() {
            s.serialize_f64(*v)
        } else {
            s.serialize_none()
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
    }
}

/// Named values (`Vec<(String, f64)>`) as a JSON object that keeps their order, non-finite
/// values as `null`: `#[serde(with = "am_plugin_api::records::ordered_values")]`.
pub mod ordered_values {
    use super::{Deserializer, MapAccess, SerializeMap, Serializer, Visitor};

    /// Serialises the values as an object.
    pub fn serialize<S: Serializer>(values: &[(String, f64)], s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(values.len()))?;
        for (name, value) in values {
            map.serialize_entry(name, &value.is_finite().then_some(*value))?;
        }
        map.end()
    }

    struct InOrder;

    impl<'de> Visitor<'de> for InOrder {
        type Value = Vec<(String, f64)>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an object of named numbers")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::with_capacity(map.size_hint().unwrap_or(0));
            while let Some((name, value)) = map.next_entry::<String, Option<f64>>()? {
                out.push((name, value.unwrap_or(f64::NAN)));
            }
            Ok(out)
        }
    }

    /// Reads an object of named numbers (`null` as NaN), in order.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(String, f64)>, D::Error> {
        d.deserialize_map(InOrder)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_keeps_order_and_survives_non_finite_values() {
        let event = VerdictRecord {
            plugin: "P".into(),
            service: "s".into(),
            state: "anomalous".into(),
            severity: "warning".into(),
            subject: "m".into(),
            reason: "r".into(),
            values: vec![("z".into(), 1.5), ("a".into(), f64::NAN)],
            ts: 7,
        };
        let text = serde_json::to_string(&event).unwrap();
        assert!(text.contains(r#""values":{"z":1.5,"a":null}"#), "{text}");
        let back: VerdictRecord = serde_json::from_str(&text).unwrap();
        assert_eq!(back.values[0], ("z".into(), 1.5));
        assert!(back.values[1].1.is_nan());

        let point = Emitted::new("P", "s", "f".into(), f64::INFINITY, 3);
        let text = serde_json::to_string(&point).unwrap();
        assert!(text.contains(r#""value":null"#), "{text}");
        let back: Emitted = serde_json::from_str(&text).unwrap();
        assert!(back.value.is_nan());
        assert_eq!(back.name(), "P.s.f");
    }
}
