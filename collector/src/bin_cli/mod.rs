//! The binary's commands.

pub mod inspect;
pub mod run;
