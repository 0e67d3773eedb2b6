//! Test harness (placeholder, being written).
