//! The router: blacklist, whitelist, and which models a metric is stored under.
//!
//! Semantics are anna-molly's: a blacklist regex rejects a name if it matches anywhere in it
//! (`re.search`); a whitelist regex matches at the start of the name (`re.match`: anchored at
//! the start, not the end); a name matching no whitelist pattern is ignored; a name matching
//! patterns that map to N distinct models is stored N times. All patterns of a list are matched
//! in one pass through a `RegexSet`, and decisions are cached per name, since the same names
//! arrive every interval.

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
        (0..MAX_MODELS as u16).filter(move |i| self.0 & (1 << i) != 0)
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
        Ok(Router {
            blacklist,
            whitelist,
            pattern_models,
            models: ModelTable::new(models),
            cache: quick_cache::sync::Cache::new(config.cache_size.max(1)),
        })
    }

    /// The distinct models, by id.
    pub fn models(&self) -> &ModelTable {
        &self.models
    }

    /// Decides what happens to `name`, from the cache when it has been seen recently.
    pub fn route(&self, name: &str) -> Decision {
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
