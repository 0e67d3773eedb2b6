//! What the console reads, all from Redis and read-only: the alarms (through the runner's
//! [`AlarmStore`]) and the stored series (through the store's [`Reader`]).

use std::time::Duration;

use am_plugin_host::store_host::{by_name, preferred};
use am_runner::alarm::store::AlarmStore;
use am_runner::alarm::{AlarmState, Transition};
use am_store::{Pattern, Point, Reader, RedisAddr, SeriesId};
use serde::Serialize;

/// How long connecting to Redis may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Series per pipeline of `MGET`s when scanning many: big enough that round trips cost
/// little, small enough that Redis does not buffer megabytes of replies (see the runner's
/// `READ_BATCH`).
pub const SCAN_BATCH: usize = 128;

/// Connections a scan reads over at once, so Redis answers one while the console decodes and
/// scores the other's replies.
pub const SCAN_CONNECTIONS: usize = 2;

/// Most transitions looked through for one view (the newest first), in pages of
/// [`TRANSITIONS_PAGE`]: a filter or a metric that matches none of them costs this much once
/// per view, not the whole history.
const TRANSITIONS_SCANNED: usize = 20_000;

/// Transitions read per `XREVRANGE`.
const TRANSITIONS_PAGE: usize = 1000;

/// A failure to read Redis.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The metric store.
    #[error("reading the metric store at {addr}: {error}")]
    Store {
        /// Where (boxed: an address with TLS, Sentinel and Cluster fields is large).
        addr: Box<RedisAddr>,
        /// What failed.
        error: am_store::Error,
    },
    /// The alarms.
    #[error("reading the alarms at {addr}: {error}")]
    Alarms {
        /// Where.
        addr: Box<RedisAddr>,
        /// What failed.
        error: am_runner::alarm::store::AlarmStoreError,
    },
}

/// One alarm that is not OK, as the console lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlarmRow {
    /// Its state.
    pub state: AlarmState,
    /// When it entered it.
    pub since: i64,
    /// `info`, `warning`, `critical` (empty when the record has no detail).
    pub severity: String,
    /// The algorithm (its key in `services`).
    pub algorithm: String,
    /// The service.
    pub service: String,
    /// The subject: a metric's name, usually.
    pub metric: String,
    /// Why.
    pub reason: String,
}

/// The alarms page's data.
#[derive(Debug, Clone, Serialize)]
pub struct AlarmsView {
    /// The alarms that are not OK (matching the filter), firing first, then the newest.
    pub alarms: Vec<AlarmRow>,
    /// The newest transitions (matching the filter), newest first.
    pub transitions: Vec<Transition>,
}

/// Where the console reads from.
#[derive(Debug, Clone)]
pub struct Source {
    redis: RedisAddr,
    prefix: String,
    history_max_len: u64,
    batch: usize,
    connections: usize,
}

impl Source {
    /// Reads `redis`; the alarms live under `prefix`.
    pub fn new(redis: RedisAddr, prefix: &str, history_max_len: u64) -> Source {
        Source {
            redis,
            prefix: prefix.to_owned(),
            history_max_len,
            batch: SCAN_BATCH,
            connections: SCAN_CONNECTIONS,
        }
    }

    /// Scans read `batch` series per pipeline over `connections` connections (instead of
    /// [`SCAN_BATCH`] and [`SCAN_CONNECTIONS`]).
    pub fn with_scan(mut self, batch: usize, connections: usize) -> Source {
        self.batch = batch.max(1);
        self.connections = connections.max(1);
        self
    }

    /// The Redis it reads.
    pub fn redis(&self) -> &RedisAddr {
        &self.redis
    }

    fn alarm_store(&self) -> AlarmStore {
        AlarmStore::new(self.redis.clone(), &self.prefix, self.history_max_len)
    }

    fn alarms_error(&self, error: am_runner::alarm::store::AlarmStoreError) -> SourceError {
        SourceError::Alarms {
            addr: Box::new(self.redis.clone()),
            error,
        }
    }

    fn store_error(&self, error: am_store::Error) -> SourceError {
        SourceError::Store {
            addr: Box::new(self.redis.clone()),
            error,
        }
    }

    /// The alarms that are not OK and the newest `history` transitions, keeping those whose
    /// subject matches `filter`.
    pub async fn alarms(
        &self,
        filter: Option<&Pattern>,
        history: usize,
    ) -> Result<AlarmsView, SourceError> {
        let mut store = self.alarm_store();
        let active = store.active().await.map_err(|e| self.alarms_error(e))?;
        let keep = |name: &str| filter.is_none_or(|p| p.matches(name));
        let mut alarms: Vec<AlarmRow> = active
            .into_iter()
            .filter(|(_, subject, _)| keep(subject))
            .map(|(scope, subject, record)| {
                let (severity, reason) = record
                    .detail
                    .map(|d| (d.severity, d.reason))
                    .unwrap_or_default();
                AlarmRow {
                    state: record.state,
                    since: record.since,
                    severity,
                    algorithm: scope.algorithm,
                    service: scope.service,
                    metric: subject,
                    reason,
                }
            })
            .collect();
        alarms.sort_by(|a, b| {
            (b.state == AlarmState::Alarm)
                .cmp(&(a.state == AlarmState::Alarm))
                .then(b.since.cmp(&a.since))
                .then_with(|| a.metric.cmp(&b.metric))
        });
        let transitions = self
            .scan_transitions(&mut store, history, |t| keep(&t.subject), |_| false)
            .await?;
        Ok(AlarmsView {
            alarms,
            transitions,
        })
    }

