//! am-collector library (placeholder, being written).
