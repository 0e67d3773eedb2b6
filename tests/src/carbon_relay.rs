//! A real carbon-relay that forwards what it receives, over the pickle protocol, to
//! destinations on 127.0.0.1.

use anyhow::Result;

use crate::carbon::{
    CARBON_RELAY_ENV, CarbonConf, CarbonDaemon, CarbonOptions, deref_to_daemon,
    destination_strings, storage_schemas,
};
use crate::ports::{free_ports, retry_on_port_clash};
use crate::sys::find_binary;

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
pub type CarbonRelayOptions = CarbonOptions<RelayMethod>;

impl CarbonRelayOptions {
    /// The relay method; default [`RelayMethod::Rules`].
    #[must_use]
    pub fn method(mut self, method: RelayMethod) -> Self {
        self.own = method;
        self
    }
}

/// A running carbon-relay (see [`CarbonRelay::start`]); stopped by PID when dropped. What it
/// shares with carbon-cache (ports, `send_lines`, `stop`, `logs`, ...) is on the
/// [`CarbonDaemon`] it dereferences to.
#[derive(Debug)]
pub struct CarbonRelay {
    daemon: CarbonDaemon,
    destinations: Vec<String>,
}

deref_to_daemon!(CarbonRelay);

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
            let configure = |conf: &mut CarbonConf| {
                conf.set("RELAY_METHOD", options.own.as_setting())
                    .set("REPLICATION_FACTOR", "1")
                    .set("DESTINATIONS", dests.join(", "))
                    .set("DESTINATION_PROTOCOL", "pickle")
                    .set("RELAY_RULES", "relay-rules.conf");
            };
            let rules = format!(
                "# Written by the am-tests test harness.\n[default]\ndefault = true\n\
                 destinations = {}\n",
                dests.join(", ")
            );
            let daemon = CarbonDaemon::launch(
                "carbon-relay",
                &binary,
                (line_port, pickle_port),
                "relay",
                configure,
                &options.settings,
                &[
                    ("relay-rules.conf", rules),
                    // carbon-relay refuses to start without one, although it stores nothing.
                    ("storage-schemas.conf", storage_schemas("1s:1d")),
                ],
            )?;
            Ok(Self {
                daemon,
                destinations: dests.clone(),
            })
        })
    }

    /// The destinations as written in its config (`HOST:PORT:INSTANCE`).
    pub fn destinations(&self) -> &[String] {
        &self.destinations
    }
}
