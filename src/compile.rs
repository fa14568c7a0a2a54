//! The pure front half of the pipeline: source → parse → decode → check → plan → budget.

use crate::check;
use crate::decode;
use crate::diagnostic::{Diagnostics, Kind};
use crate::model::Stack;
use crate::parse;
use crate::source::Source;

/// A stack that decoded and passed every check (warnings may remain).
#[derive(Debug)]
pub struct Checked {
    pub stack: Stack,
    pub warnings: Diagnostics,
}

/// Everything wrong with the stack, or the stack with its warnings.
pub fn compile(source: &Source) -> Result<Checked, Diagnostics> {
    let mut d = Diagnostics::new();
    let Some(document) = parse::parse(source, &mut d) else {
        return Err(d);
    };
    let stack = decode::decode(&document, &mut d);
    check::check(&stack, &mut d);
    if d.has_errors() {
        return Err(d);
    }
    match crate::plan::plan(&stack) {
        Some(plan) => check::check_budget(&plan, &mut d),
        None => d.emit(
            Kind::Internal {
                message: "the checked stack could not be planned".into(),
            },
            (0, 0),
        ),
    }
    if d.has_errors() {
        return Err(d);
    }
    Ok(Checked { stack, warnings: d })
}
