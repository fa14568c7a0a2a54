//! KDL document → typed `Stack`. Hand-written (kdl's serde path loses spans and stops at
//! the first error): every problem is recorded and decoding goes on, so one run of
//! `strixc check` shows them all. One file per node kind.

mod agent;
mod entries;
mod host;
mod model;
mod profile;
mod runtime;
mod stack;
mod values;

pub use values::is_valid_name;

use kdl::{KdlDocument, KdlEntry, KdlNode};
use miette::SourceSpan;

use crate::diagnostic::{Diagnostics, Kind};
use crate::model::{QuadletEntry, Stack};
use crate::suggest::did_you_mean;
use entries::Entries;

/// Decodes the whole document. Always returns a stack, possibly partial; whether it can be
/// trusted is `!diagnostics.has_errors()`.
pub fn decode(document: &KdlDocument, d: &mut Diagnostics) -> Stack {
    stack::decode_document(document, d)
}

/// The children of a node (none when it has no block).
fn children(node: &KdlNode) -> &[KdlNode] {
    node.children().map(KdlDocument::nodes).unwrap_or(&[])
}

fn unknown_node(node: &KdlNode, parent: &str, known: &[&'static str], d: &mut Diagnostics) {
    let name = node.name().value();
    d.emit(
        Kind::UnknownNode {
            name: name.to_owned(),
            parent: parent.to_owned(),
            suggestion: did_you_mean(name, known.iter().copied()).map(str::to_owned),
            known: known.to_vec(),
        },
        node.name().span(),
    );
}

/// Reports a block on a node that takes none.
fn no_children(node: &KdlNode, d: &mut Diagnostics) {
    let parent = format!("`{}`", node.name().value());
    for child in children(node) {
        unknown_node(child, &parent, &[], d);
    }
}

/// A two-argument node such as `sysctl "vm.swappiness" "80"` or `env "K" "V"`: both
/// arguments, no properties, no block; `None` (reported) when one is missing.
fn two_args<'a>(
    node: &'a KdlNode,
    what: &'static str,
    d: &mut Diagnostics,
) -> Option<(&'a KdlEntry, &'a KdlEntry)> {
    let mut entries = Entries::new(node);
    let first = entries.arg(0);
    let second = entries.arg(1);
    entries.finish(2, &[], d);
    no_children(node, d);
    let pair = first.zip(second);
    if pair.is_none() {
        d.emit(
            Kind::MissingArgument {
                node: node.name().value().to_owned(),
                what,
            },
            node.name().span(),
        );
    }
    pair
}

/// A one-value field such as `port 8001`: exactly one argument, no properties, no block.
fn field<'a>(node: &'a KdlNode, what: &'static str, d: &mut Diagnostics) -> Option<&'a KdlEntry> {
    let mut entries = Entries::new(node);
    let value = entries.arg(0);
    entries.finish(1, &[], d);
    no_children(node, d);
    if value.is_none() {
        d.emit(
            Kind::MissingArgument {
                node: node.name().value().to_owned(),
                what,
            },
            node.name().span(),
        );
    }
    value
}

/// Reports a singleton field seen twice, even when both values were broken.
struct Seen(Vec<&'static str>);

impl Seen {
    fn new() -> Self {
        Seen(Vec::new())
    }

    /// True the first time `field` is seen; reports it otherwise.
    fn first(
        &mut self,
        field: &'static str,
        node: &KdlNode,
        parent: &str,
        d: &mut Diagnostics,
    ) -> bool {
        if self.0.contains(&field) {
            d.emit(
                Kind::DuplicateField {
                    node: parent.to_owned(),
                    field: field.to_owned(),
                },
                node.name().span(),
            );
            return false;
        }
        self.0.push(field);
        true
    }
}

/// The sections a `quadlet "Section" "Key" "value"` escape hatch may write into.
const QUADLET_SECTIONS: [&str; 5] = ["Unit", "Container", "Service", "Install", "Quadlet"];

/// `quadlet "Section" "Key" "value"`.
fn quadlet_entry(node: &KdlNode, d: &mut Diagnostics) -> Option<QuadletEntry> {
    let mut entries = Entries::new(node);
    let section = entries.arg(0);
    let key = entries.arg(1);
    let value = entries.arg(2);
    entries.finish(3, &[], d);
    no_children(node, d);
    let (Some(section), Some(key), Some(value)) = (section, key, value) else {
        d.emit(
            Kind::MissingArgument {
                node: "quadlet".into(),
                what: "a section, a key and a value",
            },
            node.name().span(),
        );
        return None;
    };
    let section = values::string(section, "a quadlet section", d);
    let key = values::string(key, "a quadlet key", d);
    let value = values::string(value, "a quadlet value", d);
    let mut ok = true;
    if let Some(s) = &section {
        if !QUADLET_SECTIONS.contains(&s.value.as_str()) {
            d.emit(
                Kind::InvalidQuadletSection {
                    section: s.value.clone(),
                    suggestion: did_you_mean(&s.value, QUADLET_SECTIONS).map(str::to_owned),
                },
                s.span,
            );
            ok = false;
        }
    }
    if let Some(k) = &key {
        let valid = k.value.starts_with(|c: char| c.is_ascii_alphabetic())
            && k.value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid {
            d.emit(
                Kind::InvalidQuadletKey {
                    key: k.value.clone(),
                },
                k.span,
            );
            ok = false;
        }
    }
    match (section, key, value) {
        (Some(section), Some(key), Some(value)) if ok => Some(QuadletEntry {
            section,
            key,
            value,
        }),
        _ => None,
    }
}

/// A span of zero length at the start of the file, for problems with no better place.
fn file_start() -> SourceSpan {
    SourceSpan::new(0.into(), 0)
}
