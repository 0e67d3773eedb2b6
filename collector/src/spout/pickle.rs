//! `CarbonAsyncTcpSpout`: carbon's pickle protocol over TCP, as carbon-relay sends it.

use std::net::SocketAddr;
use std::sync::Arc;

use am_carbon::pickle::{Decoder, FrameSplitter};
use am_store::unix_now;
use am_store::writer::Batch;
use bytes::BytesMut;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

use super::{Ingest, Shutdown, Tally, stopped};

/// Read buffer growth step; frames above it get exactly their announced size reserved.
const READ_CHUNK: usize = 64 * 1024;

/// Serves one connection until it closes, fails or shutdown.
pub(super) async fn connection(
    mut stream: TcpStream,
    peer: SocketAddr,
    max_frame: usize,
    ingest: Arc<Ingest>,
    mut shutdown: Shutdown,
) {
    let splitter = FrameSplitter::new(max_frame);
    let mut decoder = Decoder::new();
    let mut buf = BytesMut::with_capacity(READ_CHUNK);
    let mut batch = Batch::default();
    loop {
        // Decode every complete frame buffered so far into one batch.
        let mut tally = Tally::default();
        let now = unix_now();
        let mut refused = None;
        loop {
            match splitter.next_frame(&mut buf) {
                Ok(Some(frame)) => {
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
        ingest.submit_waiting(&mut batch, tally).await;
        if let Some(reason) = refused {
            ingest.metrics.bad_frames.inc();
            ingest.metrics.connections_refused.inc();
            tracing::warn!(%peer, reason = %reason, "bad pickle frame; closing the connection");
            return;
        }
        // The prefix was validated above, so this never exceeds the frame limit.
        let want = splitter.bytes_needed(&buf).unwrap_or(0).max(READ_CHUNK);
        if buf.capacity() - buf.len() < want {
            buf.reserve(want);
        }
        tokio::select! {
            read = stream.read_buf(&mut buf) => match read {
                Ok(0) => {
                    if !buf.is_empty() {
                        ingest.metrics.bad_frames.inc();
                        tracing::warn!(%peer, bytes = buf.len(), "connection closed in the middle of a frame; partial frame dropped");
                    }
                    tracing::debug!(%peer, "pickle connection closed");
                    return;
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::debug!(%peer, error = %e, "pickle connection read failed");
                    return;
                }
            },
            _ = stopped(&mut shutdown) => return,
        }
    }
}
