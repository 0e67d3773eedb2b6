//! Tests of the whole boundary, statically linked: tasks driven through the `extern "C"`
//! shims by `testing::TestRunner` over a `TestHost`.

use serde::{Deserialize, Serialize};

use crate::abi::{ABI_VERSION, Level, Point};
use crate::export::StaticDescriptor;
use crate::hosting::Plugin;
use crate::testing::{Failure, TestHost, TestRunner, run_task};
use crate::{BaseTask, Context, ErrorKind, Init, NoOptions, PluginError, Severity, State, Verdict};

/// What [`Probe`] does when created or run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Mode {
    Ok,
    Error,
    Panic,
    PanicString,
    PanicOnCreate,
    ErrorOnCreate,
    TouchStoreOnCreate,
}

#[derive(Deserialize)]
struct ProbeOptions {
    mode: Mode,
    #[serde(default)]
    pattern: Option<String>,
}

#[derive(Debug, Default, Serialize, Deserialize, PartialEq)]
struct Memory {
    runs: u32,
}

/// A task that exercises the whole [`Context`].
struct Probe {
    mode: Mode,
    pattern: String,
    runs_of_instance: u32,
}

impl BaseTask for Probe {
    type Options = ProbeOptions;
    const NAME: &'static str = "Probe";

    fn new(options: ProbeOptions, init: &Init<'_>) -> Result<Self, PluginError> {
        init.info(format!("created for {}", init.service()));
        match options.mode {
            Mode::PanicOnCreate => panic!("cannot start"),
            Mode::ErrorOnCreate => return Err(PluginError::options("`mode` refused")),
            _ => {}
        }
        Ok(Probe {
            mode: options.mode,
            pattern: options.pattern.unwrap_or_else(|| "a.*".into()),
            runs_of_instance: 0,
        })
    }

    fn run(&mut self, ctx: &mut Context<'_>) -> Result<(), PluginError> {
        self.runs_of_instance += 1;
        match self.mode {
            Mode::Panic => panic!("boom at {}", ctx.tick()),
            Mode::PanicString => std::panic::panic_any(String::from("owned boom")),
            Mode::Error => return Err(PluginError::data("not enough data")),
            _ => {}
        }
        let now = ctx.tick();
        let mut memory: Memory = ctx.state_get_json("memory")?.unwrap_or_default();
        memory.runs += 1;
        ctx.state_set_json("memory", &memory)?;
        ctx.state_set("raw", &[0xff, 0x00])?;
        ctx.state_delete("gone")?;

        let series = ctx.read_pattern(&self.pattern, now - 60, now)?;
        let names = ctx.find(&self.pattern)?;
        let single = ctx.read("a.one", now - 60, now)?;
        let missing = ctx.read("no.such.metric", 0, now)?;
        ctx.emit("series", series.len() as f64)?;
        ctx.emit("names", names.len() as f64)?;
        ctx.emit("single", single.len() as f64)?;
        ctx.emit("missing", missing.len() as f64)?;
        ctx.emit("runs", f64::from(memory.runs))?;
        ctx.emit("instance_runs", f64::from(self.runs_of_instance))?;
        ctx.emit_at("early", 1.5, now - 10)?;
        ctx.verdict(
            Verdict::anomalous("a.one")
                .reason("too high")
                .value("last", 3.0),
        )?;
        ctx.verdict(
            Verdict::new(State::Unknown, "a.two")
                .severity(Severity::Critical)
                .at(5),
        )?;
        ctx.debug("d");
        ctx.info(format!("service {}", ctx.service()));
        ctx.warn("w");
        ctx.error("e");
        Ok(())
    }
}

