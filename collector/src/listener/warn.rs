//! Warnings about peers, rate-limited per peer and kind.
//!
//! A peer that sends bad frames in a loop, reconnecting each time, must not be able to fill
//! the disk with log lines. A warning of one kind about one peer is logged at once, then at
//! most once per [`EVERY`]; the line that is logged carries how many were suppressed since
//! the previous one and how many that peer caused in all. The key is the peer's IP address,
//! not its port, so reconnecting does not reset the limit. Every occurrence is still counted
//! by the collector's counters; only the log lines are limited.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::metrics::Metrics;

/// Least time between two log lines of one kind about one peer.
pub const EVERY: Duration = Duration::from_secs(10);

/// Peers remembered; past it, new peers share one entry per kind (UDP source addresses can
/// be forged, so the table must not grow with them).
const MAX_PEERS: usize = 4096;

/// What a warning is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A pickle frame was refused.
    BadFrame,
    /// A plaintext line was skipped.
    BadLine,
    /// A connection closed in the middle of a frame.
    PartialFrame,
    /// A connection was refused because its listener was at `max_connections`.
    OverLimit,
    /// A connection was closed after `idle_timeout_secs` without a complete frame or line.
    Idle,
    /// A connection was closed to keep unfinished frames and lines within
    /// `max_pending_bytes`.
    Evicted,
    /// UDP datapoints were dropped because the write buffer was full.
    UdpDropped,
    /// Accepting a connection failed (not about a peer).
    AcceptFailed,
}

/// A warning that may be logged now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Admitted {
    /// Warnings of this kind about this peer not logged since the last one that was.
    pub suppressed: u64,
    /// Warnings of this kind about this peer so far, this one included.
    pub total: u64,
}

#[derive(Debug)]
struct Entry {
    /// When the next line may be logged.
    next: Instant,
    suppressed: u64,
    total: u64,
    last_seen: Instant,
}

/// The rate limiter; one per collector, shared by every listener.
#[derive(Debug)]
pub struct Warnings {
    every: Duration,
    table: Mutex<Table>,
    metrics: Arc<Metrics>,
}

#[derive(Debug)]
struct Table {
    entries: HashMap<(Option<IpAddr>, Kind), Entry>,
    last_prune: Instant,
}

impl Warnings {
    /// A limiter allowing one line per peer and kind every [`EVERY`].
    pub fn new(metrics: Arc<Metrics>) -> Warnings {
        Warnings::every(EVERY, metrics)
    }

    /// A limiter allowing one line per peer and kind every `every`.
    pub fn every(every: Duration, metrics: Arc<Metrics>) -> Warnings {
        Warnings {
            every,
            table: Mutex::new(Table {
                entries: HashMap::new(),
                last_prune: Instant::now(),
            }),
            metrics,
        }
    }

    /// Records one warning of `kind` about `peer` (`None`: not about a peer); `Some` when it
    /// should be logged now.
    pub fn admit(&self, peer: Option<IpAddr>, kind: Kind) -> Option<Admitted> {
        let now = Instant::now();
        let Ok(mut table) = self.table.lock() else {
            // A panic while holding the lock cannot leave the table inconsistent in a way
            // that matters for logging; log rather than lose the warning.
            return Some(Admitted {
                suppressed: 0,
                total: 1,
            });
        };
        let mut key = (peer, kind);
        if !table.entries.contains_key(&key) && table.entries.len() >= MAX_PEERS {
            table.prune(now, self.every);
            if table.entries.len() >= MAX_PEERS {
                key = (None, kind);
            }
        }
        let entry = table.entries.entry(key).or_insert(Entry {
            next: now,
            suppressed: 0,
            total: 0,
            last_seen: now,
        });
        entry.total += 1;
        entry.last_seen = now;
        if now >= entry.next {
            entry.next = now + self.every;
            let admitted = Admitted {
                suppressed: entry.suppressed,
                total: entry.total,
            };
            entry.suppressed = 0;
            Some(admitted)
        } else {
            entry.suppressed += 1;
            self.metrics.log_suppressed.inc();
            None
        }
    }
}

impl Table {
    /// Forgets peers not heard of for two intervals, at most once an interval; a peer
    /// forgotten with warnings still unreported gets one line saying how many.
    fn prune(&mut self, now: Instant, every: Duration) {
        if now.duration_since(self.last_prune) < every {
            return;
        }
        self.last_prune = now;
        self.entries.retain(|(peer, kind), e| {
            let keep = now.duration_since(e.last_seen) < 2 * every;
            if !keep && e.suppressed > 0 {
                tracing::warn!(
                    peer = ?peer,
                    kind = ?kind,
                    suppressed = e.suppressed,
                    total = e.total,
                    "warnings about this peer were suppressed"
                );
            }
            keep
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_peer_and_kind_per_interval() {
        let metrics = Arc::new(Metrics::default());
        let w = Warnings::every(Duration::from_millis(200), metrics.clone());
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        assert_eq!(
            w.admit(Some(a), Kind::BadLine),
            Some(Admitted {
                suppressed: 0,
                total: 1
            })
        );
        for _ in 0..99 {
            assert_eq!(w.admit(Some(a), Kind::BadLine), None);
        }
        // Another kind, another peer: their own limits.
        assert!(w.admit(Some(a), Kind::BadFrame).is_some());
        assert!(w.admit(Some(b), Kind::BadLine).is_some());
        assert_eq!(metrics.log_suppressed.get(), 99);
        std::thread::sleep(Duration::from_millis(250));
        assert_eq!(
            w.admit(Some(a), Kind::BadLine),
            Some(Admitted {
                suppressed: 99,
                total: 101
            })
        );
    }

    #[test]
    fn the_table_is_bounded() {
        let w = Warnings::every(Duration::from_secs(60), Arc::new(Metrics::default()));
        for i in 0..(MAX_PEERS as u32 + 100) {
            let ip = IpAddr::from(i.to_be_bytes());
            w.admit(Some(ip), Kind::BadLine);
        }
        assert!(w.table.lock().unwrap().entries.len() <= MAX_PEERS + 1);
    }
}
