//! The one budget for every unfinished frame and line: `limits.max_pending_bytes`.
//!
//! Each TCP connection charges the bytes its read buffer holds between reads (a partial frame
//! or line, and the room made for the next read). A connection charges before it grows its
//! buffer, so the total never runs ahead of the budget by more than what connections are
//! reading at that moment. When a charge takes the total past the budget, the connections
//! holding the most are told to close, largest first, until the rest fit: the one that asked
//! may be among them. Each such close is counted and logged (rate-limited per peer).
//!
//! A connection told to close while it waits for write-buffer space (Redis slow or down)
//! closes when that wait ends: the complete frames it is handing over are not thrown away, so
//! until then what it holds stays counted, and nobody else is closed in its place.
//!
//! The common path is two atomic operations; the registry lock is taken only to register, to
//! leave, and when the budget is exceeded.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering::{AcqRel, Acquire, Release};
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use super::warn::{Kind, Warnings};
use crate::metrics::Metrics;

/// The budget shared by every TCP connection.
#[derive(Debug)]
pub struct PendingBudget {
    limit: u64,
    /// Sum of every registered connection's charge.
    total: AtomicU64,
    /// Charges of connections told to close and not gone yet.
    doomed: AtomicU64,
    next_id: AtomicU64,
    slots: Mutex<HashMap<u64, Arc<Slot>>>,
    metrics: Arc<Metrics>,
    warnings: Arc<Warnings>,
}

#[derive(Debug)]
struct Slot {
    peer: SocketAddr,
    charge: AtomicU64,
    /// Told to close; `doomed_charge` is what it held then.
    evicted: AtomicBool,
    doomed_charge: AtomicU64,
    wake: Notify,
}

/// A connection's share of the budget; dropping it gives the share back.
#[derive(Debug)]
pub struct Charge {
    budget: Arc<PendingBudget>,
    id: u64,
    slot: Arc<Slot>,
}

impl PendingBudget {
    /// A budget of `limit` bytes.
    pub fn new(limit: u64, metrics: Arc<Metrics>, warnings: Arc<Warnings>) -> Arc<Self> {
        metrics.pending_limit_bytes.set(limit);
        Arc::new(PendingBudget {
            limit,
            total: AtomicU64::new(0),
            doomed: AtomicU64::new(0),
            next_id: AtomicU64::new(0),
            slots: Mutex::new(HashMap::new()),
            metrics,
            warnings,
        })
    }

    /// Registers a connection, charging nothing yet.
    pub fn register(self: &Arc<Self>, peer: SocketAddr) -> Charge {
        let id = self.next_id.fetch_add(1, AcqRel);
        let slot = Arc::new(Slot {
            peer,
            charge: AtomicU64::new(0),
            evicted: AtomicBool::new(false),
            doomed_charge: AtomicU64::new(0),
            wake: Notify::new(),
        });
        if let Ok(mut slots) = self.slots.lock() {
            slots.insert(id, slot.clone());
        }
        Charge {
            budget: self.clone(),
            id,
            slot,
        }
    }

    /// Bytes charged now.
    pub fn used(&self) -> u64 {
        self.total.load(Acquire)
    }

    /// Tells the largest holders to close until the others fit in the budget.
    fn evict(&self) {
        let Ok(slots) = self.slots.lock() else {
            return;
        };
        let mut live = self
            .total
            .load(Acquire)
            .saturating_sub(self.doomed.load(Acquire));
        if live <= self.limit {
            return;
        }
        let mut holders: Vec<(u64, &Arc<Slot>)> = slots
            .values()
            .filter(|s| !s.evicted.load(Acquire))
            .map(|s| (s.charge.load(Acquire), s))
            .collect();
        holders.sort_unstable_by_key(|h| std::cmp::Reverse(h.0));
        for (charge, slot) in holders {
            if live <= self.limit || charge == 0 {
                break;
            }
            slot.doomed_charge.store(charge, Release);
            slot.evicted.store(true, Release);
            self.doomed.fetch_add(charge, AcqRel);
            live = live.saturating_sub(charge);
            slot.wake.notify_one();
            self.metrics.connections_evicted.inc();
            if let Some(a) = self.warnings.admit(Some(slot.peer.ip()), Kind::Evicted) {
                tracing::warn!(
                    peer = %slot.peer,
                    pending_bytes = charge,
                    max_pending_bytes = self.limit,
                    suppressed = a.suppressed,
                    evicted_from_peer = a.total,
                    "unfinished frames and lines are over limits.max_pending_bytes; closing the connection holding the most"
                );
            }
        }
    }
}

