//! When an algorithm's poll task fires.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use croner::Cron;

/// A schedule: a cron expression (UTC) or a fixed interval.
#[derive(Debug, Clone)]
pub enum Schedule {
    /// A cron expression, with or without a seconds field.
    Cron {
        /// The expression as written.
        expr: String,
        /// The parsed expression.
        cron: Box<Cron>,
    },
    /// Every `n` seconds, on multiples of `n` since the epoch, so every runner (and every
    /// restart) agrees on the tick times.
    Interval(u64),
}

impl Schedule {
    /// Parses a cron expression (5 fields, or 6 with seconds first).
    pub fn cron(expr: &str) -> Result<Schedule, String> {
        let fields = expr.split_whitespace().count();
        if !(5..=6).contains(&fields) {
            return Err(format!(
                "expected 5 fields (minute hour day month weekday) or 6 (with seconds first), got {fields} in {expr:?}"
            ));
        }
        // Field sizes, seconds first; a step beyond its field's range is a typo (croner accepts
        // `*/61` as "at 0").
        const SIZES: [(&str, u32); 6] = [
            ("second", 60),
            ("minute", 60),
            ("hour", 24),
            ("day of month", 31),
            ("month", 12),
            ("day of week", 7),
        ];
        let skip = 6 - fields;
        for (field, (what, size)) in expr.split_whitespace().zip(SIZES.iter().skip(skip)) {
            for part in field.split(',') {
                if let Some((_, step)) = part.split_once('/') {
                    match step.parse::<u32>() {
                        Ok(n) if (1..=*size).contains(&n) => {}
                        _ => {
                            return Err(format!(
                                "invalid cron expression {expr:?}: the {what} step {step:?} must be between 1 and {size}"
                            ));
                        }
                    }
                }
            }
        }
        let cron =
            Cron::from_str(expr).map_err(|e| format!("invalid cron expression {expr:?}: {e}"))?;
        Ok(Schedule::Cron {
            expr: expr.to_string(),
            cron: Box::new(cron),
        })
    }

    /// The first tick strictly after `t` (Unix seconds), if any.
    pub fn next_after(&self, t: i64) -> Option<i64> {
        match self {
            Schedule::Interval(n) => {
                let n = i64::try_from(*n).ok()?.max(1);
                Some(t - t.rem_euclid(n) + n)
            }
            Schedule::Cron { cron, .. } => {
                let at: DateTime<Utc> = DateTime::from_timestamp(t, 0)?;
                cron.find_next_occurrence(&at, false)
                    .ok()
                    .map(|d| d.timestamp())
            }
        }
    }
}

impl std::fmt::Display for Schedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Schedule::Cron { expr, .. } => write!(f, "cron {expr:?}"),
            Schedule::Interval(n) => write!(f, "every {n} s"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cron_with_and_without_seconds() {
        let s = Schedule::cron("*/30 * * * * *").unwrap();
        assert_eq!(s.next_after(1_700_000_000), Some(1_700_000_010));
        assert_eq!(s.next_after(1_700_000_010), Some(1_700_000_040));
        let s = Schedule::cron("*/5 * * * *").unwrap();
        assert_eq!(s.next_after(1_700_000_000), Some(1_700_000_100));
        let s = Schedule::cron("* * * * * *").unwrap();
        assert_eq!(s.next_after(1_700_000_000), Some(1_700_000_001));
        assert!(Schedule::cron("*/61 * * * * *").is_err());
        assert!(Schedule::cron("* * *").is_err());
        assert!(Schedule::cron("nonsense x y z w").is_err());
    }

    #[test]
    fn intervals_align_to_the_epoch() {
        let s = Schedule::Interval(30);
        assert_eq!(s.next_after(1_700_000_000), Some(1_700_000_010));
        assert_eq!(s.next_after(1_700_000_010), Some(1_700_000_040));
    }
}
