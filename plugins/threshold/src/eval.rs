//! monasca-thresh's judgement of one sub-expression at a tick.
//!
//! The window is the `periods` periods before the tick: period `k` (0 the newest) holds the
//! points with `tick − (k+1)·period < ts ≤ tick − k·period`. The function reduces each
//! period's points (of every series of the alarm) to one value; a period without points has
//! none. Then, as monasca-thresh's `SubAlarmStats`:
//!
//! 1. a value that does not satisfy the comparison: **OK**;
//! 2. every period has a value and all satisfy it: **ALARM**;
//! 3. otherwise (periods without points, the others satisfying it): a `deterministic`
//!    sub-expression is **OK**; one that has seen no point for `2 × period × periods`
//!    seconds is **UNDETERMINED**; any other keeps its previous state (**hold**).
//!
//! `last` is evaluated on the newest point of each period and, as in monasca (where it is
//! evaluated as each measurement arrives and never from an empty window), keeps its state
//! while no point comes, however long.

use am_plugin_api::Point;

use crate::expr::{Func, SubExpr};

/// The state of a sub-expression (a sub-alarm).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SubState {
    /// The comparison does not hold.
    Ok,
    /// It holds for every period.
    Alarm,
    /// No data for `2 × period × periods`.
    Undetermined,
}

/// What a tick's data says about a sub-expression.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Judged {
    /// Its new state, or `None` to keep the previous one.
    pub state: Option<SubState>,
    /// The value of the newest period that has one.
    pub value: Option<f64>,
}

/// Room for the periods of a judgement, reused from one to the next.
#[derive(Debug, Default)]
pub struct Scratch(Vec<Acc>);

/// One period's points, reduced as they come.
#[derive(Debug, Clone, Copy, Default)]
pub struct Acc {
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
    last_ts: i64,
    last: f64,
}

impl Acc {
    fn add(&mut self, ts: i64, v: f64) {
        if self.count == 0 {
            self.min = v;
            self.max = v;
            self.last_ts = ts;
            self.last = v;
        } else {
            self.min = self.min.min(v);
            self.max = self.max.max(v);
            if ts >= self.last_ts {
                self.last_ts = ts;
                self.last = v;
            }
        }
        self.count += 1;
        self.sum += v;
    }

    fn value(&self, func: Func) -> Option<f64> {
        if self.count == 0 {
            return None;
        }
        Some(match func {
            Func::Min => self.min,
            Func::Max => self.max,
            Func::Sum => self.sum,
            Func::Count => self.count as f64,
            Func::Avg => self.sum / self.count as f64,
            Func::Last => self.last,
        })
    }
}

/// Judges `sub` at `tick` over the points of its series (each oldest first).
pub fn judge<'a>(
    sub: &SubExpr,
    series: impl IntoIterator<Item = &'a [Point]>,
    tick: i64,
    scratch: &mut Scratch,
) -> Judged {
    let periods = usize::try_from(sub.periods).unwrap_or(1).max(1);
    let period = sub.period.max(1);
    let slots = &mut scratch.0;
    slots.clear();
    slots.resize(periods, Acc::default());
    let silence_from = tick.saturating_sub(sub.silence());
    let mut recent = false;
    for points in series {
        // Only the points of the window and of the silence span matter: from the end.
        for p in points.iter().rev() {
            if p.ts > tick {
                continue;
            }
            if p.ts <= silence_from {
                break;
            }
            if !p.value.is_finite() {
                continue;
            }
            recent = true;
            let back = usize::try_from((tick - p.ts) / period).unwrap_or(usize::MAX);
            if back < periods {
                slots[periods - 1 - back].add(p.ts, p.value);
            }
        }
    }
    let value = slots.iter().rev().find_map(|s| s.value(sub.func));
    let mut exceeded = false;
    let mut empty = false;
    for v in slots.iter().map(|s| s.value(sub.func)) {
        match v {
            None => empty = true,
            Some(x) if !sub.op.holds(x, sub.threshold) => {
                return Judged {
                    state: Some(SubState::Ok),
                    value,
                };
            }
            Some(_) => exceeded = true,
        }
    }
    let state = if exceeded && !empty {
        Some(SubState::Alarm)
    } else if sub.func == Func::Last {
        None
    } else if sub.deterministic {
        Some(SubState::Ok)
    } else if !recent {
        Some(SubState::Undetermined)
    } else {
        None
    };
    Judged { state, value }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse;

    fn pts(v: &[(i64, f64)]) -> Vec<Point> {
        v.iter().map(|&(ts, value)| Point { ts, value }).collect()
    }

    fn state(expr: &str, points: &[(i64, f64)], tick: i64) -> Option<SubState> {
        let e = parse(expr, 60).unwrap();
        let p = pts(points);
        judge(&e.subs[0], [p.as_slice()], tick, &mut Scratch::default()).state
    }

    #[test]
    fn periods_alarm_ok_hold_and_undetermined() {
        // Three periods of 60 s before tick 1000: (820, 880], (880, 940], (940, 1000].
        let all_high = [(850, 96.0), (900, 97.0), (1000, 99.0)];
        assert_eq!(
            state("avg(x) > 95 times 3", &all_high, 1000),
            Some(SubState::Alarm)
        );
        // One period below: OK at once.
        let one_low = [(850, 96.0), (900, 90.0), (1000, 99.0)];
        assert_eq!(
            state("avg(x) > 95 times 3", &one_low, 1000),
            Some(SubState::Ok)
        );
        // A period without points, the others high: the previous state holds.
        let gap = [(850, 96.0), (1000, 99.0)];
        assert_eq!(state("avg(x) > 95 times 3", &gap, 1000), None);
        // ... unless deterministic: OK.
        assert_eq!(
            state("avg(x, deterministic) > 95 times 3", &gap, 1000),
            Some(SubState::Ok)
        );
        // No point for 2 × 60 × 3 = 360 s: UNDETERMINED; one at 641 still counts.
        assert_eq!(
            state("avg(x) > 95 times 3", &[(640, 1.0)], 1000),
            Some(SubState::Undetermined)
        );
        assert_eq!(state("avg(x) > 95 times 3", &[(641, 1.0)], 1000), None);
        // The boundary point belongs to the older period.
        assert_eq!(
            state("count(x) >= 2", &[(940, 1.0), (1000, 1.0)], 1000),
            Some(SubState::Ok)
        );
        assert_eq!(
            state("count(x) >= 2", &[(941, 1.0), (1000, 1.0)], 1000),
            Some(SubState::Alarm)
        );
        // `last` judges the newest point and holds forever without one.
        assert_eq!(
            state("last(x) > 5", &[(990, 9.0), (995, 1.0)], 1000),
            Some(SubState::Ok)
        );
        assert_eq!(state("last(x) > 5", &[(10, 9.0)], 1000), None);
    }
}
