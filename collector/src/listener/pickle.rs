//! `CarbonAsyncTcpSpout`: carbon's pickle protocol over TCP, as carbon-relay sends it.

use am_carbon::pickle::{Decoder, FrameSplitter};
use am_store::unix_now;
use am_store::writer::Batch;

use super::tcp::{Got, READ_CHUNK, TcpConn};
use super::warn::Kind;
use super::{RETAIN_POINTS, Tally};
use am_daemon::text::escaped;

/// Serves one connection until it closes, fails, idles, is evicted or shutdown.
pub(super) async fn connection(mut conn: TcpConn, max_frame: usize) {
    let ingest = conn.ingest().clone();
    let splitter = FrameSplitter::new(max_frame);
    let mut decoder = Decoder::new();
    let mut batch = Batch::default();
    loop {
        // Room for the rest of the frame being read, but past one chunk no more than has
        // arrived of it: a peer that announces 1 MiB and sends 10 bytes gets 64 KiB, not
        // 1 MiB. A bad prefix is refused below, after decoding what came before it.
        let needed = splitter.bytes_needed(&conn.buf).unwrap_or(0);
        let room = READ_CHUNK.max(needed.min(conn.buf.len()));
        match conn.read(room).await {
            Got::Bytes => {}
            Got::Eof => {
                if !conn.buf.is_empty() {
                    ingest.metrics.bad_frames.inc();
                    if let Some(a) = ingest
                        .warnings
                        .admit(Some(conn.peer.ip()), Kind::PartialFrame)
                    {
                        tracing::warn!(
                            peer = %conn.peer,
                            bytes = conn.buf.len(),
                            suppressed = a.suppressed,
                            "connection closed in the middle of a frame; partial frame dropped"
                        );
                    }
                }
                tracing::debug!(peer = %conn.peer, "pickle connection closed");
                return;
            }
            Got::Closed => return,
        }
        // Decode every complete frame buffered so far into one batch.
        let mut tally = Tally::default();
        let now = unix_now();
        let mut refused = None;
        let mut frames = 0;
        loop {
            match splitter.next_frame(&mut conn.buf) {
                Ok(Some(frame)) => {
                    frames += 1;
                    match decoder.decode(&frame, |name, ts, value| {
                        ingest.route(&mut batch, &mut tally, name, ts, value, now)
                    }) {
                        Ok(stats) => ingest
                            .metrics
                            .invalid_points
                            .add(stats.invalid_points as u64),
                        Err(e) => {
                            refused = Some(e.to_string());
                            break;
                        }
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    refused = Some(e.to_string());
                    break;
                }
            }
        }
        // Points of the good frames before a bad one are kept.
        let large = batch.points() > RETAIN_POINTS;
        ingest.submit_waiting(&mut batch, tally).await;
        if large {
            // A huge frame's batch would otherwise stay allocated for the connection's life.
            batch = Batch::default();
        }
        if let Some(reason) = refused {
            ingest.metrics.bad_frames.inc();
            ingest.metrics.connections_refused.inc();
            if let Some(a) = ingest.warnings.admit(Some(conn.peer.ip()), Kind::BadFrame) {
                tracing::warn!(
                    peer = %conn.peer,
                    reason = %escaped(&reason),
                    suppressed = a.suppressed,
                    bad_frames_from_peer = a.total,
                    "bad pickle frame; closing the connection"
                );
            }
            return;
        }
        if !conn.settle(frames) {
            return;
        }
    }
}
