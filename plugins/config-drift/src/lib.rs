//! `ConfigDrift`: configuration drift across a fleet.
//!
//! A node configured unlike its peers is an anomaly, as a metric unlike its past is. At each
//! tick, for one service, the plugin reads every node's configuration (files, one per node,
//! or URLs), parses each into a tree and flattens it to key paths
//! (`namespace[test].storage-engine.file`), and compares each node
//!
//! - with the `reference` configuration when one is given (the copy in git, say), or else
//!   with the **majority of its peers**: there is no master node; a node differs at a path
//!   when more than half of the other nodes hold something else there;
//! - with its own **running configuration** (`runtime`: a file, a URL, or a command such as
//!   `asinfo -h {node} -v get-config`), at the paths both have.
//!
//! Values compare as the format means them: `128M` and `134217728` are the same to
//! Aerospike, `0x10` and `16` to YAML, and a repeated key (`file` lines) is a set. It is the
//! job of trademob's aerospike-config-anomaly-detector, without its master node, Flask
//! server and hand-set variables, for any format.
//!
//! # Outputs
//!
//! | output | what |
//! |---|---|
//! | `<node>.drift` | how many key paths of the node differ (dots in the node's name become `_`); not written for an `unknown` node |
//! | `drifted_nodes` | how many nodes are anomalous |
//! | `unknown_nodes` | how many nodes could not be judged |
//! | `nodes` | how many nodes were found (at most `max_nodes`) |
//! | `dropped_nodes` | how many were left out beyond `max_nodes` |
//!
//! and a **verdict per node** (the subject is the node's name): `anomalous` while it differs,
//! the reason listing the first `listed` differing paths with both values and counting the
//! rest (`3 key paths differ: namespace[test].replication-factor is 3 here, 2 on 4 of 4
//! peers; ...`), with the values `drift`, `config` (paths differing from the reference or
//! peers) and `runtime`; `ok` when it matches everything it was compared with; `unknown` with
//! the reason when its configuration cannot be read or parsed, or a comparison could not be
//! made and found nothing otherwise. A bad file never fails the run: its node is `unknown`,
//! the others are judged. The plugin reports every node at every run
//! ([`Reporting::EveryRun`](am_plugin_api::Reporting::EveryRun)): a node whose file
//! disappears is no longer judged, and its alarm becomes UNDETERMINED after
//! `undetermined_after`. A service with `"shards"` is judged by its first shard alone (the
//! majority needs every node in one place); the other shards do nothing.
//!
//! # Options
//!
//! | option | default | what |
//! |---|---|---|
//! | `nodes` | required | a glob of files, one per node named by the file's stem (`/srv/fleet/*.conf`: `as1.conf` is node `as1`), or an object `{"as1": "https://as1:8081/aerospike.conf", ...}` |
//! | `reference` | none | the configuration every node should have: a file or an `http(s)://` URL; without it, nodes are compared with their peers |
//! | `runtime` | none | a source of running configurations, or a list: `{"files": glob}`, `{"url": "http://{node}:8081/config"}` or `{"command": "asinfo -h {node} -v get-config:context=service"}`, with `format` (default `kv`: `key=value;...`, `name[0]` a repeat of `name`) and `prefix` (the path its keys sit under in the file: `service`, `namespace[test]`) |
//! | `format` | required | `aerospike`, `ini`, `json`, `yaml`, `properties` (or `kv`) |
//! | `ignore` | none | key paths that may differ (`service.node-id`, `namespace[*].rack-id`): `*` is any run of characters; a path is ignored with everything under it |
//! | `max_bytes` | 4194304 | the largest configuration read (file, response, command output) |
//! | `max_depth` | 64 | the deepest nesting accepted |
//! | `max_keys` | 100000 | the most key paths in one configuration |
//! | `max_nodes` | 1000 | the most nodes judged |
//! | `timeout` | 10 | seconds one URL or command may take; a command is then killed with its process group |
//! | `parallel` | 4 | configurations fetched and parsed at once |
//! | `listed` | 5 | differing paths listed in a reason |
//!
//! ```json
//! "ConfigDrift": {
//!   "scheduler_options": { "cron": "0 0 */6 * * *", "plugin_args": { "name": "ConfigDrift" } },
//!   "worker_options": {
//!     "aerospike": {
//!       "nodes": "/srv/fleet/aerospike/*.conf",
//!       "format": "aerospike",
//!       "runtime": { "command": "asinfo -h {node} -v get-config:context=service",
//!                    "prefix": "service" },
//!       "ignore": ["service.node-id", "network.service.access-address"]
//!     }
//!   }
//! }
//! ```
//!
//! # Formats and key paths
//!
//! - `aerospike`: `namespace test { ... }` is `namespace[test]`, `network { heartbeat { ... } }`
//!   is `network.heartbeat`; a typed stanza (`storage-engine device`, `index-type`,
//!   `sindex-type`) is `storage-engine` holding the value `device`. Sizes `K M G T P`
//!   (×1024; lowercase too, except `m`, which is minutes), durations `s m h d`, `yes`/`no`.
//! - `ini`: `section.key`; `json`/`yaml`: `a.b`, an array of scalars is one ordered value,
//!   other arrays' items `a[0]`; `properties`: the key itself.
//!
//! # Hostile input
//!
//! Whatever a file, a URL or a command gives, the run takes bounded time and memory: at most
//! `max_bytes` are read (a file's size is checked first; only regular files are opened), a
//! NUL byte or invalid UTF-8 is refused, nesting beyond `max_depth`, more than `max_keys`
//! paths, and more than 8 × `max_bytes` of key paths and values once parsed (every key
//! repeats its stanza's path; a YAML alias copies its anchor) are refused (no parser
//! recurses on the input's depth), URLs and commands have
//! `timeout`, and a command runs without a shell, in its own process group, killed whole on
//! timeout or too much output. Each is an `unknown` verdict naming the source and the limit.

