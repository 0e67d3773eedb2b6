//! The fleet: which nodes there are and where their configurations come from
//! ([`discover`], [`runtime_location`]), and fetching and parsing them all, a few at a time
//! ([`load_all`]).

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

use crate::error::{ParseError, SourceError};
use crate::fetch::{FetchLimits, Location, fetch};
use crate::flat::{Builder, Flat, Ignore, Limits};
use crate::options::{Nodes, Runtime, RuntimeWhere, safe_node_name};
use crate::parse::{Format, parse};
use crate::value::Semantics;

/// A node and where its configuration is; `Err` when that cannot be said (two files
/// claim its name).
#[derive(Debug, Clone)]
pub struct Node {
    /// Its name: a file's stem, or a key of `nodes`.
    pub name: String,
    /// Where its configuration is.
    pub location: Result<Location, String>,
}

/// The nodes found, and what was left out.
#[derive(Debug, Default)]
pub struct Discovery {
    /// In name order, at most `max_nodes`.
    pub nodes: Vec<Node>,
    /// Nodes beyond `max_nodes`.
    pub dropped: usize,
    /// Problems worth a log line (unreadable directories, ...).
    pub warnings: Vec<String>,
}

/// Files matching `pattern`, by stem (a stem may have several files).
pub fn files_by_stem(pattern: &str) -> (BTreeMap<String, Vec<PathBuf>>, Vec<String>) {
    let mut by_stem: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    let mut warnings = Vec::new();
    let paths = match glob::glob(pattern) {
        Ok(paths) => paths,
        Err(e) => {
            return (
                by_stem,
                vec![format!("`{pattern}` is not a valid glob: {e}")],
            );
        }
    };
    for entry in paths {
        match entry {
            Ok(path) => {
                let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
                    warnings.push(format!("{}: no usable file name", path.display()));
                    continue;
                };
                by_stem.entry(stem.to_owned()).or_default().push(path);
            }
            Err(e) => warnings.push(format!("`{pattern}`: {e}")),
        }
    }
    (by_stem, warnings)
}

/// The nodes of `nodes`, at most `max_nodes` (in name order).
pub fn discover(nodes: &Nodes, max_nodes: usize) -> Discovery {
    let (all, warnings): (Vec<Node>, Vec<String>) = match nodes {
        Nodes::Urls(urls) => (
            urls.iter()
                .map(|(name, url)| Node {
                    name: name.clone(),
                    location: Ok(Location::Url(url.clone())),
                })
                .collect(),
            Vec::new(),
        ),
        Nodes::Files(pattern) => {
            let (by_stem, warnings) = files_by_stem(pattern);
            let nodes = by_stem
                .into_iter()
                .map(|(name, mut paths)| {
                    let location = if paths.len() == 1 {
                        Ok(Location::File(paths.remove(0)))
                    } else {
                        let shown: Vec<String> =
                            paths.iter().map(|p| p.display().to_string()).collect();
                        Err(format!(
                            "several files name this node: {}",
                            shown.join(", ")
                        ))
                    };
                    Node { name, location }
                })
                .collect();
            (nodes, warnings)
        }
    };
    let dropped = all.len().saturating_sub(max_nodes);
    Discovery {
        nodes: all.into_iter().take(max_nodes).collect(),
        dropped,
        warnings,
    }
}

/// Where `node`'s running configuration is, for `runtime`; `files` are the runtime source's
/// files by stem when it has a glob.
pub fn runtime_location(
    runtime: &Runtime,
    node: &str,
    files: Option<&BTreeMap<String, Vec<PathBuf>>>,
) -> Result<Location, SourceError> {
    let unsafe_name = || {
        SourceError::Missing(format!(
            "the node name `{node}` cannot go into a URL or command (letters, digits, `.`, \
             `_`, `-` only, not starting with `-`)"
        ))
    };
    match &runtime.from {
        RuntimeWhere::Files(pattern) => match files.and_then(|f| f.get(node)).map(Vec::as_slice) {
            Some([path]) => Ok(Location::File(path.clone())),
            Some([]) | None => Err(SourceError::Missing(format!(
                "no running configuration: no file of `{pattern}` is named `{node}`"
            ))),
            Some(paths) => {
                let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
                Err(SourceError::Missing(format!(
                    "several running configurations name this node: {}",
                    shown.join(", ")
                )))
            }
        },
        RuntimeWhere::Url(template) => {
            if !safe_node_name(node) {
                return Err(unsafe_name());
            }
            Ok(Location::Url(template.replace("{node}", node)))
        }
        RuntimeWhere::Command(words) => {
            if !safe_node_name(node) {
                return Err(unsafe_name());
            }
            Ok(Location::Command(
                words.iter().map(|w| w.replace("{node}", node)).collect(),
            ))
        }
    }
}

/// One configuration to fetch and parse.
#[derive(Debug, Clone)]
pub struct Job {
    /// Where it is.
    pub location: Location,
    /// Its format.
    pub format: Format,
    /// The path its keys sit under.
    pub prefix: String,
}

/// What every job shares.
pub struct Loader<'a> {
    /// The parse limits.
    pub limits: Limits,
    /// The fetch limits.
    pub fetch: FetchLimits,
    /// How values compare: the service's format's.
    pub semantics: Semantics,
    /// Paths left out.
    pub ignore: &'a Ignore,
    /// For URLs.
    pub agent: Option<&'a ureq::Agent>,
}

impl Loader<'_> {
    /// Fetches and parses one configuration. Never panics: a panic in a parser or a client
    /// becomes this job's error.
    pub fn load(&self, job: &Job) -> Result<Flat, SourceError> {
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let text = fetch(&job.location, self.fetch, self.agent)?;
            let builder = Builder::new(self.limits, self.semantics, self.ignore, &job.prefix);
            parse(job.format, &text, builder).map_err(|error| SourceError::Parse {
                what: job.location.to_string(),
                error,
            })
        }));
        outcome.unwrap_or_else(|_| {
            Err(SourceError::Parse {
                what: job.location.to_string(),
                error: ParseError::Panicked {
                    format: job.format.name(),
                    message: "a panic while fetching or parsing".into(),
                },
            })
        })
    }

    /// Loads every job, `parallel` at a time; results in the jobs' order.
    pub fn load_all(&self, jobs: &[Job], parallel: usize) -> Vec<Result<Flat, SourceError>> {
        let workers = parallel.clamp(1, jobs.len().max(1));
        if workers == 1 {
            return jobs.iter().map(|job| self.load(job)).collect();
        }
        let next = AtomicUsize::new(0);
        let mut results: Vec<Option<Result<Flat, SourceError>>> =
            (0..jobs.len()).map(|_| None).collect();
        thread::scope(|scope| {
            let work = || {
                let mut done = Vec::new();
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(job) = jobs.get(index) else { break };
                    done.push((index, self.load(job)));
                }
                done
            };
            // A worker the OS refuses to start is no loss: the others (or the loop below)
            // take its share.
            let handles: Vec<_> = (0..workers)
                .filter_map(|_| thread::Builder::new().spawn_scoped(scope, work).ok())
                .collect();
            for handle in handles {
                // `load` does not panic, so neither does a worker.
                if let Ok(done) = handle.join() {
                    for (index, result) in done {
                        results[index] = Some(result);
                    }
                }
            }
        });
        results
            .into_iter()
            .zip(jobs)
            .map(|(result, job)| result.unwrap_or_else(|| self.load(job)))
            .collect()
    }
}
