//! Redis failing under a sustained ingest: Sentinel's master killed (the collector follows the
//! new master; with `wait_replicas` nothing acknowledged is lost, and what could be is
//! counted), and a Redis Cluster node killed and restarted (nothing lost beyond what its own
//! persistence loses: with `appendfsync always`, nothing).
//!
//! The points lost are printed (`points lost: N of M`) for the record.

// Helpers of a test crate are test code too (clippy.toml allows these in #[test] functions
// only): a failing unwrap or panic is a failing test with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use am_tests::collector::Collector;
use am_tests::production::{Deployment, Ingest, collector, missing};
use am_tests::{RedisCluster, SentinelSet};

/// Metrics of the sustained ingest, one point each per round.
const METRICS: usize = 100;
/// Time between rounds: 2,000 points a second.
const EVERY: Duration = Duration::from_millis(50);
const WAIT: Duration = Duration::from_secs(120);

/// Waits until `rounds` rounds have been sent.
fn wait_rounds(ingest: &Ingest, rounds: u64) {
    am_tests::wait_until("the sender's rounds", WAIT, || {
        Ok((ingest.rounds() >= rounds).then_some(()))
    })
    .unwrap();
}

/// Stops the sender, waits until the collector has every point acknowledged, and returns
/// (sent, lost) after reading everything back with `inspect`.
fn settle(collector: &mut Collector, ingest: Ingest, prefix: &str) -> (usize, usize) {
    let sent = ingest.finish();
    collector
        .wait_counter("stored_points_total", WAIT, |v| v >= sent.len() as f64)
        .unwrap_or_else(|e| panic!("{e:#}\n{}", collector.logs()));
    let stored = collector.inspect(&format!("{prefix}.*")).unwrap();
    let lost = missing(&sent, &stored);
    eprintln!(
        "points lost: {} of {} (first: {:?})",
        lost.len(),
        sent.len(),
        lost.first()
    );
    for counter in [
        "dropped_redis_error_points_total",
        "dropped_buffer_full_points_total",
        "dropped_shutdown_points_total",
    ] {
        assert_eq!(collector.counter(counter).unwrap(), 0.0, "{counter}");
    }
    (sent.len(), lost.len())
}

/// The master is killed in the middle of a sustained ingest: the collector asks the sentinels
/// again, follows the promoted replica and keeps going; with `wait_replicas: 1` every point
/// Redis acknowledged is still there afterwards (a pipeline unconfirmed when the master died
/// was sent again), and the points stored while no replica was left are counted
/// (`unreplicated_points_total`) and logged.
#[test]
fn sentinel_failover_with_wait_replicas_loses_nothing() {
    let mut set = SentinelSet::start(&[]).unwrap();
    let master = set.master().port();
    let deployment = Deployment::Sentinel(Box::new(set));
    let mut collector = collector(
        &deployment,
        &[("wait_replicas", "1"), ("timeout_secs", "5")],
    );
    let ingest = Ingest::start(collector.ports().pickle, "test.failover.w", METRICS, EVERY);
    wait_rounds(&ingest, 40);
    let Deployment::Sentinel(mut set) = deployment else {
        unreachable!()
    };
    set.expect_master(master).unwrap();
    let took = set.kill_master_and_wait_failover().unwrap();
    eprintln!("failover took {took:?}");
    let after = ingest.rounds();
    wait_rounds(&ingest, after + 60);
    let (sent, lost) = settle(&mut collector, ingest, "test.failover.w");
    assert_eq!(lost, 0, "of {sent}\n{}", collector.logs());
    assert!(collector.counter("redis_reconnects_total").unwrap() >= 1.0);
    // With the old master gone, the new one has no replica: what it stores is at risk, and
    // the collector says so.
    assert!(collector.counter("unreplicated_points_total").unwrap() > 0.0);
    assert!(
        collector
            .logs()
            .contains("not confirmed on its replicas: a failover now would lose them"),
        "{}",
        collector.logs()
    );
}

/// The same failover without `wait_replicas`: the collector follows the new master and keeps
/// going; what asynchronous replication had not carried to the replica when the master died
/// is lost — the test prints how much, and requires that every point sent after the failover
/// is there.
#[test]
fn sentinel_failover_without_wait_replicas_keeps_going() {
    let set = SentinelSet::start(&[]).unwrap();
    let deployment = Deployment::Sentinel(Box::new(set));
    let mut collector = collector(&deployment, &[("timeout_secs", "5")]);
    let ingest = Ingest::start(collector.ports().pickle, "test.failover.a", METRICS, EVERY);
    wait_rounds(&ingest, 40);
    let Deployment::Sentinel(mut set) = deployment else {
        unreachable!()
    };
    set.kill_master_and_wait_failover().unwrap();
    let failed_over = Instant::now();
    let after = ingest.rounds();
    wait_rounds(&ingest, after + 60);
    let sent_before_failover = after as usize * METRICS;
    let (sent, lost) = settle(&mut collector, ingest, "test.failover.a");
    assert!(
        lost <= sent_before_failover,
        "lost {lost} of {sent}, more than was sent before the failover {failed_over:?}"
    );
    assert!(collector.counter("redis_reconnects_total").unwrap() >= 1.0);
}

/// A cluster node is killed (SIGKILL) in the middle of a sustained ingest and started again
/// a few seconds later: the collector keeps the points of that node's slots (and, while the
/// cluster reports itself down, of the others) and sends them once it is back; with
/// `appendfsync always` the node's persistence loses nothing, and neither does the product.
#[test]
fn cluster_node_restarted_during_ingest_loses_nothing() {
    let cluster =
        RedisCluster::start_with_args(3, &["--appendonly", "yes", "--appendfsync", "always"])
            .unwrap();
    let deployment = Deployment::Cluster(cluster);
    let mut collector = collector(&deployment, &[("timeout_secs", "5")]);
    let ingest = Ingest::start(collector.ports().pickle, "test.restart", METRICS, EVERY);
    wait_rounds(&ingest, 40);
    let Deployment::Cluster(mut cluster) = deployment else {
        unreachable!()
    };
    cluster.node(1).unwrap().kill_hard().unwrap();
    std::thread::sleep(Duration::from_secs(5));
    cluster.node(1).unwrap().start_again().unwrap();
    cluster.wait_ok(WAIT).unwrap();
    let after = ingest.rounds();
    wait_rounds(&ingest, after + 60);
    let (sent, lost) = settle(&mut collector, ingest, "test.restart");
    assert_eq!(lost, 0, "of {sent}\n{}", collector.logs());
    assert!(collector.counter("redis_retries_total").unwrap() > 0.0);
}