use std::collections::BTreeMap;
use std::path::PathBuf;

use am_plugin_api::{BaseTask, Context, Init, PluginError};

mod compare;
mod error;
mod fetch;
mod flat;
mod fleet;
mod judge;
mod options;
mod parse;
mod report;
mod value;

pub use error::{ParseError, SourceError};
pub use options::{Nodes, Options, RuntimeSource};
pub use parse::Format;

use fetch::Location;
use flat::Ignore;
use fleet::{Job, Loader};
use options::{Runtime, RuntimeWhere};

/// The `ConfigDrift` plugin.
pub struct ConfigDrift {
    options: Options,
    runtime: Vec<Runtime>,
    ignore: Ignore,
    agent: Option<ureq::Agent>,
}

impl ConfigDrift {
    fn uses_urls(&self) -> bool {
        matches!(self.options.nodes, Nodes::Urls(_))
            || self
                .options
                .reference
                .as_deref()
                .is_some_and(|r| r.starts_with("http://") || r.starts_with("https://"))
            || self
                .runtime
                .iter()
                .any(|r| matches!(r.from, RuntimeWhere::Url(_)))
    }

    fn reference_location(&self) -> Option<Location> {
        let reference = self.options.reference.as_ref()?;
        Some(
            if reference.starts_with("http://") || reference.starts_with("https://") {
                Location::Url(reference.clone())
            } else {
                Location::File(PathBuf::from(reference))
            },
        )
    }
}

impl BaseTask for ConfigDrift {
    type Options = Options;
    const NAME: &'static str = "ConfigDrift";

    fn new(options: Options, init: &Init<'_>) -> Result<Self, PluginError> {
        let runtime = options.check()?;
        let ignore = Ignore::new(options.ignore.clone());
        let mut plugin = ConfigDrift {
            options,
            runtime,
            ignore,
            agent: None,
        };
        if plugin.uses_urls() {
            plugin.agent = Some(fetch::agent(plugin.options.fetch_limits()));
        }
        let nodes = match &plugin.options.nodes {
            Nodes::Files(glob) => format!("the files `{glob}`"),
            Nodes::Urls(urls) => format!("{} URLs", urls.len()),
        };
        init.debug(format!(
            "{}: nodes from {nodes} in {} format, {} runtime source(s)",
            init.service(),
            plugin.options.format.name(),
            plugin.runtime.len()
        ));
        Ok(plugin)
    }

