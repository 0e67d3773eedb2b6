//! `CarbonPlaintextTcpSpout`: carbon's plaintext protocol over TCP (`name value timestamp\n`),
//! what carbon-c-relay and most applications send.

use std::net::SocketAddr;
use std::sync::Arc;

use am_carbon::plaintext::{LineError, LineSplitter, parse_line};
use am_store::unix_now;
use am_store::writer::Batch;
use bytes::BytesMut;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

use super::{Ingest, Shutdown, Tally, stopped};

/// Bad lines logged per connection before logging only every 1000th.
const LOG_FIRST: u64 = 10;

/// Parses one line into `batch`; a bad line is counted and, within limits, logged.
pub(super) fn take_line(
    ingest: &Ingest,
    batch: &mut Batch,
    tally: &mut Tally,
    line: &[u8],
    now: i64,
    peer: SocketAddr,
    bad: &mut u64,
) {
    match parse_line(line) {
        Ok((name, value, ts)) => ingest.route(batch, tally, name, ts, value, now),
        Err(LineError::Empty) => {}
        Err(LineError::NanValue { .. }) => ingest.metrics.nan_points.inc(),
        Err(e) => bad_line(ingest, peer, bad, &e.to_string()),
    }
}

pub(super) fn bad_line(ingest: &Ingest, peer: SocketAddr, bad: &mut u64, reason: &str) {
    ingest.metrics.bad_lines.inc();
    *bad += 1;
    if *bad <= LOG_FIRST || (*bad).is_multiple_of(1000) {
        tracing::warn!(%peer, reason, bad_lines_from_peer = *bad, "skipped a bad plaintext line");
    }
}

/// Serves one connection until it closes, fails or shutdown.
pub(super) async fn connection(
    mut stream: TcpStream,
    peer: SocketAddr,
    max_line: usize,
    ingest: Arc<Ingest>,
    mut shutdown: Shutdown,
) {
    let mut splitter = LineSplitter::new(max_line);
    let mut buf = BytesMut::with_capacity(64 * 1024);
    let mut bad = 0u64;
    let mut batch = Batch::default();
    loop {
        let mut tally = Tally::default();
        let now = unix_now();
        splitter.for_each_line(&mut buf, |line| match line {
            Ok(line) => take_line(&ingest, &mut batch, &mut tally, line, now, peer, &mut bad),
            Err(e) => bad_line(&ingest, peer, &mut bad, &e.to_string()),
        });
        ingest.submit_waiting(&mut batch, tally).await;
        if buf.capacity() - buf.len() < 16 * 1024 {
            buf.reserve(64 * 1024);
        }
        tokio::select! {
            read = stream.read_buf(&mut buf) => match read {
                Ok(0) => {
                    // Carbon drops a last line without its newline; we take it (`echo -n` is
                    // a common way to send one point), unless it was over-long.
                    if !buf.is_empty() && buf.len() <= max_line {
                        let mut tally = Tally::default();
                        take_line(&ingest, &mut batch, &mut tally, &buf, unix_now(), peer, &mut bad);
                        ingest.submit_waiting(&mut batch, tally).await;
                    }
                    return;
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::debug!(%peer, error = %e, "plaintext connection read failed");
                    return;
                }
            },
            _ = stopped(&mut shutdown) => return,
        }
    }
}
