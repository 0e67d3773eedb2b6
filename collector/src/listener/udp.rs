//! `CarbonPlaintextUdpSpout`: carbon's plaintext protocol over UDP, lines in datagrams.
//!
//! UDP has no backpressure: when the write buffer is full, datagrams are dropped and counted.

use std::sync::Arc;

use am_store::unix_now;
use am_store::writer::Batch;
use tokio::net::UdpSocket;

use super::line::{bad_line, take_line};
use super::{Ingest, Shutdown, Tally, stopped};

/// Receives datagrams until shutdown.
pub(super) async fn serve_udp(
    socket: UdpSocket,
    max_line: usize,
    ingest: Arc<Ingest>,
    mut shutdown: Shutdown,
) {
    let mut buf = vec![0u8; 65536];
    let mut batch = Batch::default();
    loop {
        tokio::select! {
            got = socket.recv_from(&mut buf) => match got {
                Ok((n, peer)) => {
                    let mut tally = Tally::default();
                    let now = unix_now();
                    for line in buf[..n].split(|b| *b == b'\n') {
                        if line.len() > max_line {
                            bad_line(&ingest, peer, "line too long");
                            continue;
                        }
                        take_line(&ingest, &mut batch, &mut tally, line, now, peer);
                    }
                    ingest.submit_or_drop(&mut batch, tally, peer);
                }
                Err(e) => {
                    tracing::debug!(error = %e, "UDP receive failed");
                }
            },
            _ = stopped(&mut shutdown) => return,
        }
    }
}
