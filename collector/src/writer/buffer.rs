//! The bound on data held for Redis, shared by the listeners and the sink.
//!
//! Listeners charge a batch's encoded size before handing it to the sink and the sink gives it
//! back as Redis answers. When the bound is reached, TCP listeners wait (they stop reading, so
//! the sender's own queue takes the backlog, as carbon-relay's does) and UDP listeners drop and
//! count. The bound is the smaller of a byte cap and a number of seconds of recent traffic.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use tokio::sync::Notify;

use crate::metrics::Metrics;

/// The smallest bound, so a quiet collector can still hold a burst while Redis restarts.
const MIN_LIMIT: u64 = 64 << 20;

/// Bytes held for Redis and their bound.
#[derive(Debug)]
pub struct Buffer {
    used: AtomicU64,
    limit: AtomicU64,
    max_bytes: u64,
    max_seconds: u64,
    charged_total: AtomicU64,
    last_total: AtomicU64,
    rate: AtomicU64,
    freed: Notify,
    metrics: Arc<Metrics>,
}

impl Buffer {
    /// A buffer bounded by `max_bytes` and by `max_seconds` of traffic at the recent rate.
    pub fn new(max_bytes: u64, max_seconds: u64, metrics: Arc<Metrics>) -> Buffer {
        let limit = max_bytes.min(MIN_LIMIT.max(max_bytes / 16));
        metrics.buffer_limit_bytes.set(limit);
        Buffer {
            used: AtomicU64::new(0),
            limit: AtomicU64::new(limit),
            max_bytes,
            max_seconds,
            charged_total: AtomicU64::new(0),
            last_total: AtomicU64::new(0),
            rate: AtomicU64::new(0),
            freed: Notify::new(),
            metrics,
        }
    }

    /// Takes `n` bytes if they fit (an empty buffer always accepts, so one big batch cannot
    /// block forever).
    pub fn try_acquire(&self, n: u64) -> bool {
        let limit = self.limit.load(Relaxed);
        let mut cur = self.used.load(Relaxed);
        loop {
            if cur != 0 && cur.saturating_add(n) > limit {
                return false;
            }
            match self
                .used
                .compare_exchange_weak(cur, cur + n, Relaxed, Relaxed)
            {
                Ok(_) => {
                    self.charged_total.fetch_add(n, Relaxed);
                    self.metrics.buffer_bytes.set(cur + n);
                    return true;
                }
                Err(actual) => cur = actual,
            }
        }
    }

    /// Takes `n` bytes, waiting until they fit.
    pub async fn acquire(&self, n: u64) {
        if self.try_acquire(n) {
            return;
        }
        self.metrics.backpressure_waits.inc();
        loop {
            let freed = self.freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            if self.try_acquire(n) {
                return;
            }
            freed.await;
        }
    }

    /// Gives back `n` bytes.
    pub fn release(&self, n: u64) {
        if n == 0 {
            return;
        }
        let prev = self
            .used
            .fetch_update(Relaxed, Relaxed, |u| Some(u.saturating_sub(n)))
            .unwrap_or(0);
        self.metrics.buffer_bytes.set(prev.saturating_sub(n));
        self.freed.notify_waiters();
    }

    /// Bytes held now.
    pub fn used(&self) -> u64 {
        self.used.load(Relaxed)
    }

    /// Re-derives the bound from the traffic of the last `elapsed_secs`; the sink calls it
    /// about once a second.
    pub fn update_limit(&self, elapsed_secs: f64) {
        let total = self.charged_total.load(Relaxed);
        let delta = total.saturating_sub(self.last_total.swap(total, Relaxed));
        let inst = (delta as f64 / elapsed_secs.max(0.001)) as u64;
        // Smooth over ~10 s so one quiet second does not shrink the bound.
        let old = self.rate.load(Relaxed);
        let rate = if old == 0 {
            inst
        } else {
            old - old / 10 + inst / 10
        };
        self.rate.store(rate, Relaxed);
        let limit = self
            .max_bytes
            .min(rate.saturating_mul(self.max_seconds).max(MIN_LIMIT));
        self.limit.store(limit, Relaxed);
        self.metrics.buffer_limit_bytes.set(limit);
        self.freed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waits_until_released() {
        let b = Arc::new(Buffer::new(2 << 20, 60, Arc::new(Metrics::default())));
        assert!(b.try_acquire(1 << 20));
        assert!(b.try_acquire(1 << 20));
        assert!(!b.try_acquire(1));
        let b2 = b.clone();
        let waiter = tokio::spawn(async move { b2.acquire(1000).await });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        b.release(1 << 20);
        tokio::time::timeout(std::time::Duration::from_secs(5), waiter)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(b.used(), (1 << 20) + 1000);
    }

    #[test]
    fn empty_buffer_takes_oversized_batch() {
        let b = Buffer::new(2 << 20, 60, Arc::new(Metrics::default()));
        assert!(b.try_acquire(10 << 20));
        assert!(!b.try_acquire(1));
    }
}
