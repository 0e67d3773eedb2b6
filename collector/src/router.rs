//! The router: blacklist, whitelist, and which models a metric is stored under.
//!
//! Semantics are anna-molly's: a blacklist regex rejects a name if it matches anywhere in it
//! (`re.search`); a whitelist regex matches at the start of the name (`re.match`: anchored at
//! the start, not the end); a name matching no whitelist pattern is ignored; a name matching
//! patterns that map to N distinct models is stored N times. All patterns of a list are matched
//! in one pass through a `RegexSet`, and decisions are cached per name, since the same names
//! arrive every interval. When every pattern is plain text (`servers\.`, the common case), a
//! decision is a few prefix and substring tests, cheaper than a cache lookup, and no cache is
//! used.

use am_store::Model;
use am_store::writer::ModelTable;
use regex::RegexSet;

use crate::config::RouterConfig;

/// Most distinct models a config may use (they are a bit set in every routing decision).
pub const MAX_MODELS: usize = 64;

/// A set of model ids, small enough to copy with every decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ModelSet(u64);

impl ModelSet {
    fn insert(&mut self, id: u16) {
        self.0 |= 1 << id;
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0 == 0
    }

    /// The ids, ascending.
    pub fn ids(self) -> impl Iterator<Item = u16> {
        let mut bits = self.0;
        std::iter::from_fn(move || {
            if bits == 0 {
                return None;
            }
            let id = bits.trailing_zeros() as u16;
            bits &= bits - 1;
            Some(id)
        })
    }
}

impl FromIterator<u16> for ModelSet {
    fn from_iter<I: IntoIterator<Item = u16>>(iter: I) -> Self {
        let mut s = ModelSet::default();
        for i in iter {
            s.insert(i);
        }
        s
    }
}

/// What to do with a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// A blacklist pattern matched.
    Blacklisted,
    /// No whitelist pattern matched.
    Ignored,
    /// Store under these model ids (indexes into [`Router::models`]).
    Store(ModelSet),
}

/// Errors building a router (the config check reports them with their paths first).
#[derive(Debug, thiserror::Error)]
pub enum RouterError {
    /// A pattern list does not compile.
    #[error("{list} patterns do not compile: {source}")]
    Regex {
        /// `blacklist` or `whitelist`.
        list: &'static str,
        /// The regex error.
        source: regex::Error,
    },
    /// More distinct models than a decision can carry.
    #[error("{0} distinct models; at most 64 are supported")]
    TooManyModels(usize),
}

/// Routes metric names; cheap to share between connections.
#[derive(Debug)]
pub struct Router {
    blacklist: RegexSet,
    whitelist: RegexSet,
    /// Model ids per whitelist pattern, by pattern position.
    pattern_models: Vec<ModelSet>,
    models: ModelTable,
    cache: quick_cache::sync::Cache<Box<str>, Decision>,
    /// The same lists as text, when every pattern is plain text.
    literals: Option<Literals>,
}

/// Blacklist and whitelist whose patterns are all plain text: a blacklist entry matches when
/// the name contains it, a whitelist entry when the name starts with it (as the regexes would).
#[derive(Debug)]
struct Literals {
    blacklist: Vec<String>,
    whitelist: Vec<(String, ModelSet)>,
}

impl Literals {
    fn decide(&self, name: &str) -> Decision {
        if self.blacklist.iter().any(|b| name.contains(b.as_str())) {
            return Decision::Blacklisted;
        }
        let mut ids = ModelSet::default();
        for (prefix, set) in &self.whitelist {
            if name.starts_with(prefix.as_str()) {
                ids.0 |= set.0;
            }
        }
        if ids.is_empty() {
            Decision::Ignored
        } else {
            Decision::Store(ids)
        }
    }
}

/// The text a regex matches when it is plain text: characters other than the regex
/// metacharacters, which may appear escaped (`\.`). `None` for anything else; a pattern left
/// out this way only costs speed, since the regex then decides.
fn plain_text(pattern: &str) -> Option<String> {
    const META: &[char] = &[
        '\\', '.', '+', '*', '?', '(', ')', '|', '[', ']', '{', '}', '^', '$',
    ];
    let mut out = String::with_capacity(pattern.len());
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(e) if META.contains(&e) => out.push(e),
                _ => return None,
            },
            // `#` and whitespace are plain outside the `x` flag, which needs `(?x)`.
            c if META.contains(&c) => return None,
            c => out.push(c),
        }
    }
    Some(out)
}

