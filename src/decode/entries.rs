//! Reading one KDL node's arguments and properties, checking each off as it is read so
//! that whatever is left can be reported (unknown property, unexpected argument).

use kdl::{KdlEntry, KdlNode, KdlValue};

use crate::decode::problems::{UnexpectedArgument, UnknownProperty};
use crate::diagnostic::Diagnostics;
use crate::diagnostic::suggest::did_you_mean;

pub struct Entries<'a> {
    node: &'a KdlNode,
    used: Vec<bool>,
}

impl<'a> Entries<'a> {
    pub fn new(node: &'a KdlNode) -> Self {
        Entries {
            node,
            used: vec![false; node.entries().len()],
        }
    }

    /// The `index`-th positional argument.
    pub fn arg(&mut self, index: usize) -> Option<&'a KdlEntry> {
        let (position, entry) = self
            .node
            .entries()
            .iter()
            .enumerate()
            .filter(|(_, e)| e.name().is_none())
            .nth(index)?;
        self.used[position] = true;
        Some(entry)
    }

    /// Every positional argument.
    pub fn args(&mut self) -> Vec<&'a KdlEntry> {
        let mut out = Vec::new();
        for (position, entry) in self.node.entries().iter().enumerate() {
            if entry.name().is_none() {
                self.used[position] = true;
                out.push(entry);
            }
        }
        out
    }

    /// The property `key=…`; when written twice, KDL says the last one wins.
    pub fn prop(&mut self, key: &str) -> Option<&'a KdlEntry> {
        let mut found = None;
        for (position, entry) in self.node.entries().iter().enumerate() {
            if entry.name().is_some_and(|n| n.value() == key) {
                self.used[position] = true;
                found = Some(entry);
            }
        }
        found
    }

    /// Reports every entry nobody read. `expected_args` is how many arguments the node
    /// takes, for the message; `known_props` feeds "did you mean".
    pub fn finish(self, expected_args: usize, known_props: &[&'static str], d: &mut Diagnostics) {
        let node_name = self.node.name().value();
        for (entry, used) in self.node.entries().iter().zip(self.used) {
            if used {
                continue;
            }
            match entry.name() {
                Some(key) => d.emit(
                    UnknownProperty {
                        name: key.value().to_owned(),
                        node: node_name.to_owned(),
                        suggestion: did_you_mean(key.value(), known_props.iter().copied())
                            .map(str::to_owned),
                        known: known_props.to_vec(),
                    },
                    key.span(),
                ),
                None => d.emit(
                    UnexpectedArgument {
                        node: node_name.to_owned(),
                        expected: expected_args,
                    },
                    entry.span(),
                ),
            }
        }
    }
}

/// The KDL type name of a value, for "must be X, not Y".
pub fn type_name(value: &KdlValue) -> &'static str {
    match value {
        KdlValue::String(_) => "a string",
        KdlValue::Integer(_) => "an integer",
        KdlValue::Float(_) => "a decimal number",
        KdlValue::Bool(_) => "a boolean",
        KdlValue::Null => "#null",
    }
}
