//! Batching points into `APPEND` commands, one per chunk per batch.

use super::{Cmd, CmdKind, Meta, ModelTable};
use crate::Model;
use crate::codec::{RECORD_LEN, record};
use crate::keys;

/// How far ahead of the clock a timestamp may be (clock skew between hosts); never more than
/// the model's ttl.
pub const MAX_FUTURE_SECS: u32 = 600;

/// What happened to the points handed to [`Batch::push`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PushCounts {
    /// Copies queued for writing (one per model).
    pub queued: u32,
    /// Copies older than their model's retention: writing them would only delete them again.
    pub expired: u32,
    /// Copies refused because the timestamp is not a finite number, or is more than
    /// [`MAX_FUTURE_SECS`] (at most the ttl) ahead of the clock.
    pub bad_timestamp: u32,
}

/// One chunk's worth of points in a batch.
#[derive(Debug, Clone, Copy)]
struct Slot {
    /// Where the name is in the batch's name arena.
    name: (u32, u32),
    model: u16,
    chunk_start: i64,
    /// Records queued for this slot (an interval bucket rewritten in a row counts once).
    records: u32,
    /// Point copies behind those records.
    points: u32,
    /// The last record's index in `records`, to replace a rewritten interval bucket in place.
    last: u32,
}

/// Points waiting to be written, grouped by chunk so that a chunk gets one `APPEND` per batch.
///
/// Built for the hot path: names go into one arena, records into one vector, and a hash table
/// of slot numbers finds a chunk again; pushing a point allocates nothing once the vectors have
/// grown.
#[derive(Debug, Default)]
pub struct Batch {
    names: String,
    slots: Vec<Slot>,
    lookup: hashbrown::HashTable<u32>,
    /// (slot, record) in arrival order.
    records: Vec<(u32, [u8; RECORD_LEN])>,
    points: usize,
    key_bytes: usize,
}

fn slot_hash(name: &str, model: u16, chunk_start: i64) -> u64 {
    use std::hash::{BuildHasher, Hash, Hasher};
    let mut h = foldhash::fast::FixedState::with_seed(0x5eed).build_hasher();
    name.hash(&mut h);
    model.hash(&mut h);
    chunk_start.hash(&mut h);
    h.finish()
}

impl Batch {
    /// Queues one datapoint for each of `models` (ids in `table`).
    ///
    /// `now` is the Unix time used to recognise points already past their retention.
    pub fn push(
        &mut self,
        table: &ModelTable,
        models: impl IntoIterator<Item = u16>,
        name: &str,
        ts: f64,
        value: f64,
        now: i64,
    ) -> PushCounts {
        let mut counts = PushCounts::default();
        // Carbon stores whole seconds; so do we.
        let valid_ts = ts.is_finite() && ts.abs() <= 1e15;
        let ts = ts.floor() as i64;
        for id in models {
            if !valid_ts {
                counts.bad_timestamp += 1;
                continue;
            }
            let Some(model) = table.get(id) else {
                continue;
            };
            // A point from the future is a clock or unit mistake (milliseconds sent as seconds):
            // carbon refuses it, and storing it would keep a chunk nobody reads for years.
            if ts > now + i64::from(model.ttl().min(MAX_FUTURE_SECS)) {
                counts.bad_timestamp += 1;
                continue;
            }
            let at = model.align(ts);
            let chunk_start = model.chunk_start(at);
            if model.chunk_expiry(chunk_start) <= now {
                counts.expired += 1;
                continue;
            }
            let offset = (at - chunk_start) as u16;
            let record = record(offset, value);
            let hash = slot_hash(name, id, chunk_start);
            let (names, slots) = (&self.names, &self.slots);
            let found = self.lookup.find(hash, |&i| {
                let s = &slots[i as usize];
                s.model == id
                    && s.chunk_start == chunk_start
                    && names.get(s.name.0 as usize..(s.name.0 + s.name.1) as usize) == Some(name)
            });
            let slot_index = match found {
                Some(&i) => i,
                None => {
                    let i = self.slots.len() as u32;
                    let start = self.names.len() as u32;
                    self.names.push_str(name);
                    self.slots.push(Slot {
                        name: (start, name.len() as u32),
                        model: id,
                        chunk_start,
                        records: 0,
                        points: 0,
                        last: u32::MAX,
                    });
                    let slots = &self.slots;
                    let names = &self.names;
                    self.lookup.insert_unique(hash, i, |&j| {
                        let s = &slots[j as usize];
                        let n = names
                            .get(s.name.0 as usize..(s.name.0 + s.name.1) as usize)
                            .unwrap_or_default();
                        slot_hash(n, s.model, s.chunk_start)
                    });
                    self.key_bytes += tag_len(table, id) + name.len() + 48;
                    i
                }
            };
            let slot = &mut self.slots[slot_index as usize];
            slot.points += 1;
            // An interval bucket written twice in a row keeps only the later value here already.
            let replace = matches!(model, Model::Interval { .. })
                && self
                    .records
                    .get(slot.last as usize)
                    .is_some_and(|(_, r)| r[..2] == record[..2]);
            if replace {
                self.records[slot.last as usize].1 = record;
            } else {
                slot.last = self.records.len() as u32;
                slot.records += 1;
                self.records.push((slot_index, record));
            }
            self.points += 1;
            counts.queued += 1;
        }
        counts
    }