impl Router {
    /// Builds the router from the config's `router` section.
    pub fn new(config: &RouterConfig) -> Result<Router, RouterError> {
        let blacklist = RegexSet::new(&config.blacklist).map_err(|source| RouterError::Regex {
            list: "blacklist",
            source,
        })?;
        let anchored: Vec<String> = config
            .whitelist
            .keys()
            .map(|p| format!("^(?:{p})"))
            .collect();
        let whitelist = RegexSet::new(&anchored).map_err(|source| RouterError::Regex {
            list: "whitelist",
            source,
        })?;
        let mut models: Vec<Model> = Vec::new();
        let mut pattern_models = Vec::with_capacity(config.whitelist.len());
        for specs in config.whitelist.values() {
            let mut ids = ModelSet::default();
            for spec in specs {
                let m = spec.model();
                let id = match models.iter().position(|x| *x == m) {
                    Some(i) => i,
                    None => {
                        models.push(m);
                        models.len() - 1
                    }
                };
                if id >= MAX_MODELS {
                    return Err(RouterError::TooManyModels(id + 1));
                }
                ids.insert(id as u16);
            }
            pattern_models.push(ids);
        }
        let literals = config
            .blacklist
            .iter()
            .map(|p| plain_text(p))
            .collect::<Option<Vec<_>>>()
            .zip(
                config
                    .whitelist
                    .keys()
                    .zip(&pattern_models)
                    .map(|(p, ids)| Some((plain_text(p)?, *ids)))
                    .collect::<Option<Vec<_>>>(),
            )
            .map(|(blacklist, whitelist)| Literals {
                blacklist,
                whitelist,
            });
        Ok(Router {
            blacklist,
            whitelist,
            pattern_models,
            models: ModelTable::new(models),
            cache: quick_cache::sync::Cache::new(config.cache_size.max(1)),
            literals,
        })
    }

    /// The distinct models, by id.
    pub fn models(&self) -> &ModelTable {
        &self.models
    }

    /// Decides what happens to `name`: directly when every pattern is plain text, else from
    /// the cache when it has been seen recently.
    pub fn route(&self, name: &str) -> Decision {
        if let Some(literals) = &self.literals {
            return literals.decide(name);
        }
        if let Some(d) = self.cache.get(name) {
            return d;
        }
        let d = self.decide(name);
        self.cache.insert(name.into(), d);
        d
    }

