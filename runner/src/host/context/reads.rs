//! The read callbacks of the host: series by name, by pattern, by list, and names by pattern,
//! with the choice of series when a name is stored under several models.

#![allow(unsafe_code)]

use super::*;

/// Series fetched per pipeline of `MGET`s (reading a pattern or many names). Small: Redis
/// buffers much of a pipeline's reply before the socket takes it, and replies of several
/// megabytes (500 day-long series) cost Redis 40 % more CPU than 64 series in
/// `bench/analysis`, in page faults and copies; a round trip per 64 series costs little next
/// to their 1.5 MB.
const READ_BATCH: usize = 64;

/// Keeps the preferred series of each name of `ids` (sorted by name, as `find` returns
/// them), in name order.
pub(super) fn by_name(ids: Vec<SeriesId>) -> Vec<SeriesId> {
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
pub(super) fn rank(id: &SeriesId) -> (u8, u64) {
    match id.model {
        Model::Raw { ttl } => (0, u64::MAX - u64::from(ttl)),
        Model::Interval { interval, .. } => (1, u64::from(interval)),
    }
}

/// Picks the series a plugin means by a bare name: the raw series with the longest
/// retention, or else the interval series with the finest interval (the first listed of
/// equals).
pub(super) fn preferred(ids: Vec<SeriesId>) -> Option<SeriesId> {
    ids.into_iter().min_by_key(rank)
}

/// The series of the names a call has found or located, by name.
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

// The store's point has the ABI point's layout (both `repr(C)`: an `i64` then an `f64`), so
// a slice of one is a slice of the other.
const _: () = {
    assert!(std::mem::size_of::<am_store::Point>() == std::mem::size_of::<Point>());
    assert!(std::mem::align_of::<am_store::Point>() == std::mem::align_of::<Point>());
    assert!(std::mem::offset_of!(am_store::Point, ts) == std::mem::offset_of!(Point, ts));
    assert!(std::mem::offset_of!(am_store::Point, value) == std::mem::offset_of!(Point, value));
};

/// The store's points as ABI points, for lending (valid while `points` is borrowed).
fn lend_points(points: &[am_store::Point]) -> *const Point {
    points.as_ptr().cast::<Point>()
}

fn deliver(sink: *mut Sink, on_series: OnSeries, name: &str, points: &[am_store::Point]) {
    // SAFETY: the plugin gave us this sink and callback for this call; the views are valid
    // until it returns (`points` is borrowed across the call).
    unsafe {
        on_series(
            sink,
            lend(name.as_bytes()),
            lend_points(points),
            points.len(),
        );
    };
}

pub(super) unsafe extern "C" fn host_read_series(
    ctx: *mut c_void,
    name: Str<'_>,
    from: i64,
    until: i64,
    sink: *mut Sink,
    on_series: OnSeries,
) -> Status {
    // SAFETY: per the ABI contract.
    unsafe {
        with_ctx(ctx, |rc| {
            let name = text(name);
            let read = rc.with_store("reading a series", async |store| {
                let ids = store.find(&Pattern::exact(&name)?).await?;
                match preferred(ids) {
                    Some(id) => store.read(&id, from, until).await,
                    None => Ok(Vec::new()),
                }
            });
            read.map_or_else(
                |status| status,
                |points| {
                    rc.metrics.series_read.inc();
                    deliver(sink, on_series, &name, &points);
                    Status::Ok
                },
            )
        })
    }
}

pub(super) unsafe extern "C" fn host_read_pattern(
    ctx: *mut c_void,
    pattern: Str<'_>,
    from: i64,
    until: i64,
    sink: *mut Sink,
    on_series: OnSeries,
) -> Status {
    // SAFETY: per the ABI contract.
    unsafe {
        with_ctx(ctx, |rc| {
            let pattern = text(pattern);
            let read = rc.with_store("reading a pattern", async |store| {
                let ids = store.find(&Pattern::parse(&pattern)?).await?;
                let chosen = by_name(ids);
                let mut out = Vec::with_capacity(chosen.len());
                for chunk in chosen.chunks(READ_BATCH) {
                    let series = store.read_many(chunk, from, until).await?;
                    out.extend(chunk.iter().map(|id| id.name.clone()).zip(series));
                }
                Ok(out)
            });
            read.map_or_else(
                |status| status,
                |all| {
                    rc.metrics.series_read.add(all.len() as u64);
                    for (name, points) in &all {
                        deliver(sink, on_series, name, points);
                    }
                    Status::Ok
                },
            )
        })
    }
}

pub(super) unsafe extern "C" fn host_read_many(
    ctx: *mut c_void,
    names: *const Str<'_>,
    count: usize,
    from: i64,
    until: i64,
    sink: *mut Sink,
    on_series: OnSeries,
) -> Status {
    // SAFETY: per the ABI contract: `count` views at `names`, valid for the call.
    unsafe {
        with_ctx(ctx, |rc| {
            let names: Vec<String> = abi::strs(names, count).iter().map(|n| text(*n)).collect();
            let unknown: Vec<String> = names
                .iter()
                .filter(|n| rc.known.get(n).is_none())
                .cloned()
                .collect();
            let located = if unknown.is_empty() {
                Ok(Vec::new())
            } else {
                rc.with_store("locating series", async |store| {
                    store.locate(&unknown).await
                })
            };
            let located = match located {
                Ok(l) => l,
                Err(status) => return status,
            };
            for (name, ids) in unknown.into_iter().zip(located) {
                if let Some(id) = preferred(ids) {
                    rc.known.located.insert(name, id);
                }
            }
            let mut present: Vec<SeriesId> = Vec::with_capacity(names.len());
            let mut found: Vec<bool> = Vec::with_capacity(names.len());
            for name in &names {
                let id = rc.known.get(name);
                found.push(id.is_some());
                present.extend(id.cloned());
            }
            let mut out = Delivery {
                names: &names,
                found,
                next: 0,
                sink,
                on_series,
            };
            let read = rc.with_store("reading series", async |store| {
                for chunk in present.chunks(READ_BATCH) {
                    store
                        .read_many_each(chunk, from, until, |_, points| out.series(points))
                        .await?;
                }
                Ok(())
            });
            if let Err(status) = read {
                return status;
            }
            out.rest();
            rc.metrics.series_read.add(present.len() as u64);
            Status::Ok
        })
    }
}

/// Delivers the series of a `read_many` call to the plugin in the order of its names, as
/// they arrive, lending the store's decoded points without a copy.
pub(super) struct Delivery<'n> {
    names: &'n [String],
    /// Whether each name has a series (those come from the store, in order).
    found: Vec<bool>,
    /// The next name to deliver.
    next: usize,
    sink: *mut Sink,
    on_series: OnSeries,
}