    /// Point copies queued.
    pub fn points(&self) -> usize {
        self.points
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.points == 0
    }

    /// Roughly the bytes this batch will take once encoded, for buffer accounting.
    pub fn approx_bytes(&self) -> usize {
        self.key_bytes + self.records.len() * RECORD_LEN
    }

    /// Encodes the batch as `APPEND` commands at the end of `cmds`, one per chunk, and
    /// leaves the batch empty for reuse. Returns roughly the bytes they take.
    pub fn encode(&mut self, table: &ModelTable, cmds: &mut Vec<Cmd>) -> usize {
        let bytes = self.approx_bytes() + 64;
        cmds.reserve(self.slots.len());
        // Group records by slot, keeping arrival order within a slot (a counting sort).
        let mut starts: Vec<u32> = Vec::with_capacity(self.slots.len() + 1);
        let mut acc = 0u32;
        for s in &self.slots {
            starts.push(acc);
            acc += s.records;
        }
        let mut grouped = vec![[0u8; RECORD_LEN]; acc as usize];
        let mut fill = starts.clone();
        for (slot, rec) in &self.records {
            let at = &mut fill[*slot as usize];
            grouped[*at as usize] = *rec;
            *at += 1;
        }
        let mut key = String::new();
        for (i, slot) in self.slots.iter().enumerate() {
            let Some(tag) = table.tag(slot.model) else {
                continue;
            };
            let name = self
                .names
                .get(slot.name.0 as usize..(slot.name.0 + slot.name.1) as usize)
                .unwrap_or_default();
            key.clear();
            keys::push_chunk(&mut key, tag, name, slot.chunk_start);
            let shard = keys::shard_of(name);
            let name_at = keys::chunk_prefix(shard).len() + tag.len() + 1;
            let recs = &grouped[starts[i] as usize..(starts[i] + slot.records) as usize];
            let records = recs.as_flattened();
            let mut cmd = redis::Cmd::with_capacity(3, 6 + key.len() + records.len());
            cmd.arg(&b"APPEND"[..]).arg(key.as_bytes()).arg(records);
            cmds.push(Cmd {
                cmd,
                meta: Meta {
                    kind: CmdKind::Append {
                        model: slot.model,
                        name_at: name_at as u32,
                        name_len: name.len() as u32,
                        chunk_start: slot.chunk_start,
                        appended: records.len() as u32,
                        points: slot.points,
                    },
                    shard,
                },
            });
        }
        self.names.clear();
        self.slots.clear();
        self.lookup.clear();
        self.records.clear();
        self.points = 0;
        self.key_bytes = 0;
        bytes
    }
}

fn tag_len(table: &ModelTable, id: u16) -> usize {
    table.tag(id).map_or(0, str::len)
}