    fn decide(&self, name: &str) -> Decision {
        if self.blacklist.is_match(name) {
            return Decision::Blacklisted;
        }
        let mut ids = ModelSet::default();
        for i in self.whitelist.matches(name).iter() {
            if let Some(set) = self.pattern_models.get(i) {
                ids.0 |= set.0;
            }
        }
        if ids.is_empty() {
            Decision::Ignored
        } else {
            Decision::Store(ids)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{IntervalSpec, ModelSpec, TimeStampedSpec};
    use indexmap::IndexMap;

    fn router() -> Router {
        let mut whitelist = IndexMap::new();
        whitelist.insert(
            ".*".to_string(),
            vec![ModelSpec::RedisTimeStamped(TimeStampedSpec { ttl: 10000 })],
        );
        whitelist.insert(
            ".cpu*".to_string(),
            vec![ModelSpec::RedisIntervalTimeStamped(IntervalSpec {
                ttl: 1000,
                interval: 300,
            })],
        );
        whitelist.insert(
            "web\\.".to_string(),
            vec![ModelSpec::RedisTimeStamped(TimeStampedSpec { ttl: 10000 })],
        );
        Router::new(&RouterConfig {
            blacklist: vec!["MX".into(), "osys.*".into()],
            whitelist,
            cache_size: 4,
        })
        .unwrap()
    }

    #[test]
    fn anna_molly_semantics() {
        let r = router();
        // Blacklist matches anywhere (re.search).
        assert_eq!(r.route("host.MX.load"), Decision::Blacklisted);
        assert_eq!(r.route("a.osys.b"), Decision::Blacklisted);
        // ".cpu*" is re.match: anchored at the start only; "." is any character.
        assert_eq!(
            r.route("xcpu.idle"),
            Decision::Store([0, 1].into_iter().collect())
        );
        assert_eq!(
            r.route("xcp"),
            Decision::Store([0, 1].into_iter().collect())
        );
        assert_eq!(
            r.route("system.cpu"),
            Decision::Store([0].into_iter().collect())
        );
        // Two patterns with the same model store it once.
        assert_eq!(
            r.route("web.hits"),
            Decision::Store([0].into_iter().collect())
        );
        // The cache is bounded and gives the same answers.
        for i in 0..100 {
            let name = format!("m{i}");
            assert_eq!(r.route(&name), Decision::Store([0].into_iter().collect()));
        }
        assert_eq!(r.route("host.MX.load"), Decision::Blacklisted);
    }

    fn config(blacklist: &[&str], whitelist: &[&str]) -> RouterConfig {
        let mut w = IndexMap::new();
        for (i, p) in whitelist.iter().enumerate() {
            w.insert(
                p.to_string(),
                vec![ModelSpec::RedisTimeStamped(TimeStampedSpec {
                    ttl: 60 * (1 + i as u32 % 3),
                })],
            );
        }
        RouterConfig {
            blacklist: blacklist.iter().map(|s| s.to_string()).collect(),
            whitelist: w,
            cache_size: 100,
        }
    }

    #[test]
    fn plain_text_patterns_are_recognised() {
        assert_eq!(plain_text("servers\\."), Some("servers.".into()));
        assert_eq!(
            plain_text("a\\.b-c_d:e;f=g#h i"),
            Some("a.b-c_d:e;f=g#h i".into())
        );
        assert_eq!(plain_text("\\$\\^\\(\\)\\\\"), Some("$^()\\".into()));
        assert_eq!(plain_text(""), Some(String::new()));
        for regex in [
            ".", "a.b", "^a", "a$", "a*", "a+", "a?", "(a)", "a|b", "[a]", "a{2}", "\\d", "\\<",
            "\\b", "(?i)a", "\\",
        ] {
            assert_eq!(plain_text(regex), None, "{regex}");
        }
    }

    #[test]
    fn plain_text_routing_decides_as_the_regexes_do() {
        let names = [
            "servers.web1.cpu",
            "servers",
            "servers.",
            "xservers.web1",
            "stats.MX.count",
            "stats.counts.MX",
            "statsd.x",
            "a.b",
            "",
            "é.servers.",
            "servers.é",
        ];
        for (black, white) in [
            (
                &["MX", "tmp\\."][..],
                &["servers\\.", "stats", "servers"][..],
            ),
            (&[], &["servers\\.web"]),
            (&["\\."], &["s"]),
            (&[""], &["servers"]),
            (&[], &[""]),
            (&["é"], &["servers\\.", "é"]),
        ] {
            let cfg = config(black, white);
            let r = Router::new(&cfg).unwrap();
            assert!(r.literals.is_some(), "{black:?} {white:?}");
            for name in names {
                assert_eq!(
                    r.route(name),
                    r.decide(name),
                    "{name:?} with {black:?} {white:?}"
                );
            }
        }
        // One regex among the patterns: the regexes decide, through the cache.
        let r = Router::new(&config(&["MX"], &["servers\\.", "stats.*"])).unwrap();
        assert!(r.literals.is_none());
        assert_eq!(
            r.route("stats.x"),
            Decision::Store([1].into_iter().collect())
        );
    }

    #[test]
    fn model_ids_iterate_in_order() {
        let set: ModelSet = [0, 5, 63, 17].into_iter().collect();
        assert_eq!(set.ids().collect::<Vec<_>>(), vec![0, 5, 17, 63]);
        assert_eq!(ModelSet::default().ids().count(), 0);
    }

    #[test]
    fn non_matching_names_are_ignored() {
        let mut whitelist = IndexMap::new();
        whitelist.insert(
            "system\\.".to_string(),
            vec![ModelSpec::RedisTimeStamped(TimeStampedSpec { ttl: 60 })],
        );
        let r = Router::new(&RouterConfig {
            blacklist: vec![],
            whitelist,
            cache_size: 10,
        })
        .unwrap();
        assert_eq!(r.route("app.system.x"), Decision::Ignored);
        assert_eq!(
            r.route("system.x"),
            Decision::Store([0].into_iter().collect())
        );
    }
}
