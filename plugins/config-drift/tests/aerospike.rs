//! Five Aerospike nodes: one with a changed key, one missing a stanza, one whose running
//! configuration disagrees with its file. Exactly those three are anomalous, each reason
//! naming its path; the others are ok, although their files differ in ways that mean nothing
//! (node ids and addresses, ignored; `4096M` for `4G`; repeated keys in another order).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use am_plugin_api::testing::TestHost;
use common::{Fleet, assert_reasons, assert_states, assert_verdict, dump, emitted, run, verdict};
use serde_json::{Value, json};

/// A node's `aerospike.conf`: `id` and `ip` differ per node; the rest is set per case.
struct Conf {
    id: &'static str,
    ip: &'static str,
    replication_factor: u32,
    memory_size: &'static str,
    seeds: [&'static str; 3],
    with_bar: bool,
}

impl Conf {
    fn normal(id: &'static str, ip: &'static str) -> Self {
        Conf {
            id,
            ip,
            replication_factor: 2,
            memory_size: "4G",
            seeds: ["10.0.0.1", "10.0.0.2", "10.0.0.3"],
            with_bar: true,
        }
    }

    fn text(&self) -> String {
        let [s1, s2, s3] = self.seeds;
        let bar = if self.with_bar {
            "\nnamespace bar {\n    replication-factor 2\n    memory-size 1G\n    \
             default-ttl 0\n    storage-engine memory\n}\n"
        } else {
            ""
        };
        format!(
            "# Aerospike database configuration file.
service {{
    user root
    group root
    paxos-single-replica-limit 1 # Number of nodes where the replica count is 1.
    pidfile /var/run/aerospike/asd.pid
    proto-fd-max 15000
    node-id {id}
}}

logging {{
    file /var/log/aerospike/aerospike.log {{
        context any info
    }}
}}

network {{
    service {{
        address any
        access-address {ip}
        port 3000
    }}
    heartbeat {{
        mode mesh
        port 3002
        mesh-seed-address-port {s1} 3002
        mesh-seed-address-port {s2} 3002
        mesh-seed-address-port {s3} 3002
        interval 150
        timeout 10
    }}
    fabric {{ port 3001 }}
    info {{ port 3003 }}
}}

namespace test {{
    replication-factor {rf}
    memory-size {mem}
    default-ttl 30d
    storage-engine device {{
        file /opt/aerospike/data/test-1.dat
        file /opt/aerospike/data/test-2.dat
        filesize 16G
        write-block-size 128K
        data-in-memory true
    }}
}}
{bar}",
            id = self.id,
            ip = self.ip,
            rf = self.replication_factor,
            mem = self.memory_size,
        )
    }
}

/// What `asinfo -v get-config:context=service` prints (defaults included).
fn runtime_service(id: &str, proto_fd_max: u32) -> String {
    format!(
        "user=root;group=root;paxos-single-replica-limit=1;pidfile=/var/run/aerospike/asd.pid;\
         proto-fd-max={proto_fd_max};node-id={id};batch-index-threads=4;service-threads=4\n"
    )
}

/// What `asinfo -v get-config:context=namespace;id=test` prints.
fn runtime_test(replication_factor: u32) -> String {
    format!(
        "replication-factor={replication_factor};memory-size=4294967296;default-ttl=2592000;\
         high-water-memory-pct=60;storage-engine=device;\
         storage-engine.file[0]=/opt/aerospike/data/test-2.dat;\
         storage-engine.file[1]=/opt/aerospike/data/test-1.dat;\
         storage-engine.filesize=17179869184;storage-engine.write-block-size=131072;\
         storage-engine.data-in-memory=true\n"
    )
}

/// The fleet: as2 changed, as3's runtime differs, as4 lacks `namespace bar`; as1 and as5
/// differ only in ways that mean nothing.
fn fleet() -> Fleet {
    let fleet = Fleet::new();
    let nodes = [
        (
            "as1",
            Conf {
                memory_size: "4096M",
                ..Conf::normal("BB9000000000001", "192.168.1.1")
            },
        ),
        (
            "as2",
            Conf {
                replication_factor: 3,
                ..Conf::normal("BB9000000000002", "192.168.1.2")
            },
        ),
        ("as3", Conf::normal("BB9000000000003", "192.168.1.3")),
        (
            "as4",
            Conf {
                with_bar: false,
                ..Conf::normal("BB9000000000004", "192.168.1.4")
            },
        ),
        (
            "as5",
            Conf {
                seeds: ["10.0.0.3", "10.0.0.1", "10.0.0.2"],
                ..Conf::normal("BB9000000000005", "192.168.1.5")
            },
        ),
    ];
    for (name, conf) in &nodes {
        fleet.write(&format!("nodes/{name}.conf"), conf.text());
        let fd_max = if *name == "as3" { 20_000 } else { 15_000 };
        fleet.write(
            &format!("runtime/service/{name}.kv"),
            runtime_service(conf.id, fd_max),
        );
        fleet.write(
            &format!("runtime/test/{name}.kv"),
            runtime_test(conf.replication_factor),
        );
    }
    fleet.write(
        "git/aerospike.conf",
        Conf::normal("BB9000000000000", "0.0.0.0").text(),
    );
    fleet
}

fn options(fleet: &Fleet) -> Value {
    json!({
        "nodes": fleet.path("nodes/*.conf"),
        "format": "aerospike",
        "runtime": [
            // A command, as `asinfo -h {node} -v get-config:context=service` would be.
            { "command": format!("cat {}/{{node}}.kv", fleet.path("runtime/service")),
              "prefix": "service" },
            { "files": fleet.path("runtime/test/*.kv"), "prefix": "namespace[test]" }
        ],
        "ignore": ["service.node-id", "network.service.access-address"]
    })
}

/// Runs the fleet's options comparing every node with the reference at `reference` (in the
/// fleet); the options and the host.
fn with_reference(fleet: &Fleet, reference: &str) -> (Value, TestHost) {
    let mut options = options(fleet);
    options["reference"] = json!(fleet.path(reference));
    let host = run(&options);
    (options, host)
}

/// Proves the case against the majority of peers: exactly as2, as3 and as4 are
/// anomalous, each reason naming the differing path with both values (a missing stanza
/// named once, with the count of keys under it); the drift counts and `drifted_nodes` are
/// written; as1 (`4096M` for `4G`) and as5 (seeds reordered) are ok, with ignored paths and
/// runtime defaults not counted.
#[test]
fn three_drifted_nodes_among_five_peers() {
    let fleet = fleet();
    let host = run(&options(&fleet));
    assert_states(&host, "anomalous", &["as2", "as3", "as4"]);
    assert_states(&host, "ok", &["as1", "as5"]);
    assert_reasons(
        &host,
        &[
            (
                "as2",
                "1 key path differs: namespace[test].replication-factor is 3 here, 2 on 4 of 4 \
                 peers",
            ),
            (
                "as3",
                "1 key path differs: service.proto-fd-max is 15000 in the file, 20000 at \
                 runtime",
            ),
            (
                "as4",
                "5 key paths differ: namespace[bar] is absent here, a stanza on 4 of 4 peers \
                 (4 key paths under it)",
            ),
        ],
    );
    assert_eq!(
        verdict(&host, "as4").values,
        [
            ("drift".to_owned(), 5.0),
            ("config".to_owned(), 5.0),
            ("runtime".to_owned(), 0.0)
        ]
    );
    assert_eq!(verdict(&host, "as3").value("runtime"), Some(1.0));
    assert!(
        verdict(&host, "as1")
            .reason
            .starts_with("agrees with its 4 peers and matches its running configuration"),
        "{}",
        dump(&host)
    );
    for (node, drift) in [
        ("as1", 0.0),
        ("as2", 1.0),
        ("as3", 1.0),
        ("as4", 5.0),
        ("as5", 0.0),
    ] {
        assert_eq!(
            emitted(&host, &format!("{node}.drift")),
            Some(drift),
            "{node}"
        );
    }
    assert_eq!(emitted(&host, "drifted_nodes"), Some(3.0));
    assert_eq!(emitted(&host, "unknown_nodes"), Some(0.0));
    assert_eq!(emitted(&host, "nodes"), Some(5.0));
}

/// Proves the comparison with a reference (the copy in git): the same three nodes, each
/// reason saying "in the reference"; and that without `ignore` the node ids and addresses
/// would count (so the ignore list is what keeps as1 and as5 ok).
#[test]
fn three_drifted_nodes_against_the_reference() {
    let fleet = fleet();
    let (mut options, host) = with_reference(&fleet, "git/aerospike.conf");
    assert_states(&host, "anomalous", &["as2", "as3", "as4"]);
    assert_reasons(
        &host,
        &[
            (
                "as2",
                "1 key path differs: namespace[test].replication-factor is 3 here, 2 in the \
                 reference",
            ),
            (
                "as4",
                "5 key paths differ: namespace[bar] is absent here, a stanza in the reference \
                 (4 key paths under it)",
            ),
        ],
    );
    assert!(
        verdict(&host, "as1")
            .reason
            .starts_with("matches the reference")
    );

    options["ignore"] = json!([]);
    let host = run(&options);
    assert_eq!(
        verdict(&host, "as1").reason,
        "2 key paths differ: network.service.access-address is 192.168.1.1 here, 0.0.0.0 in \
         the reference; service.node-id is BB9000000000001 here, BB9000000000000 in the \
         reference"
    );
}

/// Proves that a node that cannot be read is `unknown` with the reason, is left out of the
/// majority, and writes no drift, while the others are still judged; and that an unreadable
/// running configuration makes an otherwise clean node `unknown` but not a drifted one.
#[test]
fn unreadable_sources_are_unknown_and_the_rest_is_judged() {
    let fleet = fleet();
    fleet.write("nodes/as6.conf", "service {\n  proto-fd-max 15000\n");
    std::fs::remove_file(fleet.root().join("runtime/test/as5.kv")).unwrap();
    std::fs::remove_file(fleet.root().join("runtime/service/as2.kv")).unwrap();
    let host = run(&options(&fleet));
    let as6 = verdict(&host, "as6");
    assert_eq!(as6.state, "unknown");
    assert_eq!(
        as6.reason,
        format!(
            "configuration not readable: {}: aerospike syntax: stanza `service` opened at \
             line 1 is never closed",
            fleet.path("nodes/as6.conf")
        )
    );
    assert_eq!(emitted(&host, "as6.drift"), None);
    let as5 = verdict(&host, "as5");
    assert_eq!(as5.state, "unknown");
    assert_eq!(
        as5.reason,
        format!(
            "no drift found, but running configuration not compared: no running \
             configuration: no file of `{}` is named `as5`",
            fleet.path("runtime/test/*.kv")
        )
    );
    assert_verdict(&host, "as2", "anomalous", |r| {
        r.contains("; running configuration not compared: `cat ")
    });
    assert_states(&host, "anomalous", &["as2", "as3", "as4"]);
    assert_eq!(emitted(&host, "unknown_nodes"), Some(2.0));
    assert_eq!(emitted(&host, "nodes"), Some(6.0));
}

/// Proves that an unreadable reference leaves every node without its configuration
/// comparison: the node whose running configuration differs is still anomalous (that drift
/// is certain), the others are `unknown`, naming the reference and why.
#[test]
fn an_unreadable_reference_makes_the_rest_unknown() {
    let fleet = fleet();
    let (_, host) = with_reference(&fleet, "git/missing.conf");
    assert_states(&host, "anomalous", &["as3"]);
    assert_states(&host, "unknown", &["as1", "as2", "as4", "as5"]);
    let reason = &verdict(&host, "as1").reason;
    assert!(
        reason.starts_with(&format!(
            "no drift found, but the reference {} could not be read: reading {}: ",
            fleet.path("git/missing.conf"),
            fleet.path("git/missing.conf")
        )),
        "{reason}"
    );
    assert!(
        verdict(&host, "as3").reason.starts_with(
            "1 key path differs: service.proto-fd-max is 15000 in the file, 20000 at runtime; \
             the reference "
        ),
        "{}",
        dump(&host)
    );
}

/// Proves that a sharded service judges the fleet once: shard 0 reports every node, the
/// other shards nothing.
#[test]
fn only_the_first_shard_judges() {
    use am_plugin_api::testing::run_task;
    use am_plugin_config_drift::ConfigDrift;
    let fleet = fleet();
    let options = options(&fleet).to_string();
    let mut host = TestHost::new();
    host.set_shard(1, 2);
    run_task::<ConfigDrift>(&options, "fleet", &mut host, 1_000).unwrap();
    assert!(host.verdicts().is_empty());
    assert!(host.emitted().is_empty());
    host.set_shard(0, 2);
    run_task::<ConfigDrift>(&options, "fleet", &mut host, 1_000).unwrap();
    assert_eq!(host.verdicts().len(), 5);
}
