//! [`Value`]: one Redis reply, as the store's users read it.
//!
//! The bytes on the wire are the `redis` crate's business (it connects, speaks TLS, follows
//! Sentinel and the cluster's map); this is the shape the runner's queue, alarms and state
//! code match on, converted from the crate's own value without copying strings.

pub use crate::addr::RedisAddr;

/// One RESP2 reply.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `+OK` and friends.
    Simple(String),
    /// `-ERR ...`: the server refused the command (code and message).
    Error(String),
    /// `:123`.
    Int(i64),
    /// `$n` bulk string, `None` for the null bulk string.
    Bulk(Option<Vec<u8>>),
    /// `*n` array, `None` for the null array.
    Array(Option<Vec<Value>>),
}

impl Value {
    /// The server's error message, if this reply is an error.
    pub fn as_error(&self) -> Option<&str> {
        match self {
            Value::Error(e) => Some(e),
            _ => None,
        }
    }
}

/// A server error as RESP shows it: `CODE detail`.
pub(crate) fn error_text(code: &str, detail: Option<&str>) -> String {
    match detail {
        Some(d) if !d.is_empty() => format!("{code} {d}"),
        _ => code.to_string(),
    }
}

impl From<redis::Value> for Value {
    fn from(v: redis::Value) -> Value {
        match v {
            redis::Value::Nil => Value::Bulk(None),
            redis::Value::Int(n) => Value::Int(n),
            redis::Value::BulkString(b) => Value::Bulk(Some(b)),
            redis::Value::Array(items) | redis::Value::Set(items) => {
                Value::Array(Some(items.into_iter().map(Value::from).collect()))
            }
            redis::Value::SimpleString(s) => Value::Simple(s),
            redis::Value::Okay => Value::Simple("OK".into()),
            redis::Value::Map(pairs) => Value::Array(Some(
                pairs
                    .into_iter()
                    .flat_map(|(k, v)| [Value::from(k), Value::from(v)])
                    .collect(),
            )),
            redis::Value::Double(d) => Value::Bulk(Some(d.to_string().into_bytes())),
            redis::Value::Boolean(b) => Value::Int(i64::from(b)),
            redis::Value::VerbatimString { text, .. } => Value::Bulk(Some(text.into_bytes())),
            redis::Value::ServerError(e) => Value::Error(error_text(e.code(), e.details())),
            other => Value::Bulk(Some(format!("{other:?}").into_bytes())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_the_crates_values() {
        let v = redis::Value::Array(vec![
            redis::Value::Int(1),
            redis::Value::Nil,
            redis::Value::BulkString(b"x".to_vec()),
            redis::Value::Okay,
        ]);
        assert_eq!(
            Value::from(v),
            Value::Array(Some(vec![
                Value::Int(1),
                Value::Bulk(None),
                Value::Bulk(Some(b"x".to_vec())),
                Value::Simple("OK".into()),
            ]))
        );
        assert_eq!(
            error_text("NOSCRIPT", Some("No matching")),
            "NOSCRIPT No matching"
        );
        assert_eq!(error_text("ERR", None), "ERR");
    }
}
