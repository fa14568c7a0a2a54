//! Two agents on one port.

use std::collections::HashMap;

use crate::check::problems::PortConflict;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::stack::Stack;

pub fn check(stack: &Stack, d: &mut Diagnostics) {
    let mut taken = HashMap::new();
    for agent in &stack.agents {
        let Some(port) = &agent.port else { continue };
        match taken.get(&port.value) {
            Some(&(first, span)) => d.push(
                Diagnostic::new(
                    PortConflict {
                        port: port.value,
                        first: String::from(first),
                        second: agent.name.value.clone(),
                    },
                    port.span,
                )
                .with_label(span, format!("`{first}` listens here")),
            ),
            None => {
                taken.insert(port.value, (agent.name.as_str(), port.span));
            }
        }
    }
}
