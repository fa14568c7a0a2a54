//! The stack's size: how many agents and profiles the generated units can list.

use crate::diagnostic::problem;

problem! {
    /// More agents or profiles than the generated units can list one another.
    StackTooLarge { what: &'static str, count: usize, limit: usize },
    code: "strixc::stack::too_large",
    message: "the stack declares {count} {what}; strixc builds stacks of at most {limit}",
    label: { format!("number {} starts here", limit + 1) },
    help: "each agent's unit names every agent before it and each profile's target every agent it stops, so the units grow with the square of the stack: split it into stacks of fewer agents and profiles",
}
