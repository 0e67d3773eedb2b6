//! The product against the Redis set-ups of production, each started by the test: a TLS Redis
//! with a test CA (client certificates required) and an ACL user, a 3-node Redis Cluster, and
//! a master with a replica behind three sentinels. In each, points the collector stores are
//! read back by `am-collector inspect` and by a runner plugin (`Example`: the index, a read by
//! name, its state, its alarms), and the runner's CLI reads the alarms.
//!
//! Each test starts its own daemons on free ports and stops them by PID through the guards;
//! every wait is bounded.

// Helpers of a test crate are test code too (clippy.toml allows these in #[test] functions
// only): a failing unwrap or panic is a failing test with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use am_tests::collector::{check, inspect};
use am_tests::production::{Deployment, METRICS, round_trip};
use am_tests::redis_tls::ACL_USER;
use am_tests::runner::run_cli;
use am_tests::{RedisCluster, SentinelSet, TlsRedis};

const CLI: Duration = Duration::from_secs(60);

/// `am-runner alarms --json` of the runner's config: the subjects of the alarms not OK.
fn alarm_subjects(rt: &am_tests::production::RoundTrip) -> Vec<String> {
    let config = rt.runner.config_path();
    let out = run_cli(
        &[
            "alarms",
            "--json",
            "--config",
            &config.display().to_string(),
        ],
        rt.runner.dir(),
        CLI,
    )
    .unwrap();
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let mut subjects: Vec<String> = v["alarms"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["metric"].as_str().map(String::from))
        .collect();
    subjects.sort();
    subjects
}

/// The anomalous metrics of [`round_trip`]'s data (last value above 289.5).
fn anomalous() -> Vec<String> {
    (290..METRICS)
        .map(|i| format!("test.prod.m{i:03}"))
        .collect()
}

/// Waits until the runner's alarms are the anomalous metrics.
fn wait_alarms(rt: &am_tests::production::RoundTrip) {
    let want = anomalous();
    am_tests::wait_until("the alarms of the anomalous metrics", CLI, || {
        Ok((alarm_subjects(rt) == want).then_some(()))
    })
    .unwrap_or_else(|e| panic!("{e:#}\n{}", rt.runner.logs()));
}

/// TLS with a test CA, client certificates required, and an ACL user whose password needs
/// escaping in the URL, allowed the product's keys only: the collector (`url` + `tls`) stores
/// every point, `inspect` reads them back, the distributed runner (its queue) runs `Example`,
/// which reads them (by pattern and by name), counts its runs in its state and keeps its
/// alarms there; every connection on the TLS port is the ACL user's;
/// a wrong password and a missing client certificate are refused with the reason.
#[test]
fn tls_and_an_acl_user() {
    let tls = TlsRedis::start().unwrap();
    let deployment = Deployment::Tls(Box::new(tls));
    let rt = round_trip(&deployment, &["--role", "all"]);
    wait_alarms(&rt);
    let Deployment::Tls(tls) = &deployment else {
        unreachable!()
    };
    let clients = tls.tls_clients().unwrap();
    assert!(clients.len() >= 2, "collector and runner: {clients:?}");
    assert!(
        clients.iter().all(|(user, _)| user == ACL_USER),
        "{clients:?}"
    );
    // Nothing reached the data over plain TCP but the harness itself.
    let wrong = rt
        .collector
        .config_path()
        .with_file_name("wrong-password.json");
    let text = std::fs::read_to_string(rt.collector.config_path())
        .unwrap()
        .replace("s3cr%40t", "nope");
    std::fs::write(&wrong, &text).unwrap();
    let err = inspect(&wrong, "test.prod.*", None).unwrap_err();
    let err = format!("{err:#}").to_lowercase();
    assert!(
        err.contains("authentication failed") || err.contains("wrongpass"),
        "{err}"
    );
    let no_cert = text.replace(
        &format!(", \"cert_file\": \"{}\"", tls.ca().cert_pem().display()),
        "",
    );
    let no_cert = no_cert.replace(
        &format!(", \"key_file\": \"{}\"", tls.ca().key_pem().display()),
        "",
    );
    assert!(!no_cert.contains("cert_file"), "{no_cert}");
    std::fs::write(&wrong, no_cert.replace("nope", "s3cr%40t")).unwrap();
    assert!(inspect(&wrong, "test.prod.*", None).is_err());
}

/// A 3-node Redis Cluster: the collector (`cluster`) stores every point, spread over all
/// three nodes, each series' chunks and index entry in one slot; `inspect` reads them back;
/// the distributed runner (`--role all`: the task queue, leases and alarm scripts on the
/// cluster) runs `Example` over them.
#[test]
fn a_three_node_cluster() {
    let cluster = RedisCluster::start(3).unwrap();
    let deployment = Deployment::Cluster(cluster);
    let rt = round_trip(&deployment, &["--role", "all"]);
    wait_alarms(&rt);
    let Deployment::Cluster(cluster) = &deployment else {
        unreachable!()
    };
    let per_node: Vec<usize> = cluster
        .nodes()
        .iter()
        .map(|n| n.keys("am2:c:*").unwrap().len())
        .collect();
    assert!(
        per_node.iter().all(|&n| n > METRICS / 6),
        "chunks per node: {per_node:?}"
    );
    for i in [0usize, 7, 123] {
        let name = format!("test.prod.m{i:03}");
        let shard = am_store::keys::shard_of(&name);
        let chunk = cluster
            .keys(&format!("am2:c:*:r86400:{name}:*"))
            .unwrap()
            .pop()
            .unwrap();
        assert_eq!(
            cluster.owner_of(&chunk).unwrap(),
            cluster
                .owner_of(&am_store::keys::index(shard, "r86400"))
                .unwrap(),
            "{chunk} and its index entry are on one node"
        );
    }
    let queue = cluster.keys("{am1:q}:*").unwrap();
    assert!(queue.contains(&"{am1:q}:tasks".to_string()), "{queue:?}");
    let alarms = cluster.keys("{am1:alarm}:*").unwrap();
    assert!(
        alarms.contains(&"{am1:alarm}:transitions".to_string()),
        "{alarms:?}"
    );
}

/// A master and a replica behind three sentinels: the collector and the runner find the
/// master through the sentinels (`sentinel`), and everything round-trips as with one server.
#[test]
fn a_master_behind_sentinel() {
    let set = SentinelSet::start(&[]).unwrap();
    let deployment = Deployment::Sentinel(Box::new(set));
    let rt = round_trip(&deployment, &[]);
    wait_alarms(&rt);
    // `check` accepts the config; a config naming the master both ways is refused by path.
    let text = std::fs::read_to_string(rt.collector.config_path()).unwrap();
    let ok = check(&text).unwrap();
    assert_eq!(ok.code, Some(0), "{ok:?}");
    let both = text.replace("\"sentinel\":", "\"host\": \"127.0.0.1\", \"sentinel\":");
    let refused = check(&both).unwrap();
    assert_eq!(refused.code, Some(2), "{refused:?}");
    assert!(
        refused.stderr.contains("at writer.RedisSink.sentinel:"),
        "{refused:?}"
    );
}
