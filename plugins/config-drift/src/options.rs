//! The options of one `ConfigDrift` service, and their checks.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use am_plugin_api::PluginError;
use serde::Deserialize;
use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::fetch::FetchLimits;
use crate::flat::Limits;
use crate::parse::Format;

/// The options of one service (its `worker_options` entry).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// Where each node's configuration comes from: a glob of files, one per node, the node
    /// named by the file's stem (`/srv/fleet/aerospike/*.conf`: `as1.conf` is node `as1`), or
    /// an object mapping node names to `http://`/`https://` URLs. Required.
    pub nodes: Nodes,
    /// The configuration every node should have: a file (the checkout of the copy in git, say)
    /// or an `http(s)://` URL. When set, each node is compared with it; otherwise with the
    /// majority of its peers. Optional.
    #[serde(default)]
    pub reference: Option<String>,
    /// Where each node's running configuration comes from: one source (an object) or a list
    /// of them. Optional; without it, running configurations are not compared.
    #[serde(default, deserialize_with = "one_or_many")]
    pub runtime: Vec<RuntimeSource>,
    /// The nodes' (and the reference's) format: `aerospike`, `ini`, `json`, `yaml`,
    /// `properties` (or `kv`). It also says how values compare (`128M` is `134217728` to
    /// `aerospike`). Required.
    pub format: Format,
    /// Key paths that may differ between nodes (host names, node ids, addresses):
    /// `service.node-id`, `namespace[*].storage-engine.file`. `*` stands for any run of
    /// characters; a path is ignored with everything under it. Default none.
    #[serde(default)]
    pub ignore: Vec<String>,
    /// The largest configuration read, in bytes (a file, a response body, a command's
    /// output); larger is `unknown`. Default 4194304 (4 MiB).
    #[serde(default = "default_max_bytes")]
    pub max_bytes: u64,
    /// The deepest nesting of stanzas, sections or objects accepted. Default 64.
    #[serde(default = "default_max_depth")]
    pub max_depth: usize,
    /// The most key paths one configuration may have (repeats included). Default 100000.
    #[serde(default = "default_max_keys")]
    pub max_keys: usize,
    /// The most nodes judged; beyond it (in name order) nodes are left out, counted in
    /// `dropped_nodes` and logged. Default 1000.
    #[serde(default = "default_max_nodes")]
    pub max_nodes: usize,
    /// How long one URL or command may take, in seconds; a command still running then is
    /// killed with its process group. Default 10.
    #[serde(default = "default_timeout")]
    pub timeout: f64,
    /// How many configurations are fetched and parsed at once. Default 4.
    #[serde(default = "default_parallel")]
    pub parallel: usize,
    /// How many differing key paths a reason lists before "N more". Default 5.
    #[serde(default = "default_listed")]
    pub listed: usize,
}

/// How many times `max_bytes` a configuration's key paths and values may take, parsed.
pub const EXPANSION: u64 = 8;

fn default_max_bytes() -> u64 {
    4 << 20
}
fn default_max_depth() -> usize {
    64
}
fn default_max_keys() -> usize {
    100_000
}
fn default_max_nodes() -> usize {
    1000
}
fn default_timeout() -> f64 {
    10.0
}
fn default_parallel() -> usize {
    4
}
fn default_listed() -> usize {
    5
}

/// `nodes`: files named by node, or URLs by node name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Nodes {
    /// A glob of files; the node is the file's stem.
    Files(String),
    /// Node name → URL.
    Urls(BTreeMap<String, String>),
}

impl<'de> Deserialize<'de> for Nodes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NodesVisitor;
        impl<'de> Visitor<'de> for NodesVisitor {
            type Value = Nodes;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a glob of files, or an object mapping node names to URLs")
            }
            fn visit_str<E: de::Error>(self, glob: &str) -> Result<Nodes, E> {
                Ok(Nodes::Files(glob.to_owned()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Nodes, A::Error> {
                BTreeMap::deserialize(MapAccessDeserializer::new(map)).map(Nodes::Urls)
            }
        }
        deserializer.deserialize_any(NodesVisitor)
    }
}

/// One source of running configurations (`runtime`): exactly one of `files`, `url`,
/// `command`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuntimeSource {
    /// A glob of files, one per node named by the file's stem (as for `nodes`).
    #[serde(default)]
    pub files: Option<String>,
    /// A URL with `{node}` in it (`http://{node}:8081/config`).
    #[serde(default)]
    pub url: Option<String>,
    /// A command with `{node}` in it (`asinfo -h {node} -v get-config:context=service`).
    /// It is split into words as a shell would (quotes group), but run without a shell: no
    /// pipes, redirections or variables. It must exit 0 within `timeout`.
    #[serde(default)]
    pub command: Option<String>,
    /// What it gives: `kv` (`key=value;...`, the default) or one of `format`'s formats.
    /// Values are compared as the service's `format` means them.
    #[serde(default = "default_runtime_format")]
    pub format: Format,
    /// The key path its keys sit under in the nodes' configuration (`service`,
    /// `namespace[test]`). Default none: its keys are full paths.
    #[serde(default)]
    pub prefix: String,
}

