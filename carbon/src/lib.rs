//! Carbon wire protocols (placeholder, being written).
