//! [`PastHost`]: the metric store as it was at a tick. Reads go to the store through the
//! runner's own [`StoreHost`] with their end clamped to the tick; a series whose first point
//! is after the tick is not listed by `find` (it did not exist yet); plugin state lives in
//! memory, so the live state is never touched; outputs are dropped, verdicts kept.

use std::collections::{BTreeMap, HashSet};

use am_plugin_api::hosting::{DeliverSeries, Host, HostError, Read, StateOp};
use am_plugin_api::records::{Emitted, LogRecord, VerdictRecord};
use am_plugin_host::store_host::StoreHost;

/// What a backtest keeps across ticks for the hosts it builds.
#[derive(Debug, Default)]
pub struct Past {
    /// The plugin's state, by key (what Redis would hold in `am1:state:<plugin>:<service>`).
    pub state: BTreeMap<String, Vec<u8>>,
    /// Series known to have a point at or before the current tick (they existed by then;
    /// ticks only move forward, so once in, always in).
    pub started: HashSet<String>,
}

/// The host of one task at one past tick.
pub struct PastHost<'a, 'r> {
    inner: StoreHost<'r>,
    tick: i64,
    past: &'a mut Past,
    /// The verdicts the task reported.
    pub verdicts: Vec<VerdictRecord>,
}

impl<'a, 'r> PastHost<'a, 'r> {
    /// A host reading through `inner` as of `tick`, with `past`'s state.
    pub fn new(inner: StoreHost<'r>, tick: i64, past: &'a mut Past) -> Self {
        PastHost {
            inner,
            tick,
            past,
            verdicts: Vec::new(),
        }
    }

    /// What the task read, failed and logged.
    pub fn stats(&self) -> am_plugin_host::TaskStats {
        self.inner.stats
    }

    /// The names matching `pattern` that existed at the tick.
    fn existing(&mut self, pattern: &str) -> Result<Vec<String>, HostError> {
        let mut names = Vec::new();
        self.inner
            .find(pattern, &mut |n| names.push(n.to_owned()))?;
        let unknown: Vec<String> = names
            .iter()
            .filter(|n| !self.past.started.contains(*n))
            .cloned()
            .collect();
        if !unknown.is_empty() {
            let mut begun = Vec::new();
            self.inner
                .read(Read::Many(&unknown), 0, self.tick, &mut |n, points| {
                    if !points.is_empty() {
                        begun.push(n.to_owned());
                    }
                })?;
            self.past.started.extend(begun);
        }
        names.retain(|n| self.past.started.contains(n));
        Ok(names)
    }
}

impl Host for PastHost<'_, '_> {
    fn log(&mut self, line: LogRecord) {
        self.inner.log(line);
    }

    fn read(
        &mut self,
        read: Read<'_>,
        from: i64,
        until: i64,
        deliver: &mut DeliverSeries<'_>,
    ) -> Result<(), HostError> {
        let until = until.min(self.tick);
        let found;
        let read = match read {
            Read::Pattern(p) => {
                found = self.existing(p)?;
                Read::Many(&found)
            }
            other => other,
        };
        if from > until {
            // Nothing of the past to read: each series once, empty.
            match read {
                Read::Series(name) => deliver(name, &[]),
                Read::Many(names) => names.iter().for_each(|n| deliver(n, &[])),
                Read::Pattern(_) => {}
            }
            return Ok(());
        }
        self.inner.read(read, from, until, deliver)
    }

    fn find(&mut self, pattern: &str, deliver: &mut dyn FnMut(&str)) -> Result<(), HostError> {
        for name in self.existing(pattern)? {
            deliver(&name);
        }
        Ok(())
    }

    fn state(
        &mut self,
        op: StateOp<'_>,
        deliver: &mut dyn FnMut(&[u8]),
    ) -> Result<bool, HostError> {
        Ok(op.apply(&mut self.past.state, op.key().to_owned(), deliver))
    }

    fn emit(&mut self, _point: Emitted) -> Result<(), HostError> {
        Ok(())
    }

    fn verdict(&mut self, verdict: VerdictRecord) -> Result<(), HostError> {
        self.verdicts.push(verdict);
        Ok(())
    }
}
