//! Pickle decode throughput on a real carbon-relay frame (500 points), one core.
//!
//! `cargo run --release -p am-carbon --example decode_bench`; the last line is
//! `pickle_decode_points_per_s N points/s`.
#![allow(clippy::print_stdout, clippy::expect_used)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use am_carbon::pickle::{Decoder, FrameSplitter};
use bytes::BytesMut;

fn main() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/fixtures/carbon/carbon-relay-batch-000.bin"
    );
    let frame = std::fs::read(path).expect("read carbon-relay-batch-000.bin");
    let mut buf = BytesMut::from(&frame[..]);
    let payload = FrameSplitter::default()
        .next_frame(&mut buf)
        .expect("valid frame")
        .expect("complete frame");

    let mut decoder = Decoder::new();
    let mut checksum = 0.0;
    let mut run = |duration: Duration| {
        let (start, mut frames, mut points) = (Instant::now(), 0u64, 0u64);
        while start.elapsed() < duration {
            for _ in 0..64 {
                let stats = decoder
                    .decode(black_box(&payload), |name, ts, value| {
                        checksum += ts + value + name.len() as f64;
                    })
                    .expect("decodes");
                points += stats.points as u64;
                frames += 1;
            }
        }
        (frames, points, start.elapsed())
    };
    run(Duration::from_millis(300)); // warm up
    let (frames, points, elapsed) = run(Duration::from_secs(2));

    // For comparison: a fresh decoder per frame, as `decode_frame` does.
    let start = Instant::now();
    let mut fresh_points = 0u64;
    while start.elapsed() < Duration::from_millis(500) {
        let stats = am_carbon::decode_frame(black_box(&payload), |_, ts, _| checksum += ts)
            .expect("decodes");
        fresh_points += stats.points as u64;
    }
    let fresh_rate = fresh_points as f64 / start.elapsed().as_secs_f64();
    println!("decode_frame (fresh decoder per frame): {fresh_rate:.0} points/s");
    let rate = points as f64 / elapsed.as_secs_f64();
    println!(
        "frames {frames} in {:.3} s ({:.1} us/frame), checksum {checksum:.0}",
        elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1e6 / frames as f64
    );
    println!("pickle_decode_points_per_s {rate:.0} points/s");
}
