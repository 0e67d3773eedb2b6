//! Applying a pipeline's replies: points stored, follow-ups queued, refusals retried or
//! counted, and the replicas' confirmation checked.

use std::time::{Duration, Instant};

use am_daemon::text::escaped;
use am_store::resp::Value;
use am_store::unix_now;
use am_store::writer::{Cmd, Outcome, name_of, on_reply};

use super::RedisWriter;
use super::flight::{Confirm, Flight, WAIT_PAUSE, Waiting};

impl RedisWriter {
    /// Counts (and, at most every 10 s, logs) points Redis stored but replicas did not confirm.
    pub(super) fn unreplicated(&mut self, points: u64, why: &str) {
        if points == 0 {
            return;
        }
        self.metrics.unreplicated.add(points);
        self.unreplicated_since_log += points;
        let now = Instant::now();
        if self
            .unreplicated_logged
            .is_none_or(|t| now.duration_since(t) >= WAIT_PAUSE)
        {
            tracing::warn!(
                points = self.unreplicated_since_log,
                wait_replicas = self.config.wait_replicas,
                reason = why,
                "points stored on the master but not confirmed on its replicas: a failover now would lose them"
            );
            self.unreplicated_logged = Some(now);
            self.unreplicated_since_log = 0;
        }
    }

    /// Applies a pipeline's replies to its commands.
    pub(super) fn settle(&mut self, flight: Flight, mut replies: Vec<Value>) {
        let waited = match flight.confirm {
            Confirm::Wait => replies.pop(),
            _ => None,
        };
        self.inflight_cmds -= flight.metas.len();
        self.inflight_bytes -= flight.bytes;
        self.metrics
            .redis_write_latency
            .observe(flight.sent.elapsed());
        let wall = unix_now();
        let mut follow: Vec<Cmd> = Vec::new();
        let mut stored = 0u64;
        let mut release = 0u64;
        let mut retry: Vec<Waiting> = Vec::new();
        let mut redirected: Vec<Waiting> = Vec::new();
        for ((cmd, (meta, charge, resent)), reply) in
            flight.pipe.commands().zip(flight.metas).zip(&replies)
        {
            match on_reply(&self.table, cmd, &meta, reply, resent, wall, &mut follow) {
                Outcome::Stored(n) => {
                    stored += u64::from(n);
                    self.retry_backoff = Duration::from_millis(100);
                    release += u64::from(charge);
                }
                Outcome::Done | Outcome::Replaced => release += u64::from(charge),
                Outcome::Trimmed(n) => {
                    self.metrics
                        .index_trimmed
                        .add(u64::try_from(n).unwrap_or(0));
                    release += u64::from(charge);
                }
                Outcome::Retry(error) => {
                    self.metrics.redis_retries.inc();
                    tracing::warn!(error = %escaped(&error), command = %name_of(cmd), retry_in_ms = self.retry_backoff.as_millis() as u64, "Redis refused a write for now; will retry");
                    // The charge stays held until the retried command is answered.
                    let w = Waiting {
                        cmd: cmd.clone(),
                        meta,
                        charge,
                        resent: true,
                    };
                    if self.cluster && (error.starts_with("MOVED") || error.starts_with("ASK")) {
                        redirected.push(w);
                    } else {
                        retry.push(w);
                    }
                }
                Outcome::Failed { points, error } => {
                    release += u64::from(charge);
                    if points > 0 {
                        self.metrics.dropped_redis_error.add(u64::from(points));
                        tracing::error!(error = %escaped(&error), points, "Redis refused points; they are dropped");
                    } else {
                        self.metrics.redis_housekeeping_errors.inc();
                        tracing::warn!(error = %escaped(&error), command = %name_of(cmd), "Redis refused a housekeeping command");
                    }
                }
            }
        }
        self.metrics.stored.add(stored);
        self.buffer.release(release);
        match (flight.confirm, waited) {
            (Confirm::Off, _) => {}
            (Confirm::Paused, _) => {
                self.unreplicated(stored, "confirmation paused after a WAIT fell short")
            }
            (Confirm::Wait, Some(Value::Int(n))) if n >= i64::from(self.config.wait_replicas) => {}
            (Confirm::Wait, reply) => {
                self.wait_paused_until = Some(Instant::now() + WAIT_PAUSE);
                let why = match reply {
                    Some(Value::Int(n)) => format!("WAIT confirmed {n} replica(s) within 1 s"),
                    other => format!("WAIT answered {other:?}"),
                };
                self.unreplicated(stored, &why);
            }
        }
        if !retry.is_empty() {
            self.pause();
            for w in retry.into_iter().rev() {
                self.enqueue(w, true);
            }
        }
        self.alone.extend(redirected);
        if !follow.is_empty() {
            self.urgent = true;
            for c in follow {
                self.enqueue(Waiting::new(c, 0), false);
            }
        }
    }
}
