//! A plugin process (`am-runner plugin-process`, started by a worker, never by hand): loads
//! the plugins, then runs one task per request line from its supervisor. A plugin that
//! aborts, crashes or spins takes down only this process; the supervisor restarts it.

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::sync::Arc;
use std::time::Duration;

use am_store::{Reader, RedisAddr};

use super::proto::{Ended, Request, Response, SETUP_ENV, Setup, WireEvent, finite};
use crate::host::{Instance, Outcome, Plugins, RunCtx};
use crate::metrics::RunnerMetrics;

/// Instances kept per process; past this the cache starts afresh (options changed a lot).
const MAX_INSTANCES: usize = 10_000;

/// Why a plugin process could not start.
#[derive(Debug, thiserror::Error)]
pub enum ChildError {
    /// The setup variable is missing or malformed.
    #[error("{SETUP_ENV}: {0} (this command is started by `am-runner --role worker`)")]
    Setup(String),
    /// The supervisor is gone already.
    #[error("the supervising worker (pid {0}) is gone")]
    Orphan(u32),
    /// The OS refused a setting.
    #[error("{what}: {source}")]
    Os {
        /// What was being set up.
        what: &'static str,
        /// Why.
        source: std::io::Error,
    },
}

type Key = (String, String, u32, String);

/// Runs the plugin process until its supervisor closes stdin.
pub fn main() -> Result<(), ChildError> {
    let setup: Setup = std::env::var(SETUP_ENV)
        .map_err(|e| ChildError::Setup(e.to_string()))
        .and_then(|t| serde_json::from_str(&t).map_err(|e| ChildError::Setup(e.to_string())))?;
    let mut proto = os::prepare(&setup)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|source| ChildError::Os {
            what: "starting the runtime",
            source,
        })?;
    let plugins = Plugins::load_dir(&setup.plugin_dir).map_err(|source| ChildError::Os {
        what: "reading the plugin folder",
        source,
    })?;
    let addr = RedisAddr {
        host: setup.redis_host.clone(),
        port: setup.redis_port,
        db: setup.redis_db,
        password: setup.redis_password.clone(),
    };
    let mut state = State {
        rt,
        plugins,
        addr,
        reader: None,
        instances: HashMap::new(),
    };
    let stdin = std::io::stdin();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        let response = match serde_json::from_str::<Request>(&line) {
            Ok(req) => state.run(&req),
            Err(e) => Response {
                ended: Ended::Failed(format!("unreadable request: {e}")),
                outputs: Vec::new(),
                events: Vec::new(),
                series_read: 0,
                store_errors: 0,
                log_lines: 0,
            },
        };
        let sent = serde_json::to_writer(&mut proto, &response)
            .map_err(std::io::Error::from)
            .and_then(|()| proto.write_all(b"\n"))
            .and_then(|()| proto.flush());
        if sent.is_err() {
            break;
        }
    }
    Ok(())
}

struct State {
    rt: tokio::runtime::Runtime,
    plugins: Plugins,
    addr: RedisAddr,
    reader: Option<Reader>,
    instances: HashMap<Key, Instance>,
}

impl State {
    fn run(&mut self, req: &Request) -> Response {
        let metrics = RunnerMetrics::default();
        let ended = self.run_inner(req, &metrics);
        let (outputs, events) = match &ended {
            (Ended::Ok, outputs, events) => (outputs.clone(), events.clone()),
            _ => (Vec::new(), Vec::new()),
        };
        Response {
            ended: ended.0,
            outputs,
            events,
            series_read: metrics.series_read.get(),
            store_errors: metrics.store_errors.get(),
            log_lines: metrics.plugin_log_lines.get(),
        }
    }