fn opts(mode: &str) -> String {
    format!(r#"{{"mode": "{mode}"}}"#)
}

fn host() -> TestHost {
    let mut host = TestHost::new();
    host.add_points("a.one", [(900, 1.0), (950, 2.0), (1000, 3.0), (1001, 4.0)])
        .add_points("a.two", [(990, 5.0)])
        .add_points("b.one", [(990, 6.0)]);
    host
}

#[test]
fn a_run_reaches_every_host_function() {
    let mut host = host();
    host.set_state("Probe", "svc", "gone", "x");
    run_task::<Probe>(&opts("ok"), "svc", &mut host, 1000).unwrap();

    let emitted: Vec<(&str, f64, i64)> = host
        .emitted()
        .iter()
        .map(|e| (e.field.as_str(), e.value, e.ts))
        .collect();
    assert_eq!(
        emitted,
        [
            ("series", 2.0, 1000),
            ("names", 2.0, 1000),
            ("single", 2.0, 1000), // 950 and 1000; 900 and 1001 are outside [940, 1000]
            ("missing", 0.0, 1000),
            ("runs", 1.0, 1000),
            ("instance_runs", 1.0, 1000),
            ("early", 1.5, 990),
        ]
    );
    assert_eq!(host.emitted()[0].name(), "Probe.svc.series");

    let verdicts = host.verdicts();
    assert_eq!(verdicts.len(), 2);
    assert_eq!(
        (verdicts[0].state.as_str(), verdicts[0].severity.as_str()),
        ("anomalous", "warning")
    );
    assert_eq!(verdicts[0].subject, "a.one");
    assert_eq!(verdicts[0].reason, "too high");
    assert_eq!(verdicts[0].value("last"), Some(3.0));
    assert_eq!(verdicts[0].ts, 1000);
    assert_eq!(
        (verdicts[1].state.as_str(), verdicts[1].severity.as_str()),
        ("unknown", "critical")
    );
    assert_eq!(verdicts[1].ts, 5);

    let logs: Vec<(Level, &str)> = host
        .logs()
        .iter()
        .map(|l| (l.level, l.message.as_str()))
        .collect();
    assert_eq!(
        logs,
        [
            (Level::Info, "created for svc"),
            (Level::Debug, "d"),
            (Level::Info, "service svc"),
            (Level::Warn, "w"),
            (Level::Error, "e"),
        ]
    );

    assert_eq!(host.state("Probe", "svc", "raw"), Some(&[0xff, 0x00][..]));
    assert_eq!(host.state("Probe", "svc", "gone"), None);
    assert_eq!(
        host.state_json::<Memory>("Probe", "svc", "memory").unwrap(),
        Some(Memory { runs: 1 })
    );
}

#[test]
fn patterns_reach_the_plugin_in_name_order() {
    let mut host = host();
    let options = r#"{"mode": "ok", "pattern": "{b,a}.*"}"#;
    run_task::<Probe>(options, "svc", &mut host, 1000).unwrap();
    assert_eq!(host.last_value("names"), Some(3.0));
    host.clear_outputs();
    let options = r#"{"mode": "ok", "pattern": "re:a\\.t"}"#;
    run_task::<Probe>(options, "svc", &mut host, 1000).unwrap();
    assert_eq!(host.last_value("series"), Some(1.0));
}

#[test]
fn state_persists_across_ticks_and_instances_but_not_services() {
    let mut host = host();
    let mut runner = TestRunner::new::<Probe>(&opts("ok"), "svc", &mut host).unwrap();
    for tick in [1000, 1030, 1060] {
        runner.run(&mut host, tick).unwrap();
    }
    assert_eq!(host.last_value("runs"), Some(3.0));
    assert_eq!(host.last_value("instance_runs"), Some(3.0));
    drop(runner);

    run_task::<Probe>(&opts("ok"), "svc", &mut host, 1090).unwrap();
    assert_eq!(host.last_value("runs"), Some(4.0));
    assert_eq!(host.last_value("instance_runs"), Some(1.0));

    run_task::<Probe>(&opts("ok"), "other", &mut host, 1090).unwrap();
    assert_eq!(host.last_value("runs"), Some(1.0));
    host.clear_state("Probe", "svc");
    assert_eq!(host.state("Probe", "svc", "memory"), None);
}

#[test]
fn a_panic_in_run_is_caught_reported_and_the_instance_rebuilt() {
    let mut host = host();
    let failure = run_task::<Probe>(&opts("panic"), "svc", &mut host, 1234).unwrap_err();
    assert_eq!(
        failure,
        Failure::Panic("panic in `Probe::run`: boom at 1234".into())
    );
    let failure = run_task::<Probe>(&opts("panic_string"), "svc", &mut host, 1).unwrap_err();
    assert_eq!(failure.message(), "panic in `Probe::run`: owned boom");
    assert!(failure.is_panic());

    // A runner rebuilds the instance that panicked before the next tick.
    let mut runner = TestRunner::new::<Probe>(&opts("panic"), "svc", &mut host).unwrap();
    assert!(runner.run(&mut host, 1).unwrap_err().is_panic());
    assert!(runner.run(&mut host, 2).unwrap_err().is_panic());
    let created = host
        .logs()
        .iter()
        .filter(|l| l.message == "created for svc")
        .count();
    assert_eq!(created, 4, "{:?}", host.logs());
}

#[test]
fn a_panic_in_new_is_caught_and_reported() {
    let mut host = host();
    let failure = TestRunner::new::<Probe>(&opts("panic_on_create"), "svc", &mut host).unwrap_err();
    assert_eq!(
        failure,
        Failure::Panic("panic in `Probe::new`: cannot start".into())
    );
}

#[test]
fn errors_are_reported_with_their_message() {
    let mut host = host();
    let failure = TestRunner::new::<Probe>(&opts("error_on_create"), "svc", &mut host).unwrap_err();
    assert_eq!(failure, Failure::Error("`mode` refused".into()));

    let mut runner = TestRunner::new::<Probe>(&opts("error"), "svc", &mut host).unwrap();
    for tick in [1, 2] {
        let failure = runner.run(&mut host, tick).unwrap_err();
        assert_eq!(failure, Failure::Error("not enough data".into()));
    }
    assert_eq!(runner.plugin(), "Probe");
    assert_eq!(runner.service(), "svc");
}

#[test]
fn options_with_an_unknown_key_are_refused_naming_it() {
    let mut host = host();
    let failure = TestRunner::new::<Probe>(r#"{"mode": "ok", "colour": "red"}"#, "svc", &mut host)
        .unwrap_err();
    assert_eq!(failure, Failure::Error("unknown option `colour`".into()));

    let failure =
        TestRunner::new::<Probe>(r#"{"mode": "sideways"}"#, "svc", &mut host).unwrap_err();
    assert!(
        failure
            .message()
            .starts_with("invalid option `mode`: unknown variant `sideways`"),
        "{failure}"
    );
    let failure = TestRunner::new::<Probe>("not json", "svc", &mut host).unwrap_err();
    assert!(
        failure
            .message()
            .starts_with("invalid options: expected ident"),
        "{failure}"
    );

    let failure = run_task::<Unit>(r#"{"x": 1}"#, "svc", &mut host, 0).unwrap_err();
    assert!(failure.message().contains("unknown field `x`"), "{failure}");
    run_task::<Unit>("{}", "svc", &mut host, 0).unwrap();
}

#[test]
fn store_failures_become_host_errors() {
    let mut host = host();
    host.set_store_failing(true);
    let failure = run_task::<Probe>(&opts("ok"), "svc", &mut host, 0).unwrap_err();
    assert!(
        failure
            .message()
            .starts_with("reading state `memory` failed in the runner"),
        "{failure}"
    );
    assert!(host.logs().iter().any(|l| l.level == Level::Error));
}

/// A task whose `run` checks the [`ErrorKind`] of a failed host call, and whose `new` tries
/// to read the store (not allowed during create).
struct Unit;

impl BaseTask for Unit {
    type Options = NoOptions;
    const NAME: &'static str = "Unit";

    fn new(_: NoOptions, _: &Init<'_>) -> Result<Self, PluginError> {
        Ok(Unit)
    }

    fn run(&mut self, ctx: &mut Context<'_>) -> Result<(), PluginError> {
        match ctx.read_pattern("re:(", 0, 1) {
            Err(e) if e.kind() == ErrorKind::Host => Ok(()),
            other => Err(PluginError::new(format!(
                "expected a host error, got {other:?}"
            ))),
        }
    }
}

#[test]
fn descriptors_are_refused_like_the_runner_refuses_them() {
    let mut host = host();
    let good = StaticDescriptor::new::<Unit>(ABI_VERSION, true, "1.2.3");
    // SAFETY: a descriptor built by this crate, alive for the whole test.
    let plugin = unsafe { Plugin::from_descriptor(good.get()) }.unwrap();
    assert_eq!(
        (plugin.name.as_str(), plugin.version.as_str()),
        ("Unit", "1.2.3")
    );
    let mut runner = TestRunner::from_plugin(plugin, "{}", "svc", &mut host).unwrap();
    runner.run(&mut host, 0).unwrap();

    let other = StaticDescriptor::new::<Unit>(999, true, "1.2.3");
    // SAFETY: as above.
    let refused = unsafe { Plugin::from_descriptor(other.get()) }.unwrap_err();
    assert_eq!(
        refused,
        format!("built for plugin ABI version 999, this runner speaks version {ABI_VERSION}")
    );
    let abort = StaticDescriptor::new::<Unit>(ABI_VERSION, false, "1.2.3");
    // SAFETY: as above.
    let refused = unsafe { Plugin::from_descriptor(abort.get()) }.unwrap_err();
    assert!(refused.contains("panic = \"abort\""));
}

crate::export_plugin!(Unit);

#[test]
fn the_exported_symbols_describe_the_plugin() {
    assert_eq!(am_plugin_abi_version_for_tests(), ABI_VERSION);
    // SAFETY: the descriptor is a static of this binary.
    let d = unsafe { &*descriptor_for_tests() };
    assert_eq!(d.abi_version, ABI_VERSION);
    assert!(d.panic_unwind);
    // SAFETY: the descriptor's strings are 'static.
    unsafe {
        assert_eq!(d.name.to_str(), Ok("Unit"));
        assert_eq!(d.version.to_str(), Ok(env!("CARGO_PKG_VERSION")));
    }
    let mut host = host();
    // SAFETY: as above.
    let plugin = unsafe { Plugin::from_descriptor(d) }.unwrap();
    let mut runner = TestRunner::from_plugin(plugin, "{}", "svc", &mut host).unwrap();
    runner.run(&mut host, 0).unwrap();
}

unsafe extern "C" {
    #[link_name = "am_plugin_abi_version"]
    safe fn am_plugin_abi_version_for_tests() -> u32;
    #[link_name = "am_plugin_descriptor"]
    safe fn descriptor_for_tests() -> *const crate::abi::PluginDescriptor;
}

#[test]
fn points_are_plain_values() {
    let p = Point { ts: 1, value: 2.0 };
    assert_eq!(p, Point { ts: 1, value: 2.0 });
}
