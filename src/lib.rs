//! strixc: compile `stack.kdl` into systemd/quadlet units and OpenCode files, then activate.
//!
//! The pipeline, one module per stage, in the order a stack flows through them
//! (ARCHITECTURE.md walks through each stage and the type it hands on):
//! source (text, KDL parse) → decode (typed [`stack::Stack`]) → check → plan (with the
//! memory budget) → render (unit text) → tree (files, manifest, disk) → activate (systemd).
//! `compile` runs the pure front half; `cli` is the command line; `gateway` is
//! `strixc serve`; `import` reads a model folder into a `model` node.

pub mod activate;
pub mod check;
pub mod decode;
pub mod plan;
pub mod render;
pub mod source;
pub mod stack;
pub mod tree;

pub mod compile;
pub mod diagnostic;
pub mod error;

pub mod cli;
pub mod gateway;
pub mod import;

pub use cli::run;