    #[allow(clippy::type_complexity)]
    fn run_inner(
        &mut self,
        req: &Request,
        metrics: &RunnerMetrics,
    ) -> (Ended, Vec<super::proto::WirePoint>, Vec<WireEvent>) {
        let Some(plugin) = self.plugins.get(&req.plugin) else {
            let msg = format!(
                "no plugin `{}` in this worker's plugin folder (loaded: {:?})",
                req.plugin,
                self.plugins.names()
            );
            return (Ended::Failed(msg), Vec::new(), Vec::new());
        };
        let key: Key = (
            req.plugin.clone(),
            req.service.clone(),
            req.shard,
            req.options.clone(),
        );
        if !self.instances.contains_key(&key) {
            if self.instances.len() >= MAX_INSTANCES {
                self.instances.clear();
            }
            let mut ctx = RunCtx::new(
                self.rt.handle().clone(),
                None,
                &plugin.name,
                &req.service,
                req.tick,
                metrics,
            );
            match Instance::create(Arc::clone(&plugin), &req.options, &mut ctx) {
                Ok(i) => {
                    self.instances.insert(key.clone(), i);
                }
                Err(o) => {
                    let msg = match o {
                        Outcome::Panicked(m) => format!("the plugin panicked while starting: {m}"),
                        Outcome::Failed(m) => format!("the plugin refused its options: {m}"),
                        Outcome::Ok => "the plugin failed to start".into(),
                    };
                    return (Ended::Failed(msg), Vec::new(), Vec::new());
                }
            }
        }
        if self.reader.is_none() {
            match self
                .rt
                .block_on(Reader::connect(&self.addr, Duration::from_secs(5)))
            {
                Ok(r) => self.reader = Some(r),
                Err(e) => {
                    let msg = format!("cannot reach the metric store: {e}");
                    return (Ended::Failed(msg), Vec::new(), Vec::new());
                }
            }
        }
        let (Some(instance), Some(reader)) = (self.instances.get_mut(&key), self.reader.as_mut())
        else {
            return (Ended::Failed("no instance".into()), Vec::new(), Vec::new());
        };
        let mut ctx = RunCtx::new(
            self.rt.handle().clone(),
            Some(reader),
            &plugin.name,
            &req.service,
            req.tick,
            metrics,
        )
        .with_shard(req.shard, req.shards);
        let outcome = instance.run(&mut ctx);
        let store_failed = ctx.store_failed.is_some();
        let outputs = std::mem::take(&mut ctx.outputs)
            .into_iter()
            .map(|(f, v, ts)| (f, finite(v), ts))
            .collect();
        let events = std::mem::take(&mut ctx.events)
            .into_iter()
            .map(|e| WireEvent {
                state: e.state,
                severity: e.severity,
                metric: e.metric,
                reason: e.reason,
                values: e.values.into_iter().map(|(k, v)| (k, finite(v))).collect(),
                ts: e.ts,
            })
            .collect();
        drop(ctx);
        if store_failed {
            // The connection may be broken; the next task connects afresh.
            self.reader = None;
        }
        match outcome {
            Outcome::Ok => (Ended::Ok, outputs, events),
            Outcome::Failed(m) => (Ended::Failed(m), Vec::new(), Vec::new()),
            Outcome::Panicked(m) => {
                // Whatever state the instance was in when it panicked is not to be trusted.
                self.instances.remove(&key);
                (Ended::Panicked(m), Vec::new(), Vec::new())
            }
        }
    }
}

/// The process-level settings, the only unsafe code of the worker.
#[allow(unsafe_code)]
mod os {
    use std::fs::File;
    use std::io::BufWriter;
    use std::os::fd::FromRawFd;

    use super::{ChildError, Setup};

    /// Dies with the supervisor, applies the memory limit, and moves the protocol off fd 1
    /// (which then points at stderr, so a plugin's `println!` cannot corrupt it). Returns the
    /// protocol's writer.
    pub(super) fn prepare(setup: &Setup) -> Result<BufWriter<File>, ChildError> {
        let os_err = |what| ChildError::Os {
            what,
            source: std::io::Error::last_os_error(),
        };
        // SAFETY: plain system calls with valid constant arguments.
        if unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) } != 0 {
            return Err(os_err("asking to die with the supervisor"));
        }
        // SAFETY: getppid cannot fail.
        let parent = unsafe { libc::getppid() };
        if u32::try_from(parent).ok() != Some(setup.parent_pid) {
            return Err(ChildError::Orphan(setup.parent_pid));
        }
        if let Some(mb) = setup.memory_limit_mb {
            let bytes = mb.saturating_mul(1 << 20);
            let limit = libc::rlimit {
                rlim_cur: bytes,
                rlim_max: bytes,
            };
            // SAFETY: `limit` is a valid rlimit for the call.
            if unsafe { libc::setrlimit(libc::RLIMIT_DATA, &limit) } != 0 {
                return Err(os_err("setting the memory limit (RLIMIT_DATA)"));
            }
        }
        // Ctrl-C and SIGTERM reach the whole process group: the supervisor decides when its
        // processes stop (it closes their stdin, or kills them), so a task in progress is not
        // cut short by a signal meant for the worker.
        for sig in [libc::SIGINT, libc::SIGTERM] {
            // SAFETY: ignoring a signal installs no handler code.
            unsafe { libc::signal(sig, libc::SIG_IGN) };
        }
        // SAFETY: duplicating and replacing standard descriptors this process owns.
        let proto = unsafe { libc::dup(1) };
        if proto < 0 {
            return Err(os_err("duplicating stdout"));
        }
        // SAFETY: as above.
        if unsafe { libc::dup2(2, 1) } < 0 {
            return Err(os_err("pointing stdout at stderr"));
        }
        // SAFETY: `proto` is a fresh descriptor owned by nothing else.
        let file = unsafe { File::from_raw_fd(proto) };
        Ok(BufWriter::with_capacity(1 << 16, file))
    }
}