impl Charge {
    /// Sets this connection's charge to `bytes`. Returns false when the connection has been
    /// told to close (possibly by this very call, if it holds the most).
    pub fn set(&self, bytes: u64) -> bool {
        let old = self.slot.charge.swap(bytes, AcqRel);
        let budget = &self.budget;
        let total = if bytes >= old {
            budget.total.fetch_add(bytes - old, AcqRel) + (bytes - old)
        } else {
            budget.total.fetch_sub(old - bytes, AcqRel) - (old - bytes)
        };
        budget.metrics.pending_bytes.set(total);
        if bytes > old && total > budget.limit {
            budget.evict();
        }
        !self.is_evicted()
    }

    /// Whether this connection has been told to close.
    pub fn is_evicted(&self) -> bool {
        self.slot.evicted.load(Acquire)
    }

    /// Resolves once this connection has been told to close.
    pub async fn evicted(&self) {
        while !self.is_evicted() {
            self.slot.wake.notified().await;
        }
    }
}

impl Drop for Charge {
    fn drop(&mut self) {
        let budget = &self.budget;
        if let Ok(mut slots) = budget.slots.lock() {
            slots.remove(&self.id);
        }
        let held = self.slot.charge.swap(0, AcqRel);
        let total = budget.total.fetch_sub(held, AcqRel) - held;
        budget.metrics.pending_bytes.set(total);
        if self.is_evicted() {
            let doomed = self.slot.doomed_charge.load(Acquire);
            budget.doomed.fetch_sub(doomed, AcqRel);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(limit: u64) -> Arc<PendingBudget> {
        let metrics = Arc::new(Metrics::default());
        let warnings = Arc::new(Warnings::new(metrics.clone()));
        PendingBudget::new(limit, metrics, warnings)
    }

    fn peer(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn the_largest_holders_go_first() {
        let b = budget(1000);
        let small = b.register(peer(1));
        let big = b.register(peer(2));
        let mid = b.register(peer(3));
        assert!(small.set(100));
        assert!(big.set(600));
        assert!(mid.set(250));
        assert_eq!(b.used(), 950);
        // 100 more: over by 50; the biggest (600) goes, nobody else.
        assert!(small.set(200));
        assert!(big.is_evicted());
        assert!(!mid.is_evicted() && !small.is_evicted());
        assert_eq!(b.metrics.connections_evicted.get(), 1);
        // Still over until it leaves, but nobody else is told to close.
        assert!(mid.set(300));
        assert!(!small.is_evicted());
        drop(big);
        assert_eq!(b.used(), 500);
        assert_eq!(b.doomed.load(Acquire), 0);
    }

    #[test]
    fn the_asker_may_be_the_one_to_go() {
        let b = budget(1000);
        let other = b.register(peer(1));
        let greedy = b.register(peer(2));
        assert!(other.set(300));
        assert!(!greedy.set(900));
        assert!(!other.is_evicted());
        drop(greedy);
        assert_eq!(b.used(), 300);
    }

    #[tokio::test]
    async fn an_evicted_connection_is_woken() {
        let b = budget(100);
        let victim = Arc::new(b.register(peer(1)));
        let asker = b.register(peer(2));
        assert!(victim.set(90));
        let v = victim.clone();
        let waiter = tokio::spawn(async move { v.evicted().await });
        tokio::task::yield_now().await;
        assert!(asker.set(20));
        tokio::time::timeout(std::time::Duration::from_secs(5), waiter)
            .await
            .unwrap()
            .unwrap();
    }
}
