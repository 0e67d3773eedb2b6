//! The reads of [`StoreHost`]: series by name, by pattern, by list, and names by pattern, with
//! the choice of series when a name is stored under several models.

use std::collections::HashMap;

use am_plugin_api::hosting::{DeliverSeries, HostError};
use am_store::{Model, Pattern, Point, SeriesId};

use super::StoreHost;

/// Series fetched per pipeline of `MGET`s (reading a pattern or many names). Small: Redis
/// buffers much of a pipeline's reply before the socket takes it, and replies of several
/// megabytes (500 day-long series) cost Redis 40 % more CPU than 64 series in
/// `bench/analysis`, in page faults and copies; a round trip per 64 series costs little next
/// to their 1.5 MB.
const READ_BATCH: usize = 64;

/// Keeps the preferred series of each name of `ids` (sorted by name, as `find` returns
/// them), in name order.
pub fn by_name(ids: Vec<SeriesId>) -> Vec<SeriesId> {
    let mut out: Vec<SeriesId> = Vec::with_capacity(ids.len());
    for id in ids {
        match out.last_mut() {
            Some(last) if last.name == id.name => {
                if rank(&id) < rank(last) {
                    *last = id;
                }
            }
            _ => out.push(id),
        }
    }
    out
}

/// Orders the series of one name: the raw series with the longest retention first, then
/// the interval series from the finest interval.
fn rank(id: &SeriesId) -> (u8, u64) {
    match id.model {
        Model::Raw { ttl } => (0, u64::MAX - u64::from(ttl)),
        Model::Interval { interval, .. } => (1, u64::from(interval)),
    }
}

/// Picks the series a plugin means by a bare name: the raw series with the longest
/// retention, or else the interval series with the finest interval (the first listed of
/// equals).
pub fn preferred(ids: Vec<SeriesId>) -> Option<SeriesId> {
    ids.into_iter().min_by_key(rank)
}

/// The series of the names a task has found or located, by name.
///
/// `find` results (often every metric, of which a sharded task then reads a part) are kept
/// as the sorted vector they come in and searched by bisection: no hashing or copying of
/// names that are never read. Names located by `read_many` itself go into a map.
#[derive(Debug, Default)]
pub(super) struct Known {
    /// Sorted by name, one series per name.
    found: Vec<SeriesId>,
    located: HashMap<String, SeriesId>,
}

impl Known {
    fn get(&self, name: &str) -> Option<&SeriesId> {
        match self.found.binary_search_by(|id| id.name.as_str().cmp(name)) {
            Ok(i) => self.found.get(i),
            Err(_) => self.located.get(name),
        }
    }

    /// Adds what a `find` returned (one series per name, sorted by name).
    fn add_found(&mut self, ids: Vec<SeriesId>) {
        if self.found.is_empty() {
            self.found = ids;
        } else {
            self.found.extend(ids);
            // Stable: of a name found twice the first stays, and both are the same series.
            self.found.sort_by(|a, b| a.name.cmp(&b.name));
            self.found.dedup_by(|a, b| a.name == b.name);
        }
    }
}

impl StoreHost<'_> {
    pub(super) fn read_one(
        &mut self,
        name: &str,
        from: i64,
        until: i64,
        deliver: &mut DeliverSeries<'_>,
    ) -> Result<(), HostError> {
        let points = self.store("reading a series", async |store| {
            let ids = store.find(&Pattern::exact(name)?).await?;
            match preferred(ids) {
                Some(id) => store.read(&id, from, until).await,
                None => Ok(Vec::new()),
            }
        })?;
        self.stats.series_read += 1;
        deliver(name, &points);
        Ok(())
    }

    pub(super) fn read_matching(
        &mut self,
        pattern: &str,
        from: i64,
        until: i64,
        deliver: &mut DeliverSeries<'_>,
    ) -> Result<(), HostError> {
        let all = self.store("reading a pattern", async |store| {
            let chosen = by_name(store.find(&Pattern::parse(pattern)?).await?);
            let mut out = Vec::with_capacity(chosen.len());
            for chunk in chosen.chunks(READ_BATCH) {
                let series = store.read_many(chunk, from, until).await?;
                out.extend(chunk.iter().map(|id| id.name.clone()).zip(series));
            }
            Ok(out)
        })?;
        self.stats.series_read += all.len() as u64;
        for (name, points) in &all {
            deliver(name, points);
        }
        Ok(())
    }

    pub(super) fn read_names(
        &mut self,
        names: &[String],
        from: i64,
        until: i64,
        deliver: &mut DeliverSeries<'_>,
    ) -> Result<(), HostError> {
        let unknown: Vec<String> = names
            .iter()
            .filter(|n| self.known.get(n).is_none())
            .cloned()
            .collect();
        if !unknown.is_empty() {
            let located = self.store("locating series", async |store| {
                store.locate(&unknown).await
            })?;
            for (name, ids) in unknown.into_iter().zip(located) {
                if let Some(id) = preferred(ids) {
                    self.known.located.insert(name, id);
                }
            }
        }
        let mut present: Vec<SeriesId> = Vec::with_capacity(names.len());
        let mut found: Vec<bool> = Vec::with_capacity(names.len());
        for name in names {
            let id = self.known.get(name);
            found.push(id.is_some());
            present.extend(id.cloned());
        }
        let mut out = Delivery {
            names,
            found,
            next: 0,
            deliver,
        };
        self.store("reading series", async |store| {
            for chunk in present.chunks(READ_BATCH) {
                store
                    .read_many_each(chunk, from, until, |_, points| out.series(points))
                    .await?;
            }
            Ok(())
        })?;
        out.rest();
        self.stats.series_read += present.len() as u64;
        Ok(())
    }

    pub(super) fn find_names(
        &mut self,
        pattern: &str,
        deliver: &mut dyn FnMut(&str),
    ) -> Result<(), HostError> {
        let ids = self.store("finding names", async |store| {
            store.find(&Pattern::parse(pattern)?).await
        })?;
        let ids = by_name(ids);
        for id in &ids {
            deliver(&id.name);
        }
        self.known.add_found(ids);
        Ok(())
    }
}

