//! From the series the expression's metrics match to alarms: `match_by` groups them, one alarm
//! per group, named by its subject.

use std::ops::Range;

use am_plugin_api::{Context, PluginError, Series};
use am_plugin_kit::bytes::in_shard;

use crate::expr::Metric;
use crate::glob::{Matcher, split_tags};

/// How series become alarms (`match_by`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grouping {
    /// One alarm for the whole expression, over every series its metrics match.
    One,
    /// One alarm per value of the metrics' wildcards (per series, for one metric).
    Wildcards,
    /// One alarm per value of these tags (monasca's dimensions).
    Tags(Vec<String>),
}

/// A metric of the expression (several sub-expressions may share one) and what it read.
#[derive(Debug)]
pub struct Source {
    /// The metric as written.
    pub metric: Metric,
    /// Its compiled glob.
    pub matcher: Matcher,
    /// Seconds read back from the tick: the longest silence span of its sub-expressions.
    pub span: i64,
}

/// One source's series at a tick, with their group keys.
#[derive(Debug, Default)]
pub struct Read {
    /// The series, in name order.
    pub series: Vec<Series>,
    /// Each series' group key (`None` for a source shared by every group).
    pub keys: Vec<Option<String>>,
}

/// The alarms of a tick: every (source, series) of a grouped source, ordered by group key,
/// and the alarms as runs of it.
#[derive(Debug, Default)]
pub struct Groups {
    /// `(source, series index)`, by group key, then source.
    pub entries: Vec<(usize, usize)>,
    /// The alarms.
    pub groups: Vec<Group>,
}

/// One alarm at a tick: its subject and its series (a run of [`Groups::entries`]; a source
/// shared by every group has none there: all its series count).
#[derive(Debug)]
pub struct Group {
    /// The subject of its verdicts.
    pub subject: String,
    /// Its run of [`Groups::entries`].
    pub range: Range<usize>,
}

impl Groups {
    /// The indices of `group`'s series of `source`.
    pub fn members<'a>(&'a self, group: &Group, source: usize) -> impl Iterator<Item = usize> + 'a {
        self.entries[group.range.clone()]
            .iter()
            .filter(move |(s, _)| *s == source)
            .map(|(_, i)| *i)
    }
}

/// Whether `source` is shared by every group (it has no wildcard to group by).
pub fn shared(grouping: &Grouping, source: &Source) -> bool {
    matches!(grouping, Grouping::Wildcards) && source.matcher.wildcards() == 0
}

/// The group key of a series `name` of `source`, or `None` when the series is not one of
/// the source's (or carries none of the tags grouped by).
fn key(grouping: &Grouping, source: &Source, name: &str) -> Option<String> {
    let caps = source.matcher.captures(name)?;
    match grouping {
        Grouping::One => Some(String::new()),
        Grouping::Wildcards => Some(caps),
        Grouping::Tags(names) => {
            let (_, tags) = split_tags(name);
            let values: Vec<&str> = names
                .iter()
                .map(|n| tags.iter().find(|(k, _)| k == n).map_or("", |(_, v)| *v))
                .collect();
            values
                .iter()
                .any(|v| !v.is_empty())
                .then(|| values.join("\u{1f}"))
        }
    }
}

/// Of the candidate `names` of `source`, those that are its series and this shard's, with
/// their group keys.
pub fn select(
    grouping: &Grouping,
    source: &Source,
    names: Vec<String>,
    shard: (u32, u32),
) -> (Vec<String>, Vec<Option<String>>) {
    let share = shared(grouping, source);
    let mut kept = Vec::with_capacity(names.len());
    let mut keys = Vec::with_capacity(names.len());
    for name in names {
        let Some(k) = key(grouping, source, &name) else {
            continue;
        };
        if share {
            keys.push(None);
        } else if in_shard(&k, shard) {
            keys.push(Some(k));
        } else {
            continue;
        }
        kept.push(name);
    }
    (kept, keys)
}

