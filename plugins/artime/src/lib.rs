//! `ARTime` plugin (placeholder doc, completed below).
pub mod dvfa;
pub mod model;
