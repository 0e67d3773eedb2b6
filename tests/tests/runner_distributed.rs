//! End-to-end tests of the distributed runner (`--role scheduler|worker`): several runner
//! processes on this machine stand in for hosts, sharing one real Redis, writing to one real
//! carbon-cache. Each test starts its own daemons on free ports and stops them by PID through
//! the guards; every wait is bounded.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use am_tests::carbon_cache::{CarbonCache, CarbonCacheOptions};
use am_tests::redis::RedisServer;
use am_tests::resp::{Resp, RespClient};
use am_tests::runner::daemon::Runner;
use am_tests::runner::setup::RunnerSetup;
use am_tests::runner::test_helpers::start;
use am_tests::runner::{PluginLib, wait_whisper};
use serde_json::{Value, json};

/// A scheduler or worker process of a shared setup.
fn role(setup: &RunnerSetup, role: &str) -> Runner {
    start(&setup.clone().arg("--role").arg(role))
}

/// Redis, carbon-cache reporting what it received every second, and a setup for them of
/// `Faulty` services (`services`, its `worker_options`) on a 1-second cron with the queue
/// section `queue`.
fn cluster(services: Value, queue: Value) -> (RedisServer, CarbonCache, RunnerSetup) {
    let redis = RedisServer::start().unwrap();
    let carbon = CarbonCache::start_with(
        CarbonCacheOptions::default().setting("CARBON_METRIC_INTERVAL", "1"),
    )
    .unwrap();
    let setup = RunnerSetup::new(redis.port(), carbon.line_port())
        .plugin(PluginLib::Faulty)
        .set("queue", queue)
        .service(
            "Faulty",
            json!({ "scheduler_options": { "cron": "* * * * * *" }, "worker_options": services }),
        );
    (redis, carbon, setup)
}

fn redis_cmd(redis: &RedisServer, args: &[&str]) -> Resp {
    let mut c = RespClient::connect(redis.port(), Duration::from_secs(5)).unwrap();
    c.cmd(args).unwrap()
}

