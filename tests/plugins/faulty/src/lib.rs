//! `Faulty`: a plugin that misbehaves on purpose, for the runner's tests only. Never deploy
//! it.
//!
//! Options (a service's `worker_options` entry):
//!
//! | key | meaning |
//! | --- | --- |
//! | `mode` | `"ok"` (default), `"error"`, `"panic"`, `"error_on_create"`, `"panic_on_create"`, and, to test process isolation: `"abort"` (aborts the process), `"segfault"` (writes through a null pointer), `"loop"` (spins forever), `"alloc"` (allocates and touches `alloc_mb` MiB, then succeeds) |
//! | `alloc_mb` | with `"alloc"`: how much to allocate (default 1024) |
//! | `panic_every` | with `"ok"`: panic on every N-th run of an instance (N ≥ 1) |
//! | `sleep_ms` | sleep this long at the start of every run (to test slow tasks) |
//!
//! When a run succeeds it emits `runs` (the number of runs of *this instance*: 1 for a new
//! instance, so a test sees when the runner rebuilt it after a panic) and `tick`
//! ([`Context::tick`]). `"error"` and `"panic"` fail every run with a message naming the run:
//! ``error as configured (run 1)``, ``panic as configured (run 1)``.
//!
//! ```json
//! "Faulty": { "scheduler_options": { "interval_secs": 1, "plugin_args": { "name": "Faulty" } },
//!             "worker_options": { "flaky": { "panic_every": 2 } } }
//! ```

// Panicking on demand is what this plugin is for.
#![allow(clippy::panic)]

use std::time::Duration;

use am_plugin_api::{BaseTask, Context, Init, PluginError};
use serde::Deserialize;

/// What an instance does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Emit `runs` and `tick` (panicking every `panic_every` runs, if set).
    #[default]
    Ok,
    /// Fail every run with an error.
    Error,
    /// Panic in every run.
    Panic,
    /// Refuse to be created with an error.
    ErrorOnCreate,
    /// Panic while being created.
    PanicOnCreate,
    /// Abort the whole process.
    Abort,
    /// Crash the process with a segmentation fault.
    Segfault,
    /// Spin forever.
    Loop,
    /// Allocate and touch `alloc_mb` MiB, then succeed.
    Alloc,
}

/// The options of one service; every one may be left out.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Options {
    /// What to do.
    pub mode: Mode,
    /// Panic on every N-th run of an instance.
    pub panic_every: Option<u64>,
    /// Sleep this long at the start of every run, in milliseconds.
    pub sleep_ms: Option<u64>,
    /// MiB to allocate with `"alloc"`.
    pub alloc_mb: Option<usize>,
}

/// The `Faulty` test plugin.
#[derive(Debug)]
pub struct Faulty {
    options: Options,
    runs: u64,
}

impl BaseTask for Faulty {
    type Options = Options;
    const NAME: &'static str = "Faulty";

    fn new(options: Options, init: &Init<'_>) -> Result<Self, PluginError> {
        match options.mode {
            Mode::ErrorOnCreate => {
                return Err(PluginError::options("error_on_create as configured"));
            }
            Mode::PanicOnCreate => panic!("panic_on_create as configured"),
            _ => {}
        }
        if options.panic_every == Some(0) {
            return Err(PluginError::options("`panic_every` must be at least 1"));
        }
        init.debug(format!("{}: new instance", init.service()));
        Ok(Faulty { options, runs: 0 })
    }

    fn run(&mut self, ctx: &mut Context<'_>) -> Result<(), PluginError> {
        self.runs += 1;
        let run = self.runs;
        if let Some(ms) = self.options.sleep_ms {
            std::thread::sleep(Duration::from_millis(ms));
        }
        match self.options.mode {
            Mode::Error => {
                return Err(PluginError::new(format!("error as configured (run {run})")));
            }
            Mode::Panic => panic!("panic as configured (run {run})"),
            Mode::Abort => std::process::abort(),
            Mode::Segfault => segfault(),
            Mode::Loop => loop {
                std::hint::spin_loop();
            },
            Mode::Alloc => {
                let mb = self.options.alloc_mb.unwrap_or(1024);
                let mut v: Vec<u8> = Vec::with_capacity(mb << 20);
                v.resize(mb << 20, 1);
                ctx.emit(
                    "allocated_mb",
                    std::hint::black_box(&v).len() as f64 / 1048576.0,
                )?;
            }
            _ => {}
        }
        if self
            .options
            .panic_every
            .is_some_and(|n| run.checked_rem(n) == Some(0))
        {
            panic!("panic_every as configured (run {run})");
        }
        ctx.emit("runs", run as f64)?;
        ctx.emit("tick", ctx.tick() as f64)?;
        ctx.info(format!("run {run}"));
        Ok(())
    }
}

