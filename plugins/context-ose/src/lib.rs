//! `ContextOSE` plugin (doc below).
pub mod model;
pub mod pydict;
