//! Key names. Every key starts with [`PREFIX`], whose digit is the layout version.

use std::fmt::Write as _;

use crate::Model;

/// Prefix of every key this layout writes; bump the digit when the layout changes.
pub const PREFIX: &str = "am1:";

/// The set of model tags that have ever been written (`SMEMBERS` lists the indexes to search).
pub const TAGS: &str = "am1:tags";

/// The key of one chunk: `am1:c:<tag>:<name>:<chunk_start>`.
pub fn chunk(model: &Model, name: &str, chunk_start: i64) -> String {
    let mut key = String::with_capacity(name.len() + 32);
    push_chunk(&mut key, &model.tag(), name, chunk_start);
    key
}

/// Appends the chunk key to `out`, for callers that reuse a buffer.
pub fn push_chunk(out: &mut String, tag: &str, name: &str, chunk_start: i64) {
    out.push_str(PREFIX);
    out.push_str("c:");
    out.push_str(tag);
    out.push(':');
    out.push_str(name);
    out.push(':');
    // Writing to a String cannot fail.
    let _ = write!(out, "{chunk_start}");
}

/// The name index of a model: a sorted set with every score 0, so `ZRANGEBYLEX` finds the
/// names sharing a prefix in O(log n + k).
pub fn index(tag: &str) -> String {
    format!("{PREFIX}idx:{tag}")
}

/// Last-seen set of a model: name scored by the start of its newest chunk, so the writer can
/// drop names whose data has expired from the index.
pub fn seen(tag: &str) -> String {
    format!("{PREFIX}seen:{tag}")
}
