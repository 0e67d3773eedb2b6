//! A real carbon-relay that forwards what it receives, over the pickle protocol, to
//! destinations on 127.0.0.1.

use std::path::Path;

use anyhow::{Context, Result};
use tempfile::TempDir;

use crate::carbon::{
    CARBON_RELAY_ENV, CarbonConf, base_conf, destination_strings, spawn_carbon, storage_schemas,
    wait_listening, write_file,
};
use crate::net::send_lines;
use crate::ports::{free_ports, retry_on_port_clash};
use crate::process::DaemonProcess;
use crate::sys::{find_binary, temp_dir};

/// How carbon-relay picks destinations for a metric (`RELAY_METHOD`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RelayMethod {
    /// `rules`, with one default rule listing every destination: every metric goes to all of
    /// them.
    #[default]
    Rules,
    /// `consistent-hashing` with `REPLICATION_FACTOR = 1`: each metric goes to one destination.
    ConsistentHashing,
}

impl RelayMethod {
    fn as_setting(self) -> &'static str {
        match self {
            RelayMethod::Rules => "rules",
            RelayMethod::ConsistentHashing => "consistent-hashing",
        }
    }
}

/// Options of [`CarbonRelay::start_with`].
#[derive(Debug, Clone, Default)]
pub struct CarbonRelayOptions {
    method: RelayMethod,
    settings: CarbonConf,
}

impl CarbonRelayOptions {
    /// The relay method; default [`RelayMethod::Rules`].
    #[must_use]
    pub fn method(mut self, method: RelayMethod) -> Self {
        self.method = method;
        self
    }

    /// Any `[relay]` setting of carbon.conf, overriding the harness' value (for example
    /// `CARBON_METRIC_INTERVAL` to turn its self-metrics back on, or `MAX_QUEUE_SIZE`).
    #[must_use]
    pub fn setting(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.settings.set(key, value);
        self
    }
}

/// A running carbon-relay (see [`CarbonRelay::start`]); stopped by PID when dropped.
#[derive(Debug)]
pub struct CarbonRelay {
    // Dropped first: the process is stopped before its directory is removed.
    process: DaemonProcess,
    line_port: u16,
    pickle_port: u16,
    destinations: Vec<String>,
    dir: TempDir,
}

impl CarbonRelay {
    /// Starts Debian's carbon-relay relaying every metric to all `destinations` (`(host,
    /// port)`, loopback only) over the pickle protocol; see [`start_with`](Self::start_with).
    pub fn start(destinations: &[(&str, u16)]) -> Result<Self> {
        Self::start_with(destinations, CarbonRelayOptions::default())
    }

    /// Starts Debian's carbon-relay in the foreground in a fresh temporary directory, with its
    /// line and pickle receivers on free ports of 127.0.0.1, `DESTINATIONS = HOST:PORT:a,
    /// HOST:PORT:b, ...`, `DESTINATION_PROTOCOL = pickle`, self-metrics off
    /// (`CARBON_METRIC_INTERVAL = 0`: no `carbon.relays.*` metrics reach the destinations);
    /// waits until its line and pickle ports accept connections.
    ///
    /// Start the destinations first: the relay connects to them at start, and after a refused
    /// connection it retries only after a growing back-off (2 s, 4 s, ...).
    pub fn start_with(destinations: &[(&str, u16)], options: CarbonRelayOptions) -> Result<Self> {
        let binary = find_binary("carbon-relay", CARBON_RELAY_ENV)?;
        let dests = destination_strings(destinations)?;
        retry_on_port_clash(|| {
            let ports = free_ports(2)?;
            let (line_port, pickle_port) = (ports[0], ports[1]);
            let dir = temp_dir("am-e2e-carbon-relay-")?;
            let mut conf = base_conf(dir.path(), line_port, pickle_port);
            conf.set("RELAY_METHOD", options.method.as_setting())
                .set("REPLICATION_FACTOR", "1")
                .set("DESTINATIONS", dests.join(", "))
                .set("DESTINATION_PROTOCOL", "pickle")
                .set("RELAY_RULES", "relay-rules.conf");
            for (key, value) in options.settings.iter() {
                conf.set(key, value);
            }
            write_file(dir.path(), "carbon.conf", &conf.render("relay"))?;
            write_file(
                dir.path(),
                "relay-rules.conf",
                &format!(
                    "# Written by the am-e2e test harness.\n[default]\ndefault = true\n\
                     destinations = {}\n",
                    dests.join(", ")
                ),
            )?;
            // carbon-relay refuses to start without one, although it stores nothing.
            write_file(
                dir.path(),
                "storage-schemas.conf",
                &storage_schemas("1s:1d"),
            )?;
            let process = spawn_carbon("carbon-relay", &binary, dir.path())?;
            let mut relay = Self {
                process,
                line_port,
                pickle_port,
                destinations: dests.clone(),
                dir,
            };
            wait_listening(&mut relay.process, &[line_port, pickle_port])?;
            Ok(relay)
        })
    }

    /// The plaintext (line) receiver's port on 127.0.0.1.
    pub fn line_port(&self) -> u16 {
        self.line_port
    }

    /// The pickle receiver's port on 127.0.0.1.
    pub fn pickle_port(&self) -> u16 {
        self.pickle_port
    }

    /// The destinations as written in its config (`HOST:PORT:INSTANCE`).
    pub fn destinations(&self) -> &[String] {
        &self.destinations
    }

    /// Its temporary directory (carbon.conf, relay-rules.conf, logs).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Sends carbon plaintext lines (`metric value timestamp`, one per line) to its line port.
    pub fn send_lines(&self, text: &str) -> Result<()> {
        send_lines(self.line_port, text).context("sending lines to carbon-relay")
    }

    /// The PID of the running carbon-relay, `None` while stopped.
    pub fn pid(&mut self) -> Option<u32> {
        self.process.pid()
    }

    /// Stops it gracefully, keeping its directory.
    pub fn stop(&mut self) -> Result<()> {
        self.process.stop().context("stopping carbon-relay")?;
        Ok(())
    }

    /// Starts it again after [`stop`](Self::stop): same ports, destinations and directory;
    /// waits until it listens.
    pub fn start_again(&mut self) -> Result<()> {
        self.process.start().context("restarting carbon-relay")?;
        wait_listening(&mut self.process, &[self.line_port, self.pickle_port])
    }

    /// The tail of its log, for test failure messages.
    pub fn logs(&self) -> String {
        format!("{}\n{}", self.process.describe(), self.process.logs())
    }

    /// The process guard, for anything not wrapped here.
    pub fn process(&mut self) -> &mut DaemonProcess {
        &mut self.process
    }
}