impl Delivery<'_> {
    /// Delivers the next series found, preceded by an empty series for each name before it
    /// that has none.
    fn series(&mut self, points: &[am_store::Point]) {
        while let Some(name) = self.names.get(self.next) {
            let found = self.found.get(self.next).copied().unwrap_or(false);
            self.next += 1;
            if found {
                self.deliver(name, points);
                return;
            }
            self.deliver(name, &[]);
        }
    }

    /// Delivers an empty series for each remaining name.
    fn rest(&mut self) {
        while let Some(name) = self.names.get(self.next) {
            self.next += 1;
            self.deliver(name, &[]);
        }
    }

    fn deliver(&self, name: &str, points: &[am_store::Point]) {
        deliver(self.sink, self.on_series, name, points);
    }
}

pub(super) unsafe extern "C" fn host_find(
    ctx: *mut c_void,
    pattern: Str<'_>,
    sink: *mut Sink,
    on_name: OnStr,
) -> Status {
    // SAFETY: per the ABI contract.
    unsafe {
        with_ctx(ctx, |rc| {
            let pattern = text(pattern);
            let found = rc.with_store("finding names", async |store| {
                store.find(&Pattern::parse(&pattern)?).await
            });
            found.map_or_else(
                |status| status,
                |ids| {
                    let ids = by_name(ids);
                    for id in &ids {
                        on_name(sink, lend(id.name.as_bytes()));
                    }
                    rc.known.add_found(ids);
                    Status::Ok
                },
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Collects what the host delivers: `(name, points)`.
    unsafe extern "C" fn collect(sink: *mut Sink, name: Str<'_>, points: *const Point, len: usize) {
        // SAFETY: the tests pass a `Vec<(String, Vec<(i64, f64)>)>` as the sink, and the views
        // are valid for the call.
        unsafe {
            let out = &mut *sink.cast::<Vec<(String, Vec<(i64, f64)>)>>();
            let pts = if len == 0 {
                &[][..]
            } else {
                std::slice::from_raw_parts(points, len)
            };
            out.push((text(name), pts.iter().map(|p| (p.ts, p.value)).collect()));
        }
    }

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
        let mut d = Delivery {
            names: &names,
            found: vec![true, false, true, false, true, false],
            next: 0,
            sink: (&raw mut got).cast::<Sink>(),
            on_series: collect,
        };
        let p = |ts: i64| am_store::Point {
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