/// Writes through a null pointer: the process dies with SIGSEGV.
#[allow(unsafe_code)]
fn segfault() {
    let p: *mut u64 = std::hint::black_box(std::ptr::null_mut());
    // SAFETY: not safe at all; crashing the process is the point of this mode.
    unsafe { std::ptr::write_volatile(p, 1) };
}

am_plugin_api::export_plugin!(Faulty);

#[cfg(test)]
mod tests {
    use am_plugin_api::testing::{Failure, TestHost, TestRunner};

    use super::*;

    fn runs(host: &TestHost) -> Vec<f64> {
        host.emitted()
            .iter()
            .filter(|e| e.field == "runs")
            .map(|e| e.value)
            .collect()
    }

    #[test]
    fn ok_emits_runs_and_tick() {
        let mut host = TestHost::new();
        let mut runner = TestRunner::new::<Faulty>("{}", "s", &mut host).unwrap();
        runner.run(&mut host, 100).unwrap();
        runner.run(&mut host, 130).unwrap();
        assert_eq!(runs(&host), [1.0, 2.0]);
        assert_eq!(host.last_value("tick"), Some(130.0));
    }

    #[test]
    fn panic_every_panics_and_the_rebuilt_instance_restarts_at_one() {
        let mut host = TestHost::new();
        let mut runner =
            TestRunner::new::<Faulty>(r#"{"panic_every": 2}"#, "s", &mut host).unwrap();
        let results: Vec<bool> = (0..5).map(|t| runner.run(&mut host, t).is_ok()).collect();
        assert_eq!(results, [true, false, true, false, true]);
        assert_eq!(runs(&host), [1.0, 1.0, 1.0]);
        let failure = runner.run(&mut host, 5).unwrap_err();
        assert_eq!(
            failure,
            Failure::Panic("panic in `Faulty::run`: panic_every as configured (run 2)".into())
        );
    }

    /// `{"mode": "<mode>"}`.
    fn mode(mode: &str) -> String {
        format!(r#"{{"mode": "{mode}"}}"#)
    }

    #[test]
    fn failing_modes() {
        let mut host = TestHost::new();
        // Every run fails.
        for (name, want) in [
            (
                "error",
                Failure::Error("error as configured (run 1)".into()),
            ),
            (
                "panic",
                Failure::Panic("panic in `Faulty::run`: panic as configured (run 1)".into()),
            ),
        ] {
            let mut runner = TestRunner::new::<Faulty>(&mode(name), "s", &mut host).unwrap();
            assert_eq!(runner.run(&mut host, 0).unwrap_err(), want);
        }
        // The instance is never created.
        for (name, want) in [
            (
                "error_on_create",
                Failure::Error("error_on_create as configured".into()),
            ),
            (
                "panic_on_create",
                Failure::Panic("panic in `Faulty::new`: panic_on_create as configured".into()),
            ),
        ] {
            let failure = TestRunner::new::<Faulty>(&mode(name), "s", &mut host).unwrap_err();
            assert_eq!(failure, want);
        }
    }

    #[test]
    fn sleeps_then_runs() {
        let mut host = TestHost::new();
        let mut runner = TestRunner::new::<Faulty>(r#"{"sleep_ms": 1}"#, "s", &mut host).unwrap();
        runner.run(&mut host, 0).unwrap();
        assert_eq!(runs(&host), [1.0]);
    }

    #[test]
    fn bad_options_are_refused() {
        let mut host = TestHost::new();
        let failure = TestRunner::new::<Faulty>(r#"{"mode": "ok", "loop": true}"#, "s", &mut host)
            .unwrap_err();
        assert_eq!(failure.message(), "unknown option `loop`");
        let failure =
            TestRunner::new::<Faulty>(r#"{"panic_every": 0}"#, "s", &mut host).unwrap_err();
        assert_eq!(failure.message(), "`panic_every` must be at least 1");
    }
}