fn default_runtime_format() -> Format {
    Format::Kv
}

fn one_or_many<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<RuntimeSource>, D::Error> {
    struct OneOrMany;
    impl<'de> Visitor<'de> for OneOrMany {
        type Value = Vec<RuntimeSource>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a runtime source (an object) or a list of them")
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            RuntimeSource::deserialize(MapAccessDeserializer::new(map)).map(|one| vec![one])
        }
        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
            Vec::deserialize(SeqAccessDeserializer::new(seq))
        }
    }
    deserializer.deserialize_any(OneOrMany)
}

/// Where a runtime source reads, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuntimeWhere {
    /// A glob of files named by node.
    Files(String),
    /// A URL template with `{node}`.
    Url(String),
    /// A command's words, `{node}` in some.
    Command(Vec<String>),
}

/// A checked runtime source.
#[derive(Debug, Clone)]
pub struct Runtime {
    /// Where it reads.
    pub from: RuntimeWhere,
    /// Its format.
    pub format: Format,
    /// The path its keys sit under.
    pub prefix: String,
}

fn is_url(text: &str) -> bool {
    text.starts_with("http://") || text.starts_with("https://")
}

impl Options {
    /// Checks what serde cannot, so that a bad option fails at start-up, naming itself.
    pub fn check(&self) -> Result<Vec<Runtime>, PluginError> {
        let bad = |message: String| Err(PluginError::options(message));
        match &self.nodes {
            Nodes::Files(glob) => {
                if let Err(e) = glob::Pattern::new(glob) {
                    return bad(format!("`nodes`: `{glob}` is not a valid glob: {e}"));
                }
            }
            Nodes::Urls(urls) => {
                if urls.is_empty() {
                    return bad("`nodes`: no nodes".into());
                }
                if let Some((node, url)) = urls.iter().find(|(_, url)| !is_url(url)) {
                    return bad(format!(
                        "`nodes.{node}`: `{url}` is not an http:// or https:// URL"
                    ));
                }
            }
        }
        if self.reference.as_deref() == Some("") {
            return bad("`reference`: an empty path".into());
        }
        if self.max_bytes == 0 {
            return bad("`max_bytes` must be positive".into());
        }
        for (name, value) in [
            ("max_depth", self.max_depth),
            ("max_keys", self.max_keys),
            ("max_nodes", self.max_nodes),
            ("parallel", self.parallel),
        ] {
            if value == 0 {
                return bad(format!("`{name}` must be positive"));
            }
        }
        if self.parallel > 64 {
            return bad(format!(
                "`parallel` must be at most 64, got {}",
                self.parallel
            ));
        }
        if !(self.timeout.is_finite() && self.timeout > 0.0 && self.timeout <= 3600.0) {
            return bad(format!(
                "`timeout` must be more than 0 and at most 3600 seconds, got {}",
                self.timeout
            ));
        }
        self.runtime
            .iter()
            .enumerate()
            .map(|(index, source)| runtime(index, source))
            .collect()
    }

    /// The parse limits.
    pub fn limits(&self) -> Limits {
        Limits {
            max_depth: self.max_depth,
            max_keys: self.max_keys,
            max_expanded: usize::try_from(self.max_bytes.saturating_mul(EXPANSION))
                .unwrap_or(usize::MAX),
        }
    }

    /// The fetch limits.
    pub fn fetch_limits(&self) -> FetchLimits {
        FetchLimits {
            max_bytes: self.max_bytes,
            timeout: Duration::from_secs_f64(self.timeout),
        }
    }
}

fn runtime(index: usize, source: &RuntimeSource) -> Result<Runtime, PluginError> {
    let at = format!("`runtime[{index}]`");
    let bad = |message: String| Err(PluginError::options(format!("{at}: {message}")));
    let from = match (&source.files, &source.url, &source.command) {
        (Some(glob), None, None) => {
            if let Err(e) = glob::Pattern::new(glob) {
                return bad(format!("`files`: `{glob}` is not a valid glob: {e}"));
            }
            RuntimeWhere::Files(glob.clone())
        }
        (None, Some(url), None) => {
            if !is_url(url) || !url.contains("{node}") {
                return bad(format!(
                    "`url`: `{url}` must be an http:// or https:// URL with `{{node}}` in it"
                ));
            }
            RuntimeWhere::Url(url.clone())
        }
        (None, None, Some(command)) => {
            let Some(words) = shlex::split(command) else {
                return bad(format!("`command`: `{command}` has unbalanced quotes"));
            };
            if words.is_empty() || !words.iter().any(|w| w.contains("{node}")) {
                return bad(format!("`command`: `{command}` must have `{{node}}` in it"));
            }
            RuntimeWhere::Command(words)
        }
        _ => return bad("give exactly one of `files`, `url`, `command`".into()),
    };
    Ok(Runtime {
        from,
        format: source.format,
        prefix: source.prefix.clone(),
    })
}

/// Whether `node` may go into a URL or a command: a host name's characters, not starting
/// with `-` (which a command would take for an option).
pub fn safe_node_name(node: &str) -> bool {
    !node.is_empty()
        && !node.starts_with('-')
        && node
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}
