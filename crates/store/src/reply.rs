//! Reading replies of the shapes the runner's queue and alarms use: arrays of integers or
//! strings, and stream entries.

use std::collections::HashMap;

use crate::resp::Value;

/// A stream entry: its id and its fields.
pub type Entry = (String, HashMap<String, String>);

impl Value {
    /// The integers of an array reply (or the one integer of an integer reply).
    pub fn ints(&self) -> Vec<i64> {
        match self {
            Value::Array(Some(items)) => items
                .iter()
                .filter_map(|i| match i {
                    Value::Int(n) => Some(*n),
                    _ => None,
                })
                .collect(),
            Value::Int(n) => vec![*n],
            _ => Vec::new(),
        }
    }

    /// The strings of an array reply (bulk and simple strings, lossy UTF-8).
    pub fn into_strings(self) -> Vec<String> {
        match self {
            Value::Array(Some(items)) => items
                .into_iter()
                .filter_map(|i| match i {
                    Value::Bulk(Some(b)) => Some(String::from_utf8_lossy(&b).into_owned()),
                    Value::Simple(s) => Some(s),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    /// The entries of a stream range reply (`XRANGE`, `XREVRANGE`, `XAUTOCLAIM`'s second
    /// element): `[[id, [field, value, ...]], ...]` as (id, fields); entries without fields
    /// (deleted) are skipped.
    pub fn into_entries(self) -> Vec<Entry> {
        let Value::Array(Some(items)) = self else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for item in items {
            let Value::Array(Some(mut pair)) = item else {
                continue;
            };
            if pair.len() != 2 {
                continue;
            }
            let fields = pair.remove(1).into_strings();
            let Some(id) = Value::Array(Some(pair)).into_strings().pop() else {
                continue;
            };
            let map = fields
                .chunks(2)
                .filter_map(|kv| match kv {
                    [k, v] => Some((k.clone(), v.clone())),
                    _ => None,
                })
                .collect();
            out.push((id, map));
        }
        out
    }

    /// The entries of the first stream of an `XREADGROUP` reply (`[[stream, entries]]`, or nil
    /// after its block time).
    pub fn into_read_entries(self) -> Vec<Entry> {
        let Value::Array(Some(streams)) = self else {
            return Vec::new();
        };
        streams
            .into_iter()
            .next()
            .and_then(|s| match s {
                Value::Array(Some(mut parts)) if parts.len() == 2 => parts.pop(),
                _ => None,
            })
            .map(Value::into_entries)
            .unwrap_or_default()
    }
}
