//! Store (placeholder, being written).
