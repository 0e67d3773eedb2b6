//! End-to-end tests of `am-runner check` and of anna-molly's own config files: a good config
//! passes; each kind of mistake exits 2 with one `FILE: at PATH: message` line naming where it
//! is; anna-molly's analyzer.json (with its `celery` section) and separate services.json load
//! and run unchanged.
//!
//! The `check` tests need no daemons; the run starts its own on free ports and stops them by
//! PID through the guards. Every wait is bounded.

// Helpers of a test crate are test code too (clippy.toml allows these in #[test] functions
// only): a failing unwrap or panic is a failing test with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use am_tests::now_unix;
use am_tests::runner::test_helpers::{daemons, example_every_second, faulty_every_second, write};
use am_tests::runner::{PluginLib, Problem, RunnerCheck, RunnerSetup, test_helpers};
use serde_json::{Value, json};

/// A config that passes: Example and Faulty, with the sinks on ports nothing listens on
/// (`check` connects to nothing).
fn good() -> RunnerSetup {
    RunnerSetup::new(1, 1)
        .plugin(PluginLib::Example)
        .plugin(PluginLib::Faulty)
        .service("Example", example_every_second("web", "test.*", 1.5))
        .service(
            "Faulty",
            faulty_every_second("f1", json!({ "panic_every": 2 })),
        )
        .set(
            "event_outputs",
            json!([{ "Webhook": { "url": "http://127.0.0.1:1/hook" } }]),
        )
}

fn check(setup: &RunnerSetup) -> RunnerCheck {
    setup.check().unwrap_or_else(|e| panic!("{e:#}"))
}

/// Runs `check`, expects exit 2, and returns the problem lines.
#[track_caller]
fn problems(setup: &RunnerSetup) -> (RunnerCheck, Vec<Problem>) {
    let out = check(setup);
    assert_eq!(out.code, Some(2), "{}", out.describe());
    let problems = out.problems();
    assert!(!problems.is_empty(), "{}", out.describe());
    (out, problems)
}

/// Asserts exactly one problem line, at `path`, whose message contains every `words`.
#[track_caller]
fn one_problem(setup: &RunnerSetup, path: &str, words: &[&str]) {
    let (out, problems) = problems(setup);
    assert_eq!(problems.len(), 1, "{}", out.describe());
    let p = &problems[0];
    assert_eq!(
        (p.file.as_str(), p.path.as_str()),
        ("analyzer.json", path),
        "{}",
        out.describe()
    );
    for w in words {
        assert!(p.message.contains(w), "{w:?} not in {:?}", p.message);
    }
}

fn example_with(scheduler: Value, options: Value) -> Value {
    json!({ "scheduler_options": scheduler, "worker_options": { "web": options } })
}

/// Proves `check` on a good config exits 0 with a summary, and that each kind of mistake exits
/// 2 with its own line naming the file and the JSON path: a cron field out of range, both
/// `cron` and `interval_secs`, an unknown key in analyzer.json, a misspelt plugin option
/// (named with its service's path), a plugin that is not in the folder, an ftp:// webhook;
/// and that problems found with the plugins come one line each, all at once.
#[test]
fn check_accepts_a_good_config_and_names_the_path_of_each_mistake() {
    let out = check(&good());
    assert_eq!(out.code, Some(0), "{}", out.describe());
    assert!(
        out.stdout
            .trim_end()
            .ends_with("analyzer.json: OK (2 algorithms, 2 services)"),
        "{}",
        out.describe()
    );

    let opts = json!({ "metrics": "test.*", "threshold": 1.5 });
    one_problem(
        &good().service(
            "Example",
            example_with(json!({ "cron": "*/61 * * * * *" }), opts.clone()),
        ),
        "services.Example.scheduler_options.cron",
        &["*/61 * * * * *"],
    );
    one_problem(
        &good().service(
            "Example",
            example_with(
                json!({ "cron": "* * * * * *", "interval_secs": 1 }),
                opts.clone(),
            ),
        ),
        "services.Example.scheduler_options",
        &["either cron or interval_secs"],
    );
    one_problem(
        &good().set("plugins_dir", json!("x")),
        "plugins_dir",
        &["unknown field `plugins_dir`", "plugin_dir"],
    );
    one_problem(
        &good().service(
            "Example",
            example_with(
                json!({ "interval_secs": 1 }),
                json!({ "metrics": "test.*", "windw": 5, "threshold": 1.5 }),
            ),
        ),
        "services.Example.worker_options.web",
        &["windw"],
    );
    one_problem(
        &good().service("Nope", faulty_every_second("s", json!({}))),
        "services.Nope.scheduler_options.plugin_args.name",
        &["no plugin named \"Nope\"", "loaded: [Example, Faulty]"],
    );
    one_problem(
        &good().set(
            "event_outputs",
            json!([{ "Webhook": { "url": "ftp://127.0.0.1:1/hook" } }]),
        ),
        "event_outputs[0].Webhook.url",
        &[
            "expected an http:// or https:// URL",
            "ftp://127.0.0.1:1/hook",
        ],
    );

    // Problems with plugins and options: every one, each on its line.
    let (out, found) = problems(
        &good()
            .service(
                "Example",
                example_with(
                    json!({ "interval_secs": 1 }),
                    json!({ "metrics": "test.*", "windw": 5, "threshold": 1.5 }),
                ),
            )
            .service(
                "Faulty",
                faulty_every_second("f1", json!({ "mode": "error_on_create" })),
            )
            .service("Nope", faulty_every_second("s", json!({}))),
    );
    let paths: Vec<&str> = found.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "services.Example.worker_options.web",
            "services.Faulty.worker_options.f1",
            "services.Nope.scheduler_options.plugin_args.name",
        ],
        "{}",
        out.describe()
    );
    assert!(
        found[1].message.contains("error_on_create as configured"),
        "{found:?}"
    );
}