    fn run(&mut self, ctx: &mut Context<'_>) -> Result<(), PluginError> {
        let options = &self.options;
        // The majority needs every node's configuration in one place: a sharded service is
        // judged by its first shard alone.
        let (shard, shards) = ctx.shard();
        if shard != 0 {
            ctx.debug(format!(
                "shard {shard} of {shards}: the fleet is judged by shard 0"
            ));
            return Ok(());
        }
        let discovery = fleet::discover(&options.nodes, options.max_nodes);
        for warning in &discovery.warnings {
            ctx.warn(format!("nodes: {warning}"));
        }
        if discovery.dropped > 0 {
            ctx.error(format!(
                "{} nodes beyond `max_nodes` ({}) left out",
                discovery.dropped, options.max_nodes
            ));
        }
        if discovery.nodes.is_empty()
            && let Nodes::Files(glob) = &options.nodes
        {
            ctx.warn(format!("no nodes found: no file matches `{glob}`"));
        }

        // Every configuration to load: the reference, each node's, each node's runtime ones.
        let mut jobs: Vec<Job> = Vec::new();
        let reference = self.reference_location().map(|location| {
            jobs.push(Job {
                location,
                format: options.format,
                prefix: String::new(),
            });
            jobs.len() - 1
        });
        let runtime_files: Vec<Option<BTreeMap<String, Vec<PathBuf>>>> = self
            .runtime
            .iter()
            .map(|runtime| match &runtime.from {
                RuntimeWhere::Files(pattern) => {
                    let (files, warnings) = fleet::files_by_stem(pattern);
                    for warning in warnings {
                        ctx.warn(format!("runtime: {warning}"));
                    }
                    Some(files)
                }
                _ => None,
            })
            .collect();
        let mut plans: Vec<judge::Plan> = Vec::new();
        for node in &discovery.nodes {
            let config = node.location.clone().map(|location| {
                jobs.push(Job {
                    location,
                    format: options.format,
                    prefix: String::new(),
                });
                jobs.len() - 1
            });
            let runtimes = self
                .runtime
                .iter()
                .zip(&runtime_files)
                .map(|(runtime, files)| {
                    fleet::runtime_location(runtime, &node.name, files.as_ref()).map(|location| {
                        jobs.push(Job {
                            location,
                            format: runtime.format,
                            prefix: runtime.prefix.clone(),
                        });
                        jobs.len() - 1
                    })
                })
                .collect();
            plans.push(judge::Plan {
                node: node.name.clone(),
                config,
                runtimes,
            });
        }

        let loader = Loader {
            limits: options.limits(),
            fetch: options.fetch_limits(),
            semantics: options.format.semantics(),
            ignore: &self.ignore,
            agent: self.agent.as_ref(),
        };
        let loaded = loader.load_all(&jobs, options.parallel);
        let reference = reference.map(|index| (&jobs[index].location, &loaded[index]));
        let outcomes = judge::judge(&plans, &loaded, reference, options.listed);

        ctx.emit("nodes", discovery.nodes.len() as f64)?;
        ctx.emit("dropped_nodes", discovery.dropped as f64)?;
        let (mut drifted, mut unknown) = (0, 0);
        for outcome in outcomes {
            match outcome.drift {
                Some(drift) => {
                    ctx.emit(&format!("{}.drift", field(&outcome.node)), drift as f64)?
                }
                None => unknown += 1,
            }
            if outcome.verdict.state == am_plugin_api::State::Anomalous {
                drifted += 1;
            }
            ctx.verdict(outcome.verdict)?;
        }
        ctx.emit("drifted_nodes", f64::from(drifted))?;
        ctx.emit("unknown_nodes", f64::from(unknown))?;
        ctx.info(format!(
            "{} nodes: {drifted} drifted, {unknown} unknown",
            discovery.nodes.len()
        ));
        Ok(())
    }
}

/// A node's name as one part of an output's name: its dots would split it.
fn field(node: &str) -> String {
    node.replace('.', "_")
}

am_plugin_api::export_plugin!(ConfigDrift);