/// `am-runner status --json` against `runner`'s config.
fn status(runner: &Runner) -> Value {
    let out = std::process::Command::new(am_tests::runner::cli::runner_binary().unwrap())
        .arg("status")
        .arg("--json")
        .arg("--config")
        .arg(runner.config_path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn service_counts(st: &Value, service: &str) -> Value {
    st["services"]["Faulty"][service].clone()
}

fn n(v: &Value, key: &str) -> u64 {
    v[key].as_u64().unwrap_or(0)
}

/// Waits until `ok` holds, at most `timeout`, then returns whether it did.
fn wait(timeout: Duration, mut ok: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    ok()
}

fn logs(runners: &[&Runner]) -> String {
    runners
        .iter()
        .map(|r| r.logs())
        .collect::<Vec<_>>()
        .join("\n")
}

/// 3 workers and 2 schedulers, 20 services on a 1-second cron for 30 s: every tick of every
/// service produces exactly one result at carbon-cache. No gap: each service's `tick` series
/// holds every second from its first to its last tick, and the queue counted one success
/// per tick and nothing failed or skipped. No duplicate: carbon-cache's own count of received
/// points equals the number of points in the whisper files.
#[test]
fn three_workers_two_schedulers_every_tick_exactly_once() {
    let services: serde_json::Map<String, Value> =
        (0..20).map(|i| (format!("s{i:02}"), json!({}))).collect();
    let (_redis, carbon, s) = cluster(
        Value::Object(services),
        json!({ "processes": 2, "time_limit": 10 }),
    );
    let workers: Vec<Runner> = (0..3).map(|_| role(&s, "worker")).collect();
    let mut schedulers: Vec<Runner> = (0..2).map(|_| role(&s, "scheduler")).collect();
    std::thread::sleep(Duration::from_secs(30));
    for sch in &mut schedulers {
        sch.process().stop().unwrap();
    }
    let all: Vec<&Runner> = workers.iter().chain(&schedulers).collect();
    // Drain: nothing queued or running.
    let drained = wait(Duration::from_secs(20), || {
        let st = status(&workers[0]);
        (0..20).all(|i| {
            let c = service_counts(&st, &format!("s{i:02}"));
            n(&c, "queued") == 0 && n(&c, "running") == 0
        })
    });
    assert!(drained, "queue did not drain\n{}", logs(&all));
    let st = status(&workers[0]);
    let mut whisper_points = 0usize;
    for i in 0..20 {
        let svc = format!("s{i:02}");
        let c = service_counts(&st, &svc);
        let metric = format!("AnnaMolly.Faulty.{svc}.tick");
        let ok = n(&c, "ok") as usize;
        let points = wait_whisper(
            &carbon,
            &metric,
            &format!("{ok} points"),
            Duration::from_secs(20),
            |p| p.len() >= ok,
        )
        .unwrap_or_else(|e| panic!("{e:#}\n{}", logs(&all)));
        let ticks: Vec<i64> = points.iter().map(|(ts, _)| *ts).collect();
        assert!(
            ticks.len() >= 25,
            "{svc}: only {} ticks in 30 s\n{}",
            ticks.len(),
            logs(&all)
        );
        let (first, last) = (ticks[0], ticks[ticks.len() - 1]);
        let set: BTreeSet<i64> = ticks.iter().copied().collect();
        let missing: Vec<i64> = (first..=last).filter(|t| !set.contains(t)).collect();
        assert!(
            missing.is_empty(),
            "{svc}: ticks missing {missing:?}\n{}",
            logs(&all)
        );
        for (ts, v) in &points {
            assert_eq!(*ts as f64, *v, "{svc}: the tick's value is its timestamp");
        }
        assert_eq!(
            ok,
            ticks.len(),
            "{svc}: successes vs ticks {c}\n{}",
            logs(&all)
        );
        assert_eq!(
            n(&c, "failed") + n(&c, "dead") + n(&c, "skipped"),
            0,
            "{svc}: {c}"
        );
        let runs = carbon
            .read_whisper(&format!("AnnaMolly.Faulty.{svc}.runs"))
            .unwrap();
        whisper_points += ticks.len() + runs.len();
    }
    for w in workers {
        drop(w);
    }
    // carbon-cache counts what it received once a second; let the last count land.
    std::thread::sleep(Duration::from_secs(3));
    let received: f64 = std::fs::read_dir(carbon.whisper_dir().join("carbon/agents"))
        .unwrap()
        .flatten()
        .map(|agent| {
            am_tests::whisper::read_points(&agent.path().join("metricsReceived.wsp"))
                .unwrap_or_default()
                .iter()
                .map(|(_, v)| v)
                .sum::<f64>()
        })
        .sum();
    assert_eq!(
        received, whisper_points as f64,
        "carbon-cache received {received} points for {whisper_points} distinct ones: duplicates"
    );
}

/// A worker killed with SIGKILL while a task runs: the task completes on the other worker
/// within time_limit + 5 s.
#[test]
fn killed_worker_task_completes_elsewhere() {
    let (redis, carbon, s) = cluster(
        json!({ "slow": { "sleep_ms": 1500 } }),
        json!({ "processes": 1, "time_limit": 5 }),
    );
    let mut a = role(&s, "worker");
    let mut b = role(&s, "worker");
    let sch = role(&s, "scheduler");
    // Find a running task and who holds it.
    let mut held: Option<(String, i64)> = None;
    let found = wait(Duration::from_secs(20), || {
        let p = redis_cmd(
            &redis,
            &["XPENDING", "{am1:q}:tasks", "workers", "-", "+", "10"],
        );
        let Some(first) = p.as_array().and_then(|a| a.first().cloned()) else {
            return false;
        };
        let fields = first.as_array().unwrap_or_default().to_vec();
        let (Some(id), Some(consumer)) = (
            fields.first().and_then(Resp::as_text),
            fields.get(1).and_then(Resp::as_text),
        ) else {
            return false;
        };
        let e = redis_cmd(&redis, &["XRANGE", "{am1:q}:tasks", &id, &id]);
        let tick = e
            .as_array()
            .and_then(|a| a.first())
            .and_then(|x| x.as_array().and_then(|x| x.get(1).cloned()))
            .and_then(|f| {
                let f = f.as_array()?.to_vec();
                let i = f.iter().position(|x| x.as_text().as_deref() == Some("t"))?;
                f.get(i + 1)?.as_text()?.parse::<i64>().ok()
            });
        held = tick.map(|t| (consumer, t));
        held.is_some()
    });
    let all = [&a, &b, &sch];
    assert!(found, "no task ever ran\n{}", logs(&all));
    let (consumer, tick) = held.unwrap();
    let pid: u32 = consumer.rsplit(':').next().unwrap().parse().unwrap();
    let (victim, survivor) = if a.process().pid() == Some(pid) {
        (&mut a, &b)
    } else {
        (&mut b, &a)
    };
    assert_eq!(
        victim.process().pid(),
        Some(pid),
        "the holder is one of the workers"
    );
    victim.process().kill_hard().unwrap();
    let killed = Instant::now();
    let done = wait(Duration::from_secs(10), || {
        carbon
            .read_whisper("AnnaMolly.Faulty.slow.tick")
            .map(|p| p.iter().any(|(ts, _)| *ts == tick))
            .unwrap_or(false)
    });
    let took = killed.elapsed();
    assert!(
        done,
        "tick {tick} not completed within 10 s of the kill\n{}",
        survivor.logs()
    );
    assert!(took <= Duration::from_secs(10), "took {took:?}");
    assert!(
        survivor
            .logs()
            .contains("took over a task whose worker stopped answering")
    );
}

/// The scheduler holding the leases killed with SIGKILL: the other one carries on, and at
/// most the tick in flight is lost.
#[test]
fn killed_lease_holder_loses_at_most_one_tick() {
    let (redis, carbon, s) = cluster(
        json!({ "f": {} }),
        json!({ "processes": 2, "time_limit": 10 }),
    );
    let w = role(&s, "worker");
    let mut s1 = role(&s, "scheduler");
    let mut s2 = role(&s, "scheduler");
    let all = [&w, &s1, &s2];
    wait_whisper(
        &carbon,
        "AnnaMolly.Faulty.f.tick",
        "3 points",
        Duration::from_secs(30),
        |p| p.len() >= 3,
    )
    .unwrap_or_else(|e| panic!("{e:#}\n{}", logs(&all)));
    // Who took the latest tick's lease?
    let now = am_tests::now_unix();
    let holder = (now - 3..=now)
        .rev()
        .find_map(|t| redis_cmd(&redis, &["GET", &format!("{{am1:q}}:lease:Faulty:{t}")]).as_text())
        .expect("a recent lease");
    let pid: u32 = holder.rsplit(':').next().unwrap().parse().unwrap();
    let victim = if s1.process().pid() == Some(pid) {
        &mut s1
    } else {
        &mut s2
    };
    assert_eq!(victim.process().pid(), Some(pid));
    victim.process().kill_hard().unwrap();
    let killed_at = am_tests::now_unix();
    let points = wait_whisper(
        &carbon,
        "AnnaMolly.Faulty.f.tick",
        "5 s after the kill",
        Duration::from_secs(30),
        |p| p.last().is_some_and(|(ts, _)| *ts >= killed_at + 5),
    )
    .unwrap_or_else(|e| panic!("{e:#}\n{}", w.logs()));
    let set: BTreeSet<i64> = points.iter().map(|(ts, _)| *ts).collect();
    let first = *set.iter().next().unwrap();
    let missing: Vec<i64> = (first..=killed_at + 5)
        .filter(|t| !set.contains(t))
        .collect();
    assert!(missing.len() <= 1, "ticks lost: {missing:?}\n{}", w.logs());
}

/// Plugins that abort, segfault, loop forever or allocate past the memory limit: the runner
/// survives, each task fails with its reason (dead letters after the last attempt), and the
/// healthy service stays on schedule.
#[test]
fn crashing_plugins_fail_their_tasks_only() {
    let (_redis, carbon, s) = cluster(
        json!({
            "healthy": {},
            "aborts": { "mode": "abort" },
            "segfaults": { "mode": "segfault" },
            "spins": { "mode": "loop" },
            "hog": { "mode": "alloc", "alloc_mb": 1024 },
            "small": { "mode": "alloc", "alloc_mb": 8 }
        }),
        json!({ "processes": 3, "time_limit": 2, "max_attempts": 2, "memory_limit_mb": 256 }),
    );
    let mut w = start(&s.clone().arg("--role").arg("all"));
    std::thread::sleep(Duration::from_secs(15));
    assert!(w.process().is_running(), "the runner died\n{}", w.logs());
    let points = carbon
        .read_whisper("AnnaMolly.Faulty.healthy.tick")
        .unwrap();
    let set: BTreeSet<i64> = points.iter().map(|(ts, _)| *ts).collect();
    let (first, last) = (*set.iter().next().unwrap(), *set.iter().last().unwrap());
    let missing: Vec<i64> = (first..=last).filter(|t| !set.contains(t)).collect();
    assert!(
        set.len() >= 12 && missing.is_empty(),
        "healthy ticks {set:?}, missing {missing:?}\n{}",
        w.logs()
    );
    let small = carbon
        .read_whisper("AnnaMolly.Faulty.small.allocated_mb")
        .unwrap();
    assert!(
        small.len() >= 10,
        "an 8 MiB task fits the limit\n{}",
        w.logs()
    );
    let st = status(&w);
    let mut reasons: Vec<(String, String)> = Vec::new();
    for d in st["recent_dead"].as_array().unwrap() {
        reasons.push((
            d["fields"]["s"].as_str().unwrap().into(),
            d["fields"]["e"].as_str().unwrap().into(),
        ));
    }
    let st_all = {
        let out = std::process::Command::new(am_tests::runner::cli::runner_binary().unwrap())
            .args(["status", "--json", "--dead", "1000", "--config"])
            .arg(w.config_path())
            .output()
            .unwrap();
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    let reason_of = |svc: &str| -> String {
        st_all["recent_dead"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["fields"]["s"] == svc)
            .map(|d| d["fields"]["e"].as_str().unwrap().to_string())
            .unwrap_or_else(|| panic!("no dead letter for {svc}: {reasons:?}\n{}", w.logs()))
    };
    assert!(reason_of("aborts").contains("SIGABRT"));
    assert!(reason_of("segfaults").contains("SIGSEGV"));
    assert!(reason_of("spins").contains("time limit of 2 s exceeded"));
    let hog = reason_of("hog");
    assert!(hog.contains("memory_limit_mb = 256"), "{hog}");
    for svc in ["healthy", "small"] {
        let c = service_counts(&st, svc);
        assert_eq!(n(&c, "failed"), 0, "{svc}: {c}");
    }
    assert!(w.counter("worker_restarts_total").unwrap() >= 4.0);
}

/// No worker at all: the queue holds one task per service and no more, the skipped ticks are
/// counted, and the backlog is a self-metric.
#[test]
fn without_workers_ticks_do_not_pile_up() {
    let (redis, _carbon, s) = cluster(
        json!({ "a": {}, "b": {}, "c": {} }),
        json!({ "time_limit": 10 }),
    );
    let mut sch = role(&s, "scheduler");
    let skipped = sch
        .wait_counter(
            "tasks_skipped_backlog_total",
            Duration::from_secs(20),
            |v| v >= 9.0,
        )
        .unwrap_or_else(|e| panic!("{e:#}\n{}", sch.logs()));
    assert!(skipped >= 9.0);
    let len = redis_cmd(&redis, &["XLEN", "{am1:q}:tasks"]).as_int();
    assert_eq!(len, Some(3), "{}", sch.logs());
    assert_eq!(sch.counter("queue_backlog").unwrap(), 3.0);
    assert_eq!(sch.counter("tasks_enqueued_total").unwrap(), 3.0);
    let st = status(&sch);
    for svc in ["a", "b", "c"] {
        let c = service_counts(&st, svc);
        assert_eq!(n(&c, "queued"), 1, "{svc}: {c}");
        assert!(n(&c, "skipped") >= 3, "{svc}: {c}");
    }
}
