//! `CarbonPlaintextTcpSpout`: carbon's plaintext protocol over TCP (`name value timestamp\n`),
//! what carbon-c-relay and most applications send.

use std::net::SocketAddr;

use am_carbon::plaintext::{LineError, LineSplitter, parse_line};
use am_store::unix_now;
use am_store::writer::Batch;

use super::tcp::{Got, READ_CHUNK, TcpConn};
use super::warn::Kind;
use super::{Ingest, RETAIN_POINTS, Tally};
use am_daemon::text::escaped;

/// Parses one line into `batch`; a bad line is counted and, within limits, logged.
pub(super) fn take_line(
    ingest: &Ingest,
    batch: &mut Batch,
    tally: &mut Tally,
    line: &[u8],
    now: i64,
    peer: SocketAddr,
) {
    match parse_line(line) {
        Ok((name, value, ts)) => ingest.route(batch, tally, name, ts, value, now),
        Err(LineError::Empty) => {}
        Err(LineError::NanValue { .. }) => ingest.metrics.nan_points.inc(),
        Err(e) => bad_line(ingest, peer, &e.to_string()),
    }
}

/// Counts a bad line and logs it, rate-limited per peer (not per connection: reconnecting
/// does not reset the limit).
pub(super) fn bad_line(ingest: &Ingest, peer: SocketAddr, reason: &str) {
    ingest.metrics.bad_lines.inc();
    if let Some(a) = ingest.warnings.admit(Some(peer.ip()), Kind::BadLine) {
        tracing::warn!(
            %peer,
            reason = %escaped(reason),
            suppressed = a.suppressed,
            bad_lines_from_peer = a.total,
            "skipped a bad plaintext line"
        );
    }
}

/// Serves one connection until it closes, fails, idles, is evicted or shutdown.
pub(super) async fn connection(mut conn: TcpConn, max_line: usize) {
    let ingest = conn.ingest().clone();
    let peer = conn.peer;
    let mut splitter = LineSplitter::new(max_line);
    let mut batch = Batch::default();
    loop {
        match conn.read(READ_CHUNK).await {
            Got::Bytes => {}
            Got::Eof => {
                // Carbon drops a last line without its newline; we take it (`echo -n` is
                // a common way to send one point), unless it was over-long.
                if !conn.buf.is_empty() && conn.buf.len() <= max_line {
                    let mut tally = Tally::default();
                    take_line(&ingest, &mut batch, &mut tally, &conn.buf, unix_now(), peer);
                    ingest.submit_waiting(&mut batch, tally).await;
                }
                return;
            }
            Got::Closed => return,
        }
        let mut tally = Tally::default();
        let now = unix_now();
        let mut lines = 0;
        splitter.for_each_line(&mut conn.buf, |line| {
            lines += 1;
            match line {
                Ok(line) => take_line(&ingest, &mut batch, &mut tally, line, now, peer),
                Err(e) => bad_line(&ingest, peer, &e.to_string()),
            }
        });
        let large = batch.points() > RETAIN_POINTS;
        ingest.submit_waiting(&mut batch, tally).await;
        if large {
            batch = Batch::default();
        }
        if !conn.settle(lines) {
            return;
        }
    }
}