/// Proves that `check` reports the mistakes of one analyzer.json together, each on its own
/// line, as `am_runner::config::load` promises ("or every problem found"): a bad cron in one
/// algorithm, both schedules in another, and an ftp:// webhook.
#[test]
fn check_reports_schedule_and_output_mistakes_together() {
    let opts = json!({ "metrics": "test.*", "threshold": 1.5 });
    let (out, found) = problems(
        &good()
            .service(
                "Example",
                example_with(json!({ "cron": "*/61 * * * * *" }), opts),
            )
            .service(
                "Faulty",
                json!({ "scheduler_options": { "cron": "* * * * * *", "interval_secs": 1 },
                        "worker_options": { "f1": {} } }),
            )
            .set(
                "event_outputs",
                json!([{ "Webhook": { "url": "ftp://127.0.0.1:1/hook" } }]),
            ),
    );
    let paths: Vec<&str> = found.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "services.Example.scheduler_options.cron",
            "services.Faulty.scheduler_options",
            "event_outputs[0].Webhook.url",
        ],
        "{}",
        out.describe()
    );
}

/// anna-molly's analyzer.json: Celery section, sinks, nothing else.
fn anna_molly_analyzer(redis_port: u16, carbon_port: u16) -> Value {
    json!({
        "celery": {
            "broker": { "host": "redis://127.0.0.1:6379/0" },
            "backend": { "host": "redis://127.0.0.1:6379/2" },
            "time_limit": "120"
        },
        "metric_sink": { "RedisSink": {
            "host": "127.0.0.1", "port": redis_port, "db": 0, "pipeline_size": 100 } },
        "output_sink": { "GraphiteSink": {
            "host": "127.0.0.1", "port": carbon_port, "prefix": "FooBar" } }
    })
}

/// anna-molly's services.json: `interval_secs`, and the poll task's name `PollExample`.
fn anna_molly_services(service: &str) -> String {
    json!({
        "Example": {
            "scheduler_options": { "interval_secs": 1, "plugin_args": { "name": "PollExample" } },
            "worker_options": { service: { "metrics": "test.*", "window": 600, "threshold": 100 } }
        }
    })
    .to_string()
}

/// Proves anna-molly's files load: its analyzer.json unchanged (Celery section included, no
/// plugin_dir, no services) with `--plugin-dir` and `--services services.json`, and the same
/// file naming `"services": "services.json"` (relative to it) and a relative `plugin_dir`;
/// `check` exits 0 on both, `PollExample` finds the plugin `Example`, and both runs write
/// `FooBar.Example.<service>.*` into carbon.
#[test]
fn anna_molly_analyzer_and_services_files_load_and_run() {
    let (redis, carbon) = daemons();
    let now = now_unix();
    write(
        &redis,
        &[
            ("test.a", &[(now - 30, 5.0)]),
            ("test.b", &[(now - 30, 7.0)]),
        ],
    );
    let analyzer = anna_molly_analyzer(redis.port(), carbon.line_port());
    let with_flags = RunnerSetup::from_json(analyzer.clone())
        .no_plugin_dir()
        .plugin(PluginLib::Example)
        .file("services.json", &anna_molly_services("flags"))
        .arg("--plugin-dir")
        .arg("plugins")
        .arg("--services")
        .arg("services.json");
    let mut in_file = analyzer;
    in_file["plugin_dir"] = json!("plugins");
    in_file["services"] = json!("services.json");
    let in_file = RunnerSetup::from_json(in_file)
        .plugin(PluginLib::Example)
        .file("services.json", &anna_molly_services("infile"));
    for setup in [&with_flags, &in_file] {
        let out = check(setup);
        assert_eq!(out.code, Some(0), "{}", out.describe());
        assert!(
            out.stdout.contains("OK (1 algorithms, 1 services)"),
            "{}",
            out.describe()
        );
    }

    let a = test_helpers::start(&with_flags);
    let b = test_helpers::start(&in_file);
    for (runner, service) in [(&a, "flags"), (&b, "infile")] {
        for (field, value) in [("count", 2.0), ("max", 7.0), ("mean", 6.0)] {
            let metric = format!("FooBar.Example.{service}.{field}");
            let points = test_helpers::wait_points(&carbon, runner, &metric, 2);
            assert!(points.iter().all(|p| p.1 == value), "{metric}: {points:?}");
        }
    }
}

