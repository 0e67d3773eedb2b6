//! Storage models: how long a series is kept and at what granularity.

use crate::Error;

/// Chunk spans a series may use, in seconds. Fixed so that every reader can compute chunk keys
/// from the model alone, without a per-series lookup.
const SPANS: [u32; 9] = [60, 120, 300, 600, 900, 1800, 3600, 7200, 14400];

/// The largest offset a record can hold (it is stored as a `u16`).
pub const MAX_SPAN: u32 = u16::MAX as u32 + 1;

/// How a metric is stored: anna-molly's two Redis models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Model {
    /// `RedisTimeStamped`: every datapoint, kept for `ttl` seconds.
    Raw {
        /// Seconds a point is kept after its timestamp.
        ttl: u32,
    },
    /// `RedisIntervalTimeStamped`: the last value written within each `interval`-second bucket
    /// (bucket start = `ts - ts % interval`), reported at the bucket start, kept for `ttl` seconds.
    Interval {
        /// Bucket width in seconds.
        interval: u32,
        /// Seconds a point is kept after its timestamp.
        ttl: u32,
    },
}

impl Model {
    /// Checks the parameters; the collector refuses a config with a model that fails this.
    pub fn validate(&self) -> Result<(), Error> {
        match *self {
            Model::Raw { ttl } | Model::Interval { ttl, .. } if ttl == 0 => {
                Err(Error::InvalidModel {
                    field: "ttl",
                    reason: "must be at least 1 second".into(),
                })
            }
            Model::Interval { interval, .. } if interval == 0 || interval >= MAX_SPAN => {
                Err(Error::InvalidModel {
                    field: "interval",
                    reason: format!(
                        "must be between 1 and {} seconds, got {interval}",
                        MAX_SPAN - 1
                    ),
                })
            }
            _ => Ok(()),
        }
    }

    /// Seconds a point is kept after its timestamp.
    pub fn ttl(&self) -> u32 {
        match *self {
            Model::Raw { ttl } | Model::Interval { ttl, .. } => ttl,
        }
    }

    /// The short tag naming this model in keys: `r<ttl>` or `i<interval>r<ttl>`.
    ///
    /// The tag fixes the chunk span, so a reader that knows the tag knows every key.
    pub fn tag(&self) -> String {
        match *self {
            Model::Raw { ttl } => format!("r{ttl}"),
            Model::Interval { interval, ttl } => format!("i{interval}r{ttl}"),
        }
    }

    /// Parses a tag written by [`Model::tag`].
    pub fn from_tag(tag: &str) -> Option<Model> {
        let model = if let Some(rest) = tag.strip_prefix('i') {
            let (interval, ttl) = rest.split_once('r')?;
            Model::Interval {
                interval: interval.parse().ok()?,
                ttl: ttl.parse().ok()?,
            }
        } else {
            Model::Raw {
                ttl: tag.strip_prefix('r')?.parse().ok()?,
            }
        };
        model.validate().ok()?;
        // Only the canonical spelling is a tag (no leading zeros, no signs).
        (model.tag() == tag).then_some(model)
    }

    /// Seconds covered by one chunk key.
    ///
    /// About a third of the ttl, from a fixed ladder: long enough that the per-key overhead is
    /// spread over many points, short enough that expiring whole chunks keeps at most
    /// `ttl + span` seconds. Interval models round it to a multiple of the interval so a bucket
    /// never straddles two chunks.
    pub fn span(&self) -> u32 {
        let target = (self.ttl() / 3).max(60);
        let base = SPANS
            .iter()
            .copied()
            .filter(|s| *s <= target)
            .max()
            .unwrap_or(60);
        match *self {
            Model::Raw { .. } => base,
            Model::Interval { interval, .. } => interval.saturating_mul((base / interval).max(1)),
        }
    }

    /// The timestamp a point is stored at: itself, or its bucket start for interval models.
    pub fn align(&self, ts: i64) -> i64 {
        match *self {
            Model::Raw { .. } => ts,
            Model::Interval { interval, .. } => ts - ts.rem_euclid(i64::from(interval)),
        }
    }

    /// Start of the chunk holding timestamp `ts`.
    pub fn chunk_start(&self, ts: i64) -> i64 {
        ts - ts.rem_euclid(i64::from(self.span()))
    }

    /// Unix time at which the chunk starting at `chunk_start` expires: when its newest
    /// possible point is `ttl` seconds old.
    pub fn chunk_expiry(&self, chunk_start: i64) -> i64 {
        chunk_start + i64::from(self.span()) + i64::from(self.ttl())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_round_trip_and_reject_non_canonical() {
        for m in [
            Model::Raw { ttl: 10000 },
            Model::Interval {
                interval: 300,
                ttl: 1000,
            },
        ] {
            assert_eq!(Model::from_tag(&m.tag()), Some(m));
        }
        for bad in [
            "", "r", "r0", "r010", "x5", "i0r5", "i5", "r-1", "r+5", "i70000r5",
        ] {
            assert_eq!(Model::from_tag(bad), None, "{bad}");
        }
    }

    #[test]
    fn spans_fit_ttl_and_interval() {
        assert_eq!(Model::Raw { ttl: 86400 }.span(), 14400);
        assert_eq!(Model::Raw { ttl: 10000 }.span(), 1800);
        assert_eq!(Model::Raw { ttl: 10800 }.span(), 3600);
        assert_eq!(Model::Raw { ttl: 10 }.span(), 60);
        let m = Model::Interval {
            interval: 300,
            ttl: 1000,
        };
        assert_eq!(m.span(), 300);
        let odd = Model::Interval {
            interval: 7,
            ttl: 86400,
        };
        assert_eq!(odd.span() % 7, 0);
        assert!(odd.span() <= 14400);
        let big = Model::Interval {
            interval: 65535,
            ttl: 10,
        };
        assert_eq!(big.span(), 65535);
        assert!(big.span() <= MAX_SPAN);
    }

    #[test]
    fn buckets_never_straddle_chunks() {
        let m = Model::Interval {
            interval: 7,
            ttl: 5000,
        };
        for ts in 1_700_000_000i64..1_700_000_500 {
            let b = m.align(ts);
            assert_eq!(m.chunk_start(b), m.chunk_start(b + 6));
            assert!(b <= ts && ts < b + 7);
        }
    }

    #[test]
    fn negative_timestamps_align_down() {
        let m = Model::Raw { ttl: 600 };
        assert_eq!(m.span(), 120);
        assert_eq!(m.chunk_start(-1), -120);
    }
}
