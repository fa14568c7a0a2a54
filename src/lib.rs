//! strixc: compile `stack.kdl` into systemd/quadlet units and OpenCode files, then activate.
//!
//! The pipeline, one module per stage:
//! source → parse → decode → check → plan → render → tree → write → activate.

pub mod apply;
pub mod budget;
pub mod build;
pub mod check;
pub mod cli;
pub mod commands;
pub mod compile;
pub mod decode;
pub mod diagnostic;
pub mod error;
pub mod gateway;
pub mod import;
pub mod manifest;
pub mod model;
pub mod parse;
pub mod plan;
pub mod render;
pub mod source;
pub mod suggest;
pub mod systemd;
pub mod tree;
pub mod units;
pub mod write;

pub use commands::run;
