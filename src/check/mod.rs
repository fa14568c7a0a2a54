//! Checks over the decoded stack: every rule that needs more than one node to decide.
//! Each file holds one family of rules; all of them run, whatever the others found.

mod gateway;
mod hardware;
mod host;
mod numbers;
mod ports;
pub mod problems;
mod profiles;
mod quadlet;
mod quadlet_keys;
mod references;
mod security;
mod size;
mod units;

pub use size::{MAX_AGENTS, MAX_PROFILES};

use crate::diagnostic::Diagnostics;
use crate::stack::Stack;

/// The structural rules (names, references, cycles, ports, numbers, hardware, security).
/// The memory budget needs a plan and is judged there: see `plan::budget::check_budget`.
pub fn check(stack: &Stack, d: &mut Diagnostics) {
    references::check(stack, d);
    profiles::check(stack, d);
    ports::check(stack, d);
    numbers::check(stack, d);
    hardware::check(stack, d);
    host::check(stack, d);
    security::check(stack, d);
    units::check(stack, d);
    quadlet::check(stack, d);
    size::check(stack, d);
    gateway::check(stack, d);
}
