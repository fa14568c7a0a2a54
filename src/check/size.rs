//! The stack's size, bounded: every agent's unit is `After=` every agent before it (one
//! start order) and every profile target lists the agents it stops, so the generated units
//! grow with agents × (agents + profiles). A machine runs a handful of models; past these
//! bounds the build would write megabytes per unit, so `check` refuses instead.

use crate::check::problems::StackTooLarge;
use crate::diagnostic::Diagnostics;
use crate::stack::Stack;

pub const MAX_AGENTS: usize = 256;
pub const MAX_PROFILES: usize = 256;

pub fn check(stack: &Stack, d: &mut Diagnostics) {
    if let Some(first_over) = stack.agents.get(MAX_AGENTS) {
        d.emit(
            StackTooLarge {
                what: "agents",
                count: stack.agents.len(),
                limit: MAX_AGENTS,
            },
            first_over.name.span,
        );
    }
    if let Some(first_over) = stack.profiles.get(MAX_PROFILES) {
        d.emit(
            StackTooLarge {
                what: "profiles",
                count: stack.profiles.len(),
                limit: MAX_PROFILES,
            },
            first_over.name.span,
        );
    }
}
