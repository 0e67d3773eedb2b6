//! [`TestHost`] as a [`Host`]: what a plugin's calls do to it, for one plugin and service.

use super::{Pattern, TestHost};
use crate::abi::{Level, Point};
use crate::hosting::{DeliverSeries, Host, HostError, Read, StateOp};
use crate::records::{Emitted, LogRecord, VerdictRecord};

/// The test host seen by one plugin's instance for one service (state is scoped to both).
pub(super) struct Scoped<'h> {
    pub(super) host: &'h mut TestHost,
    pub(super) plugin: &'h str,
    pub(super) service: &'h str,
}

impl Scoped<'_> {
    fn note(&mut self, message: String) {
        self.host.logs.push(LogRecord {
            plugin: self.plugin.to_owned(),
            service: self.service.to_owned(),
            level: Level::Error,
            message: format!("test host: {message}"),
        });
    }

    /// Fails a store call while the store is set to fail, as an unreachable store would.
    fn store(&mut self, what: &str) -> Result<(), HostError> {
        if self.host.store_failing {
            self.note(format!("`{what}` failed: store failing"));
            return Err(HostError::store(format!("`{what}` failed: store failing")));
        }
        Ok(())
    }

    fn pattern(&mut self, pattern: &str) -> Result<Pattern, HostError> {
        Pattern::new(pattern).map_err(|e| {
            self.note(e.to_string());
            HostError::refused(e.to_string())
        })
    }

    fn key(&self, key: &str) -> (String, String, String) {
        (
            self.plugin.to_owned(),
            self.service.to_owned(),
            key.to_owned(),
        )
    }

    /// The points of `name` in `[from, until]` (the wildcard's when `name` is unknown).
    fn window(&self, name: &str, from: i64, until: i64) -> &[Point] {
        let points = self
            .host
            .series
            .get(name)
            .or(self.host.any.as_ref())
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let start = points.partition_point(|p| p.ts < from);
        let end = points.partition_point(|p| p.ts <= until).max(start);
        &points[start..end]
    }

    /// The names matching `pattern`, or `csv` (the wildcard) when none does and it exists.
    fn matching(&self, pattern: &Pattern) -> Vec<String> {
        let names: Vec<String> = self
            .host
            .series
            .keys()
            .filter(|name| pattern.matches(name))
            .cloned()
            .collect();
        if names.is_empty() && self.host.any.is_some() {
            return vec!["csv".to_owned()];
        }
        names
    }
}

impl Host for Scoped<'_> {
    fn log(&mut self, line: LogRecord) {
        self.host.logs.push(line);
    }

    fn read(
        &mut self,
        read: Read<'_>,
        from: i64,
        until: i64,
        deliver: &mut DeliverSeries<'_>,
    ) -> Result<(), HostError> {
        let names = match read {
            Read::Series(name) => {
                self.store("read_series")?;
                vec![name.to_owned()]
            }
            Read::Pattern(pattern) => {
                self.store("read_pattern")?;
                let pattern = self.pattern(pattern)?;
                self.matching(&pattern)
            }
            Read::Many(names) => {
                self.store("read_many")?;
                names.to_vec()
            }
        };
        for name in &names {
            deliver(name, self.window(name, from, until));
        }
        Ok(())
    }

    fn find(&mut self, pattern: &str, deliver: &mut dyn FnMut(&str)) -> Result<(), HostError> {
        self.store("find")?;
        let pattern = self.pattern(pattern)?;
        for name in self.matching(&pattern) {
            deliver(&name);
        }
        Ok(())
    }

    fn state(
        &mut self,
        op: StateOp<'_>,
        deliver: &mut dyn FnMut(&[u8]),
    ) -> Result<bool, HostError> {
        self.store(op.call())?;
        let key = self.key(op.key());
        Ok(op.apply(&mut self.host.state, key, deliver))
    }

    fn emit(&mut self, point: Emitted) -> Result<(), HostError> {
        self.host.emitted.push(point);
        Ok(())
    }

    fn verdict(&mut self, verdict: VerdictRecord) -> Result<(), HostError> {
        self.host.verdicts.push(verdict);
        Ok(())
    }
}
