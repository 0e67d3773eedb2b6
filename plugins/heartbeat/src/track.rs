//! What the plugin remembers of each series, and its judgement: learned cadence, overdue,
//! retired, forgotten. Pure: no I/O.

/// Intervals remembered per series; the cadence is their median.
pub const RING: usize = 7;

/// The tracked series, sorted by name (the order `find` lists names in, so a tick's reads
/// merge into it in one pass).
pub type Tracked = Vec<(String, Entry)>;

/// One series as tracked (no heap: 40 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Entry {
    /// Its newest point's time.
    pub last_seen: i64,
    /// Retired by a graceful-shutdown marker: not judged until it reports again.
    pub retired: bool,
    /// How many of `ring` are set.
    len: u8,
    /// The newest intervals between its points, oldest first.
    ring: [u32; RING],
}

impl Entry {
    /// A series first seen with a point at `ts`.
    pub fn new(ts: i64) -> Entry {
        Entry {
            last_seen: ts,
            ..Entry::default()
        }
    }

    /// A series as stored: newest point, retired, intervals (oldest first; the newest
    /// [`RING`] are kept).
    pub fn with(last_seen: i64, retired: bool, intervals: &[u32]) -> Entry {
        let mut e = Entry {
            last_seen,
            retired,
            ..Entry::default()
        };
        for i in intervals.iter().rev().take(RING).rev() {
            e.push(*i);
        }
        e
    }

    fn push(&mut self, gap: u32) {
        let n = usize::from(self.len);
        if n == RING {
            self.ring.copy_within(1.., 0);
            self.ring[RING - 1] = gap;
        } else {
            self.ring[n] = gap;
            self.len += 1;
        }
    }

    /// The intervals remembered, oldest first.
    pub fn intervals(&self) -> &[u32] {
        &self.ring[..usize::from(self.len)]
    }

    /// Takes a point at `ts` (newer points only); `shutdown` when it is a shutdown marker.
    pub fn point(&mut self, ts: i64, shutdown: bool) {
        if ts <= self.last_seen {
            return;
        }
        self.push(u32::try_from(ts - self.last_seen).unwrap_or(u32::MAX));
        self.last_seen = ts;
        self.retired = shutdown;
    }

    /// Its cadence, once `learn` intervals were seen: the median interval.
    pub fn cadence(&self, learn: usize) -> Option<u32> {
        let n = usize::from(self.len);
        if n < learn.max(1) {
            return None;
        }
        let mut sorted = self.ring;
        sorted[..n].sort_unstable();
        Some(sorted[n / 2])
    }
}

/// How the series of a tick were judged.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Judgement {
    /// Overdue series: name, seconds of silence, cadence.
    pub overdue: Vec<(String, i64, u32)>,
    /// Series tracked after the tick.
    pub tracked: usize,
    /// Series retired by a shutdown marker.
    pub retired: usize,
    /// Series forgotten at this tick (silent past `forget_after`).
    pub forgotten: usize,
}

/// The judgement's settings.
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    /// Overdue after this many cadences of silence.
    pub tolerance: f64,
    /// Intervals needed before a cadence counts.
    pub learn: usize,
    /// Silence after which a series is forgotten.
    pub forget_after: i64,
}

/// Judges every tracked series at `tick`, forgetting those silent past `forget_after`.
pub fn judge(series: &mut Tracked, tick: i64, rules: &Rules) -> Judgement {
    let mut j = Judgement::default();
    series.retain(|(name, e)| {
        let silence = tick - e.last_seen;
        if silence > rules.forget_after {
            j.forgotten += 1;
            return false;
        }
        if e.retired {
            j.retired += 1;
            return true;
        }
        if let Some(cadence) = e.cadence(rules.learn)
            && silence as f64 > rules.tolerance * f64::from(cadence)
        {
            j.overdue.push((name.clone(), silence, cadence));
        }
        true
    });
    j.tracked = series.len();
    j
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cadence_overdue_retired_forgotten() {
        let mut e = Entry::new(100);
        for ts in [110, 120, 130] {
            e.point(ts, false);
        }
        e.point(125, false); // older: ignored
        assert_eq!(e.cadence(3), Some(10));
        assert_eq!(e.cadence(4), None);
        e.point(200, false); // one long gap does not move the median
        assert_eq!(e.cadence(3), Some(10));
        let rules = Rules {
            tolerance: 3.0,
            learn: 3,
            forget_after: 1000,
        };
        let mut all = vec![("a".to_owned(), e)];
        assert!(judge(&mut all, 230, &rules).overdue.is_empty());
        assert_eq!(
            judge(&mut all, 231, &rules).overdue,
            vec![("a".into(), 31, 10)]
        );
        let mut retired = e;
        retired.point(210, true);
        all = vec![("a".to_owned(), retired)];
        let j = judge(&mut all, 500, &rules);
        assert_eq!((j.overdue.len(), j.retired), (0, 1));
        let j = judge(&mut all, 1211, &rules);
        assert_eq!((j.forgotten, j.tracked), (1, 0));
        for _ in 0..20 {
            e.point(e.last_seen + 5, false);
        }
        assert_eq!(e.intervals().len(), RING);
        assert_eq!(
            Entry::with(9, true, &[1, 2, 3, 4, 5, 6, 7, 8, 9]).intervals(),
            &[3, 4, 5, 6, 7, 8, 9]
        );
        assert_eq!(e.cadence(3), Some(5));
    }
}