/// Proves that a mistake in a separate services.json is reported against services.json, with
/// the path inside that file: a misspelt option found when the plugin parses it, and a bad
/// cron found while loading; for the file given with `--services` and the one named in
/// analyzer.json.
#[test]
fn a_mistake_in_services_json_is_reported_against_services_json() {
    let services = |scheduler: Value| {
        json!({ "Example": {
            "scheduler_options": scheduler,
            "worker_options": { "s": { "metrics": "test.*", "treshold": 100 } }
        } })
        .to_string()
    };
    let in_file = {
        let mut analyzer = anna_molly_analyzer(1, 1);
        analyzer["services"] = json!("services.json");
        RunnerSetup::from_json(analyzer).plugin(PluginLib::Example)
    };
    let with_flag = RunnerSetup::from_json(anna_molly_analyzer(1, 1))
        .plugin(PluginLib::Example)
        .arg("--services")
        .arg("services.json");
    // Every case is tried; the failures are listed together.
    let mut wrong = Vec::new();
    for (how, setup) in [
        ("named in analyzer.json", in_file),
        ("--services", with_flag),
    ] {
        let cases = [
            (
                json!({ "cron": "*/61 * * * * *" }),
                "Example.scheduler_options.cron",
                "*/61",
            ),
            (
                json!({ "interval_secs": 1 }),
                "Example.worker_options.s",
                "treshold",
            ),
        ];
        for (scheduler, path, word) in cases {
            let (out, found) = problems(&setup.clone().file("services.json", &services(scheduler)));
            let ok = found.len() == 1
                && found[0].file == "services.json"
                && found[0].path == path
                && found[0].message.contains(word);
            if !ok {
                wrong.push(format!(
                    "services.json {how}, expected `services.json: at {path}: ..{word}..`, got:\n{}",
                    out.stderr
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Proves that an option error locates the mistake by its JSON path only: the plugin parses a
/// one-line copy of the options the runner made, so a serde position such as "at line 1
/// column 43" points into text the operator never wrote (and reads like a place in
/// analyzer.json, whose line 1 is something else).
#[test]
fn option_errors_carry_no_position_in_text_the_user_never_wrote() {
    let setup = good().service(
        "Example",
        example_with(
            json!({ "interval_secs": 1 }),
            json!({ "metrics": "test.*", "windw": 5, "threshold": 1.5 }),
        ),
    );
    let (out, found) = problems(&setup);
    assert_eq!(found.len(), 1, "{}", out.describe());
    assert!(found[0].message.contains("windw"), "{}", out.describe());
    assert!(
        !found[0].message.contains(" at line "),
        "a position in the runner's copy of the options: {:?}",
        found[0].message
    );
}

/// The `queue` section and `shards`: a good one passes; each mistake is named by its path.
#[test]
fn check_names_queue_and_shard_mistakes() {
    let ok = good().set(
        "queue",
        json!({ "processes": 2, "time_limit": 30, "memory_limit_mb": 512, "max_attempts": 2 }),
    );
    let out = check(&ok);
    assert_eq!(out.code, Some(0), "{}", out.describe());
    one_problem(
        &good().set("queue", json!({ "time_limit": 0 })),
        "queue.time_limit",
        &["at least 1"],
    );
    one_problem(
        &good().set("queue", json!({ "max_attempts": 0 })),
        "queue.max_attempts",
        &["at least 1"],
    );
    one_problem(
        &good().set("queue", json!({ "procs": 2 })),
        "queue.procs",
        &["unknown field", "processes"],
    );
    one_problem(
        &good().service(
            "Example",
            example_with(
                json!({ "cron": "* * * * * *", "shards": 0 }),
                json!({ "metrics": "test.*", "window": 600, "threshold": 1.5 }),
            ),
        ),
        "services.Example.scheduler_options.shards",
        &["1 to 1024"],
    );
}
