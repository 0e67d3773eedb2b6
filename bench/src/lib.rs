//! Benchmark tools (placeholder, being written).
