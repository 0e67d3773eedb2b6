//! The config of the collector under test: [`CollectorOptions`] rendered to `collector.json`
//! with the ports of [`CollectorPorts`].

use anyhow::Result;

use crate::ports::free_port;

/// The router most tests use: anna-molly's blacklist; everything under `test.` kept raw for a
/// day, and `test.cpu*` also in 300-second buckets. Model tags: `r86400` and `i300r86400`.
pub const DEFAULT_ROUTER: &str = r#"{
    "blacklist": ["MX", "osys.*"],
    "whitelist": {
      "test\\.": [ { "RedisTimeStamped": { "ttl": 86400 } } ],
      "test\\.cpu": [ { "RedisIntervalTimeStamped": { "ttl": 86400, "interval": 300 } } ]
    }
  }"#;

/// Tag of the raw model of [`DEFAULT_ROUTER`].
pub const RAW_TAG: &str = "r86400";

/// Tag of the interval model of [`DEFAULT_ROUTER`].
pub const INTERVAL_TAG: &str = "i300r86400";

/// What the collector under test is configured with, besides its ports (always fresh ones on
/// 127.0.0.1) and Redis (the one given to [`Collector::start`](super::Collector::start)).
#[derive(Debug, Clone)]
pub struct CollectorOptions {
    router: String,
    sink: Vec<(String, String)>,
    /// Where Redis is, replacing `host`/`port`/`db` (a `url`, `tls`, `sentinel`, `cluster`...).
    redis: Option<Vec<(String, String)>>,
    pickle: bool,
    plaintext_tcp: bool,
    plaintext_udp: bool,
    max_line_bytes: Option<usize>,
    max_frame_bytes: Option<usize>,
    tcp_fields: Vec<(String, String)>,
    limits: Option<String>,
    open_files: Option<(u64, u64)>,
    graphite: Option<(u16, u64)>,
}

impl Default for CollectorOptions {
    /// [`DEFAULT_ROUTER`], every listener type, default sink settings, no Graphite reporting.
    fn default() -> Self {
        Self {
            router: DEFAULT_ROUTER.to_owned(),
            sink: Vec::new(),
            redis: None,
            pickle: true,
            plaintext_tcp: true,
            plaintext_udp: true,
            max_line_bytes: None,
            max_frame_bytes: None,
            tcp_fields: Vec::new(),
            limits: None,
            open_files: None,
            graphite: None,
        }
    }
}

impl CollectorOptions {
    /// The `router` section, as JSON text.
    #[must_use]
    pub fn router(mut self, json: impl Into<String>) -> Self {
        self.router = json.into();
        self
    }

    /// Sets a field of `writer.RedisSink` to `json` (raw JSON text, e.g. `"1048576"`);
    /// `host`, `port` (the Redis given to [`Collector::start`](super::Collector::start)) and
    /// `db` (0) can be overridden.
    #[must_use]
    pub fn sink(mut self, field: impl Into<String>, json: impl Into<String>) -> Self {
        self.sink.push((field.into(), json.into()));
        self
    }

    /// Says where Redis is with these `writer.RedisSink` fields (raw JSON text each) instead
    /// of `host`/`port`/`db`: for `url`, `tls`, `username`, `sentinel`, `cluster`. The port
    /// given to [`Collector::start`](super::Collector::start) is then unused.
    #[must_use]
    pub fn redis(mut self, fields: &[(&str, String)]) -> Self {
        self.redis = Some(
            fields
                .iter()
                .map(|(f, j)| ((*f).to_owned(), j.clone()))
                .collect(),
        );
        self
    }

    /// Which listeners to configure: pickle TCP, plaintext TCP, plaintext UDP.
    #[must_use]
    pub fn listeners(mut self, pickle: bool, plaintext_tcp: bool, plaintext_udp: bool) -> Self {
        self.pickle = pickle;
        self.plaintext_tcp = plaintext_tcp;
        self.plaintext_udp = plaintext_udp;
        self
    }

    /// `max_line_bytes` of both plaintext listeners.
    #[must_use]
    pub fn max_line_bytes(mut self, n: usize) -> Self {
        self.max_line_bytes = Some(n);
        self
    }

    /// `max_frame_bytes` of the pickle listener.
    #[must_use]
    pub fn max_frame_bytes(mut self, n: usize) -> Self {
        self.max_frame_bytes = Some(n);
        self
    }

    /// Sets a field of both TCP listeners (pickle and plaintext) to `json` (raw JSON text),
    /// e.g. `("max_connections", "5")` or `("idle_timeout_secs", "2")`.
    #[must_use]
    pub fn tcp_listener(mut self, field: impl Into<String>, json: impl Into<String>) -> Self {
        self.tcp_fields.push((field.into(), json.into()));
        self
    }

