//! Writing metric series into a test's redis-server with the store crate (`am-store`), the
//! way the collector stores them, for the runner's plugins to read.

use std::time::Duration;

use am_store::writer::{Batch, ModelTable, write_batch};
use am_store::{Conn, Model};
use anyhow::{Context, Result, bail};

use crate::local_redis;

/// The model the series are written under: `RedisTimeStamped` with a one-day ttl (tag
/// `r86400`), as the collector's default router stores `test.*`.
pub const SERIES_MODEL: Model = Model::Raw { ttl: 86_400 };

/// One series to write: its name and its points `(timestamp, value)`.
pub type Series<'a> = (&'a str, &'a [(i64, f64)]);

/// Writes `series` into redis-server on `127.0.0.1:redis_port` (db 0) under
/// [`SERIES_MODEL`]; fails unless Redis confirms every point. Timestamps must lie within the
/// ttl (the last day) and not more than ten minutes ahead of the clock.
pub fn write_series(redis_port: u16, series: &[Series<'_>]) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting a runtime to write series")?;
    runtime.block_on(async {
        let mut conn = Conn::connect(&local_redis(redis_port), Duration::from_secs(5))
            .await
            .with_context(|| format!("connecting to redis-server on port {redis_port}"))?;
        let table = ModelTable::new(vec![SERIES_MODEL]);
        let mut batch = Batch::default();
        let now = am_store::unix_now();
        let mut total = 0u64;
        for (name, points) in series {
            for &(ts, value) in *points {
                let counts = batch.push(&table, [0], name, ts as f64, value, now);
                if counts.queued != 1 {
                    bail!("{name} {ts} {value} was not queued: {counts:?}");
                }
                total += 1;
            }
        }
        let report = write_batch(&mut conn, &table, &mut batch)
            .await
            .context("writing series")?;
        if report.stored != total || report.failed != 0 {
            bail!("wrote {total} points but Redis reports {report:?}");
        }
        Ok(())
    })
}