/// Delivers the series of a `read_many` call to the plugin in the order of its names, as
/// they arrive, lending the store's decoded points without a copy.
struct Delivery<'n, 'd, 'f> {
    names: &'n [String],
    /// Whether each name has a series (those come from the store, in order).
    found: Vec<bool>,
    /// The next name to deliver.
    next: usize,
    deliver: &'d mut DeliverSeries<'f>,
}

impl Delivery<'_, '_, '_> {
    /// Delivers the next series found, preceded by an empty series for each name before it
    /// that has none.
    fn series(&mut self, points: &[Point]) {
        while let Some(name) = self.names.get(self.next) {
            let found = self.found.get(self.next).copied().unwrap_or(false);
            self.next += 1;
            if found {
                (self.deliver)(name, points);
                return;
            }
            (self.deliver)(name, &[]);
        }
    }

    /// Delivers an empty series for each remaining name.
    fn rest(&mut self) {
        while let Some(name) = self.names.get(self.next) {
            self.next += 1;
            (self.deliver)(name, &[]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(name: &str, model: Model) -> SeriesId {
        SeriesId {
            name: name.into(),
            model,
        }
    }

    #[test]
    fn delivery_keeps_the_order_of_the_names_with_empty_series_for_missing_ones() {
        let names: Vec<String> = ["a", "gone1", "b", "gone2", "c", "gone3"]
            .iter()
            .map(ToString::to_string)
            .collect();
        let mut got: Vec<(String, Vec<(i64, f64)>)> = Vec::new();
        let mut collect = |name: &str, points: &[Point]| {
            got.push((
                name.into(),
                points.iter().map(|p| (p.ts, p.value)).collect(),
            ));
        };
        let mut d = Delivery {
            names: &names,
            found: vec![true, false, true, false, true, false],
            next: 0,
            deliver: &mut collect,
        };
        let p = |ts: i64| Point {
            ts,
            value: ts as f64 / 2.0,
        };
        d.series(&[p(1), p(2)]);
        d.series(&[]);
        d.series(&[p(3)]);
        d.rest();
        assert_eq!(
            got,
            vec![
                ("a".into(), vec![(1, 0.5), (2, 1.0)]),
                ("gone1".into(), vec![]),
                ("b".into(), vec![]),
                ("gone2".into(), vec![]),
                ("c".into(), vec![(3, 1.5)]),
                ("gone3".into(), vec![]),
            ]
        );
    }

    #[test]
    fn by_name_keeps_the_preferred_series_of_each_name() {
        let raw_day = Model::Raw { ttl: 86_400 };
        let raw_week = Model::Raw { ttl: 604_800 };
        let iv = Model::Interval {
            interval: 300,
            ttl: 86_400,
        };
        let ids = vec![
            id("a", raw_day),
            id("a", raw_week),
            id("a", iv),
            id("b", iv),
            id("c", raw_day),
        ];
        assert_eq!(
            by_name(ids),
            vec![id("a", raw_week), id("b", iv), id("c", raw_day)]
        );
        assert_eq!(
            preferred(vec![id("x", iv), id("x", raw_day)]),
            Some(id("x", raw_day))
        );
        assert_eq!(preferred(Vec::new()), None);
    }

    #[test]
    fn known_finds_found_and_located_names() {
        let m = Model::Raw { ttl: 86_400 };
        let mut known = Known::default();
        known.add_found(vec![id("b", m), id("d", m)]);
        known.add_found(vec![id("a", m), id("d", m)]);
        known.located.insert("z".into(), id("z", m));
        for name in ["a", "b", "d", "z"] {
            assert_eq!(known.get(name).map(|i| i.name.as_str()), Some(name));
        }
        assert!(known.get("c").is_none());
        let found: Vec<&str> = known.found.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(found, ["a", "b", "d"]);
    }
}
