//! strixc: compile `stack.kdl` into systemd/quadlet units and OpenCode files, then activate.
//!
//! The pipeline, one module per stage:
//! source → parse → decode → check → plan → render → tree → write → activate.

pub mod budget;
pub mod error;
pub mod import;
pub mod manifest;
pub mod tree;
pub mod apply;
pub mod systemd;
pub mod decode;
pub mod diagnostic;
pub mod model;
pub mod parse;
pub mod source;
pub mod suggest;
pub mod units;
pub mod check;
pub mod compile;
pub mod plan;
pub mod cli;
pub mod commands;
pub mod build;
pub mod render;
pub mod write;

pub use commands::run;
