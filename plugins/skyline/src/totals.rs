//! A tick's totals, and summing them over the shards of a sharded service through the plugin
//! state.

use am_plugin_api::{Context, ErrorKind, PluginError};
use serde::{Deserialize, Serialize};

/// How many of its latest ticks a shard keeps in its state entry: a tick's totals are summed
/// as long as every shard finished it before running this many later ticks.
const KEPT_TICKS: usize = 8;

/// One task's (or, summed, one tick's) counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    /// Metrics judged.
    pub analysed: u64,
    /// Metrics judged anomalous.
    pub anomalous: u64,
    /// Metrics skipped as too short.
    pub skipped_short: u64,
    /// Metrics skipped as stale.
    pub skipped_stale: u64,
    /// Metrics skipped as boring.
    pub skipped_boring: u64,
    /// Run time in milliseconds (summed: the slowest shard's).
    pub run_time_ms: f64,
}

impl Totals {
    /// The sums of the counts, the largest run time.
    fn add(self, other: Totals) -> Totals {
        Totals {
            analysed: self.analysed + other.analysed,
            anomalous: self.anomalous + other.anomalous,
            skipped_short: self.skipped_short + other.skipped_short,
            skipped_stale: self.skipped_stale + other.skipped_stale,
            skipped_boring: self.skipped_boring + other.skipped_boring,
            run_time_ms: self.run_time_ms.max(other.run_time_ms),
        }
    }

    /// Writes the output fields.
    fn emit(&self, ctx: &Context<'_>) -> Result<(), PluginError> {
        ctx.emit("analysed", self.analysed as f64)?;
        ctx.emit("anomalous", self.anomalous as f64)?;
        ctx.emit("skipped_short", self.skipped_short as f64)?;
        ctx.emit("skipped_stale", self.skipped_stale as f64)?;
        ctx.emit("skipped_boring", self.skipped_boring as f64)?;
        ctx.emit("run_time_ms", self.run_time_ms)
    }
}

/// A shard's state entry: its totals of its latest ticks, oldest first.
type Entry = Vec<(i64, Totals)>;

/// The state key of `shard`'s entry. The shard count is part of it, so entries written under
/// another sharding never mix in.
pub(crate) fn key(shard: u32, shards: u32) -> String {
    format!("totals:{shard}/{shards}")
}

/// Reads a shard's entry; one that does not parse (an older format) counts as none and is
/// overwritten by its shard's next report.
fn read_entry(ctx: &Context<'_>, key: &str) -> Result<Option<Entry>, PluginError> {
    match ctx.state_get_json::<Entry>(key) {
        Err(e) if e.kind() == ErrorKind::Data => Ok(None),
        other => other,
    }
}

/// Reports this task's totals: unsharded, writes them; sharded, records them in this shard's
/// state entry and, when every shard has recorded this tick, writes the sums.
pub(crate) fn report(
    ctx: &Context<'_>,
    shard: u32,
    shards: u32,
    totals: Totals,
) -> Result<(), PluginError> {
    if shards <= 1 {
        return totals.emit(ctx);
    }
    let tick = ctx.tick();
    let own = key(shard, shards);
    // Only this shard writes its entry: no lost updates.
    let mut entry = read_entry(ctx, &own)?.unwrap_or_default();
    entry.retain(|(t, _)| *t != tick);
    entry.push((tick, totals));
    entry.sort_by_key(|(t, _)| *t);
    let excess = entry.len().saturating_sub(KEPT_TICKS);
    entry.drain(..excess);
    ctx.state_set_json(&own, &entry)?;

    let mut sum = Totals::default();
    for other in 0..shards {
        let found = if other == shard {
            Some(totals)
        } else {
            read_entry(ctx, &key(other, shards))?
                .and_then(|e| e.iter().find(|(t, _)| *t == tick).map(|(_, t)| *t))
        };
        match found {
            Some(t) => sum = sum.add(t),
            // Not complete yet: the shard that completes the set writes the sums.
            None => return Ok(()),
        }
    }
    sum.emit(ctx)
}