/// Lists and reads `source`'s series of this shard over `(tick − span, tick]`.
pub fn read(
    ctx: &Context<'_>,
    grouping: &Grouping,
    source: &Source,
    tick: i64,
) -> Result<Read, PluginError> {
    let found = ctx.find(source.matcher.find_pattern())?;
    let (names, mut keys) = select(grouping, source, found, ctx.shard());
    let mut series = if names.is_empty() {
        Vec::new()
    } else {
        ctx.read_many(&names, tick - source.span + 1, tick)?
    };
    // A series without points in the span is silent (UNDETERMINED in time) only if it had
    // points before; one without any point up to `tick` has not begun: not an alarm yet (so
    // a new series does not go UNDETERMINED, then OK, and notify).
    let empty: Vec<String> = series
        .iter()
        .filter(|s| s.points.is_empty())
        .map(|s| s.name.clone())
        .collect();
    if !empty.is_empty() {
        let before = ctx.read_many(&empty, 0, tick - source.span)?;
        let unborn: std::collections::HashSet<&str> = before
            .iter()
            .filter(|s| s.points.is_empty())
            .map(|s| s.name.as_str())
            .collect();
        if !unborn.is_empty() {
            let keep: Vec<bool> = series
                .iter()
                .map(|s| !unborn.contains(s.name.as_str()))
                .collect();
            let mut k = keep.iter();
            keys.retain(|_| k.next().copied().unwrap_or(false));
            let mut k = keep.iter();
            series.retain(|_| k.next().copied().unwrap_or(false));
        }
    }
    Ok(Read { series, keys })
}

/// The alarms of a tick, by group key: a group is an alarm when every source has series in it
/// (or, shared, at all), as monasca creates an alarm only once every sub-expression's metric
/// has been seen.
pub fn groups(grouping: &Grouping, sources: &[Source], reads: &[Read]) -> Groups {
    let n = sources.len();
    let grouped: Vec<usize> = (0..n).filter(|&s| !shared(grouping, &sources[s])).collect();
    let shared_present = (0..n)
        .filter(|s| !grouped.contains(s))
        .all(|s| !reads[s].series.is_empty());
    let first_metric = sources
        .first()
        .map_or_else(String::new, |s| s.metric.to_string());
    if grouped.is_empty() {
        // Nothing to group by: one alarm over everything.
        let groups = if shared_present {
            vec![Group {
                subject: first_metric,
                range: 0..0,
            }]
        } else {
            Vec::new()
        };
        return Groups {
            entries: Vec::new(),
            groups,
        };
    }
    if !shared_present {
        return Groups::default();
    }
    let key_of = |&(s, i): &(usize, usize)| reads[s].keys[i].as_deref().unwrap_or("");
    let mut entries: Vec<(usize, usize)> = grouped
        .iter()
        .flat_map(|&s| (0..reads[s].keys.len()).map(move |i| (s, i)))
        .collect();
    entries.sort_by(|a, b| key_of(a).cmp(key_of(b)).then(a.cmp(b)));
    let mut groups = Vec::new();
    let mut start = 0;
    while start < entries.len() {
        let key = key_of(&entries[start]);
        let mut end = start + 1;
        while end < entries.len() && key_of(&entries[end]) == key {
            end += 1;
        }
        let run = &entries[start..end];
        let complete = grouped.iter().all(|g| run.iter().any(|(s, _)| s == g));
        if complete {
            let subject = match grouping {
                Grouping::One => first_metric.clone(),
                Grouping::Wildcards => {
                    let (s, i) = run[0];
                    reads[s].series.get(i).map_or_else(
                        || first_metric.clone(),
                        |x| split_tags(&x.name).0.to_owned(),
                    )
                }
                Grouping::Tags(names) => names
                    .iter()
                    .zip(key.split('\u{1f}'))
                    .map(|(n, v)| format!("{n}={v}"))
                    .collect::<Vec<_>>()
                    .join(","),
            };
            groups.push(Group {
                subject,
                range: start..end,
            });
        }
        start = end;
    }
    Groups { entries, groups }
}