    /// The transitions of alarms on `metric` (any algorithm and service) with `from <= ts <=
    /// until`, oldest first, among the newest [`TRANSITIONS_SCANNED`] of the history.
    pub async fn transitions_of(
        &self,
        metric: &str,
        from: i64,
        until: i64,
    ) -> Result<Vec<Transition>, SourceError> {
        let mut store = self.alarm_store();
        let mut out = self
            .scan_transitions(
                &mut store,
                TRANSITIONS_SCANNED,
                |t| t.subject == metric && t.ts >= from && t.ts <= until,
                // The stream is in the order transitions were recorded, a little after their
                // time: an hour older than `from` is past them.
                |t| t.ts < from - 3600,
            )
            .await?;
        out.reverse();
        Ok(out)
    }

    /// Up to `want` transitions that `keep` accepts, newest first, reading the history a page
    /// at a time until enough are found, `past` says the rest is too old, or
    /// [`TRANSITIONS_SCANNED`] have been read.
    async fn scan_transitions(
        &self,
        store: &mut AlarmStore,
        want: usize,
        keep: impl Fn(&Transition) -> bool,
        past: impl Fn(&Transition) -> bool,
    ) -> Result<Vec<Transition>, SourceError> {
        let key = store.history_key();
        let mut out = Vec::new();
        let mut end = "+".to_owned();
        let mut scanned = 0;
        let count = TRANSITIONS_PAGE.to_string();
        while out.len() < want && scanned < TRANSITIONS_SCANNED {
            let reply = store
                .client()
                .call(
                    &[
                        b"XREVRANGE",
                        key.as_bytes(),
                        end.as_bytes(),
                        b"-",
                        b"COUNT",
                        count.as_bytes(),
                    ],
                    Duration::ZERO,
                )
                .await
                .map_err(|e| self.alarms_error(e.into()))?;
            let entries = reply.into_entries();
            let Some((last, _)) = entries.last() else {
                break;
            };
            end = format!("({last}");
            scanned += entries.len();
            let full = entries.len() == TRANSITIONS_PAGE;
            let mut older = false;
            for (_, fields) in &entries {
                // An entry that does not parse (a newer runner's) is left out, as the runner's
                // own reader does.
                let Some(t) = fields
                    .get("t")
                    .and_then(|t| serde_json::from_str::<Transition>(t).ok())
                else {
                    continue;
                };
                older |= past(&t);
                if keep(&t) && out.len() < want {
                    out.push(t);
                }
            }
            if !full || older {
                break;
            }
        }
        Ok(out)
    }

    /// The series a bare metric name means (the plugin host's choice when it is stored under
    /// several models), or `None` when it is not stored.
    pub async fn locate(&self, name: &str) -> Result<Option<SeriesId>, SourceError> {
        let mut reader = self.reader().await?;
        let pattern = Pattern::exact(name).map_err(|e| self.store_error(e))?;
        let ids = reader
            .find(&pattern)
            .await
            .map_err(|e| self.store_error(e))?;
        Ok(preferred(ids))
    }

    /// One series' points with `from <= ts <= until`.
    pub async fn read(
        &self,
        id: &SeriesId,
        from: i64,
        until: i64,
    ) -> Result<Vec<Point>, SourceError> {
        let mut reader = self.reader().await?;
        reader
            .read(id, from, until)
            .await
            .map_err(|e| self.store_error(e))
    }

    /// Several series' points in one round trip.
    pub async fn read_many(
        &self,
        ids: &[SeriesId],
        from: i64,
        until: i64,
    ) -> Result<Vec<Vec<Point>>, SourceError> {
        let mut reader = self.reader().await?;
        reader
            .read_many(ids, from, until)
            .await
            .map_err(|e| self.store_error(e))
    }

    /// One series per stored name matching `pattern` (the preferred one of a name stored
    /// under several models), in name order.
    pub async fn names(&self, pattern: &Pattern) -> Result<Vec<SeriesId>, SourceError> {
        let mut reader = self.reader().await?;
        let ids = reader
            .find(pattern)
            .await
            .map_err(|e| self.store_error(e))?;
        Ok(by_name(ids))
    }

    /// Reads every series of `ids` over `[from, until]` and hands each to `each(state, index,
    /// points)`: [`SCAN_CONNECTIONS`] connections at once (see [`Source::with_scan`]), each
    /// reading its share in pipelines of [`SCAN_BATCH`], every series decoded straight from the socket buffer into
    /// a reused one. `make` builds one state per connection; the states are returned in order.
    pub async fn scan<S>(
        &self,
        ids: &[SeriesId],
        from: i64,
        until: i64,
        make: impl Fn() -> S,
        each: impl Fn(&mut S, usize, &[Point]),
    ) -> Result<Vec<S>, SourceError> {
        let share = ids.len().div_ceil(self.connections).max(1);
        let batch_len = self.batch;
        let each = &each;
        let parts = ids.chunks(share).enumerate().map(|(k, part)| {
            let mut state = make();
            async move {
                let mut reader = self.reader().await?;
                for (b, batch) in part.chunks(batch_len).enumerate() {
                    let base = k * share + b * batch_len;
                    reader
                        .read_many_each(batch, from, until, |i, points| {
                            each(&mut state, base + i, points)
                        })
                        .await
                        .map_err(|e| self.store_error(e))?;
                }
                Ok::<S, SourceError>(state)
            }
        });
        let mut out = Vec::with_capacity(self.connections);
        for r in futures_util::future::join_all(parts).await {
            out.push(r?);
        }
        Ok(out)
    }

    async fn reader(&self) -> Result<Reader, SourceError> {
        Reader::connect(&self.redis, CONNECT_TIMEOUT)
            .await
            .map_err(|e| self.store_error(e))
    }
}
