//! What the sink holds per command and per pipeline in flight.

use std::sync::Arc;
use std::time::{Duration, Instant};

use am_store::Pipe;
use am_store::redis;
use am_store::writer::{Cmd, Meta};

/// A command waiting to be sent (again).
#[derive(Debug)]
pub(super) struct Waiting {
    pub(super) cmd: redis::Cmd,
    pub(super) meta: Meta,
    /// Buffer bytes released once it is answered (follow-ups are not charged).
    pub(super) charge: u32,
    /// It went out on a connection that was lost, or was refused for now.
    pub(super) resent: bool,
}

impl Waiting {
    pub(super) fn new(c: Cmd, charge: u32) -> Waiting {
        Waiting {
            cmd: c.cmd,
            meta: c.meta,
            charge,
            resent: false,
        }
    }
}

/// Whether a pipeline's writes are confirmed on replicas (`wait_replicas`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Confirm {
    /// Not asked for.
    Off,
    /// The pipeline ends with `WAIT`.
    Wait,
    /// Asked for, but paused after a failed `WAIT`: its points count as unreplicated.
    Paused,
}

/// A pipeline sent and not yet answered.
#[derive(Debug)]
pub(super) struct Flight {
    pub(super) pipe: Arc<Pipe>,
    pub(super) metas: Vec<(Meta, u32, bool)>,
    pub(super) bytes: u64,
    pub(super) sent: Instant,
    pub(super) confirm: Confirm,
}

/// How long `WAIT` may block a pipeline, in milliseconds.
pub(super) const WAIT_MS: &[u8] = b"1000";
/// How long confirmation pauses after a `WAIT` fell short.
pub(super) const WAIT_PAUSE: Duration = Duration::from_secs(10);
