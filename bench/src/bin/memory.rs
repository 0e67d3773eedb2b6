//! Memory benchmark: Redis bytes per stored point at 100k metrics × 1 day at 60 s resolution
//! (144 million points), written through the collector's own sink in time order, as traffic
//! arrives. Prints `redis_bytes_per_point N bytes` last.
//!
//! The figure is `used_memory` (Redis' `INFO memory`) after the writes minus before them,
//! divided by the points stored: it includes keys, expiry entries, the name index and
//! allocator rounding.

// A benchmark reports on stdout.
#![allow(clippy::print_stdout)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use am_bench::machine;
use am_collector::config::RedisSinkConfig;
use am_collector::metrics::Metrics;
use am_collector::writer::{EncodedBatch, RedisWriter};
use am_store::Model;
use am_store::writer::{Batch, ModelTable};
use am_tests::RedisServer;
use anyhow::{Context, bail};

fn used_memory(redis: &RedisServer) -> anyhow::Result<u64> {
    let info = redis.info("memory")?;
    info.get("used_memory")
        .context("INFO memory has no used_memory")?
        .parse()
        .context("used_memory is not a number")
}

fn main() -> anyhow::Result<()> {
    let mut metrics_n: usize = 100_000;
    let mut points_per: usize = 1440;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let val = it.next().with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--metrics" => metrics_n = val.parse()?,
            "--points" => points_per = val.parse()?,
            other => bail!("unknown flag {other}"),
        }
    }
    let step = 60i64;
    let ttl = 86_400u32;
    let redis = RedisServer::start().context("starting redis-server")?;
    let before = used_memory(&redis)?;
    let model = Model::Raw { ttl };
    let table = ModelTable::new(vec![model]);
    let metrics = Arc::new(Metrics::default());
    let config: RedisSinkConfig = serde_json::from_value(serde_json::json!({
        "host": "127.0.0.1",
        "port": redis.port(),
        "pipeline_size": 1000,
        "max_in_flight": 64,
        "flush_interval_ms": 100,
        "buffer_max_bytes": 1u64 << 30,
        "buffer_max_seconds": 60,
        "shutdown_timeout_secs": 30,
        "timeout_secs": 30,
    }))
    .context("the sink's settings")?;
    let (writer, handle) = RedisWriter::new(config, table.clone(), metrics.clone());
    let sink_thread = std::thread::spawn(move || -> anyhow::Result<()> {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(writer.run());
        Ok(())
    });
    let names: Vec<String> = (0..metrics_n)
        .map(|i| {
            format!(
                "servers.host{:03}.app{:02}.metric{:03}",
                i % 1000,
                (i / 1000) % 100,
                i / 100_000
            )
        })
        .collect();
    let now = am_store::unix_now();
    let first_ts = now - step * points_per as i64;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let start = Instant::now();
    rt.block_on(async {
        let mut batch = Batch::default();
        for t in 0..points_per {
            let ts = (first_ts + step * t as i64) as f64;
            for block in names.chunks(5000) {
                for (i, name) in block.iter().enumerate() {
                    batch.push(&table, [0u16], name, ts, (t * 7 + i) as f64 * 0.5, now);
                }
                let mut cmds = Vec::new();
                batch.encode(&table, &mut cmds);
                let enc = EncodedBatch::new(cmds);
                handle.buffer.acquire(enc.bytes).await;
                handle.send(enc);
            }
        }
    });
    drop(handle);
    sink_thread
        .join()
        .map_err(|_| anyhow::anyhow!("sink thread panicked"))??;
    let elapsed = start.elapsed();
    let total = (metrics_n * points_per) as u64;
    let stored = metrics.stored.get();
    if stored != total {
        bail!("stored {stored} of {total} points");
    }
    // Let Redis finish any lazy freeing before reading the figure.
    std::thread::sleep(Duration::from_millis(500));
    let after = used_memory(&redis)?;
    let keys = redis.cmd(&["DBSIZE"])?.as_int().unwrap_or(0);
    let per_point = (after.saturating_sub(before)) as f64 / total as f64;
    println!("machine: {}", machine());
    println!(
        "{metrics_n} metrics x {points_per} points at {step} s (ttl {ttl} s, chunk span {} s) = {total} points in {:.0} s; {keys} keys; used_memory {} -> {} bytes",
        model.span(),
        elapsed.as_secs_f64(),
        before,
        after
    );
    println!("redis_bytes_per_point {per_point:.2} bytes");
    Ok(())
}