    /// The top-level `limits` section, as JSON text (e.g. `{ "max_pending_bytes": 67108864 }`).
    #[must_use]
    pub fn limits(mut self, json: impl Into<String>) -> Self {
        self.limits = Some(json.into());
        self
    }

    /// Starts the collector with this soft and hard open-file limit (see
    /// [`DaemonSpec::open_files`](crate::DaemonSpec::open_files)).
    #[must_use]
    pub fn open_files(mut self, soft: u64, hard: u64) -> Self {
        self.open_files = Some((soft, hard));
        self
    }

    /// The open-file limits to start the collector with, if set.
    pub fn open_files_limits(&self) -> Option<(u64, u64)> {
        self.open_files
    }

    /// Sends self-metrics to carbon's plaintext port `port` on 127.0.0.1 every
    /// `interval_secs`, with prefix `am`.
    #[must_use]
    pub fn graphite(mut self, port: u16, interval_secs: u64) -> Self {
        self.graphite = Some((port, interval_secs));
        self
    }

    /// The whole `collector.json` text for these options.
    pub fn render(&self, redis_port: u16, ports: &CollectorPorts) -> String {
        let mut fields: Vec<(String, String)> = match &self.redis {
            Some(fields) => fields.clone(),
            None => vec![
                ("host".to_owned(), "\"127.0.0.1\"".to_owned()),
                ("port".to_owned(), redis_port.to_string()),
                ("db".to_owned(), "0".to_owned()),
            ],
        };
        for (field, json) in &self.sink {
            match fields.iter_mut().find(|(f, _)| f == field) {
                Some(slot) => slot.1 = json.clone(),
                None => fields.push((field.clone(), json.clone())),
            }
        }
        let sink = fields
            .iter()
            .map(|(field, json)| format!(r#""{field}": {json}"#))
            .collect::<Vec<_>>()
            .join(", ");
        let line_limit = self
            .max_line_bytes
            .map(|n| format!(r#", "max_line_bytes": {n}"#))
            .unwrap_or_default();
        let frame_limit = self
            .max_frame_bytes
            .map(|n| format!(r#", "max_frame_bytes": {n}"#))
            .unwrap_or_default();
        let tcp: String = self
            .tcp_fields
            .iter()
            .map(|(field, json)| format!(r#", "{field}": {json}"#))
            .collect();
        let mut listeners = Vec::new();
        if self.pickle {
            listeners.push(format!(
                r#"{{ "CarbonAsyncTcpSpout": {{ "host": "127.0.0.1", "port": {}{frame_limit}{tcp} }} }}"#,
                ports.pickle
            ));
        }
        if self.plaintext_tcp {
            listeners.push(format!(
                r#"{{ "CarbonPlaintextTcpSpout": {{ "host": "127.0.0.1", "port": {}{line_limit}{tcp} }} }}"#,
                ports.line
            ));
        }
        if self.plaintext_udp {
            listeners.push(format!(
                r#"{{ "CarbonPlaintextUdpSpout": {{ "host": "127.0.0.1", "port": {}{line_limit} }} }}"#,
                ports.udp
            ));
        }
        let graphite = self
            .graphite
            .map(|(port, interval)| {
                format!(
                    r#", "graphite": {{ "host": "127.0.0.1", "port": {port}, "prefix": "am", "interval": {interval} }}"#
                )
            })
            .unwrap_or_default();
        let limits = self
            .limits
            .as_ref()
            .map(|json| format!("\n  \"limits\": {json},"))
            .unwrap_or_default();
        format!(
            "{{{limits}\n  \"router\": {},\n  \"writer\": {{ \"RedisSink\": {{ {sink} }} }},\n  \
             \"listener\": [\n    {}\n  ],\n  \"metrics\": {{ \"listen\": \"127.0.0.1:{}\"{graphite} }}\n}}\n",
            self.router,
            listeners.join(",\n    "),
            ports.metrics
        )
    }
}

/// The ports of one collector, all on 127.0.0.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CollectorPorts {
    /// `CarbonAsyncTcpSpout` (pickle over TCP).
    pub pickle: u16,
    /// `CarbonPlaintextTcpSpout`.
    pub line: u16,
    /// `CarbonPlaintextUdpSpout`.
    pub udp: u16,
    /// `GET /metrics`.
    pub metrics: u16,
}

impl CollectorPorts {
    /// Four fresh ports.
    pub fn fresh() -> Result<Self> {
        Ok(Self {
            pickle: free_port()?,
            line: free_port()?,
            udp: free_port()?,
            metrics: free_port()?,
        })
    }
}
