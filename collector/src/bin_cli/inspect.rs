//! `am-collector inspect`: what is stored, read back through the same layout the runner reads.

use std::io::Write;
use std::time::Duration;

use am_collector::config::CollectorConfig;
use am_daemon::text::escaped;
use am_store::{Pattern, Reader, unix_now};
use anyhow::Context;

/// Prints `name timestamp value` for every stored point of the matching series, oldest first
/// per series, series in name order (then model), optionally only those of one model. Names
/// are escaped ([`escaped`]): a name cannot forge a line or reach the terminal's controls.
pub fn inspect(
    config: &CollectorConfig,
    pattern: &str,
    since: Option<u64>,
    model: Option<&str>,
) -> anyhow::Result<()> {
    let pattern = Pattern::parse(pattern).context("bad PATTERN")?;
    let model = match model {
        Some(tag) => Some(am_store::Model::from_tag(tag).with_context(|| {
            format!("bad --model {tag:?}: expected a tag like r86400 or i300r86400")
        })?),
        None => None,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let addr = config.writer.redis().addr();
    rt.block_on(async {
        // The store's error names the address already.
        let mut reader = Reader::connect(&addr, Duration::from_secs(5)).await?;
        let mut ids = reader.find(&pattern).await.context("looking up names")?;
        if let Some(m) = model {
            ids.retain(|id| id.model == m);
        }
        let now = unix_now();
        let from = since.map_or(i64::MIN, |s| now - i64::try_from(s).unwrap_or(i64::MAX));
        let until = i64::MAX;
        let stdout = std::io::stdout();
        let mut out = std::io::BufWriter::new(stdout.lock());
        for chunk in ids.chunks(500) {
            let series = reader
                .read_many(chunk, from, until)
                .await
                .context("reading series")?;
            for (id, points) in chunk.iter().zip(series) {
                for p in points {
                    writeln!(out, "{} {} {}", escaped(&id.name), p.ts, p.value)?;
                }
            }
        }
        out.flush()?;
        Ok(())
    })
}
