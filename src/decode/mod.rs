//! KDL document → typed `Stack`. Hand-written (kdl's serde path loses spans and stops at
//! the first error): every problem is recorded and decoding goes on, so one run of
//! `strixc check` shows them all. One file per node kind.

mod agent;
mod entries;
mod gateway;
mod host;
mod model;
pub mod problems;
mod profile;
mod runtime;
mod stack;
mod values;

pub use values::is_valid_name;

use kdl::{KdlDocument, KdlEntry, KdlNode};
use miette::SourceSpan;

use crate::decode::problems::{
    DuplicateField, InvalidQuadletKey, InvalidQuadletSection, MissingArgument, UnknownNode,
};
use crate::diagnostic::Diagnostics;
use crate::diagnostic::suggest::did_you_mean;
use crate::stack::{QuadletEntry, Stack};
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
        UnknownNode {
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

/// A node of exactly `N` positional arguments, no properties and no block, such as
/// `port 8001`, `sysctl "vm.swappiness" "80"` or `quadlet "Unit" "Key" "value"`; `None`
/// (reported, saying `what` is expected) when one is missing.
fn args<'a, const N: usize>(
    node: &'a KdlNode,
    what: &'static str,
    d: &mut Diagnostics,
) -> Option<[&'a KdlEntry; N]> {
    args_and_props(node, what, &[], d).map(|(args, _)| args)
}

/// Like `args`, and also the properties `props` (each `None` when absent).
fn args_and_props<'a, const N: usize>(
    node: &'a KdlNode,
    what: &'static str,
    known: &[&'static str],
    d: &mut Diagnostics,
) -> Option<([&'a KdlEntry; N], Vec<Option<&'a KdlEntry>>)> {
    let mut entries = Entries::new(node);
    let found: [Option<&KdlEntry>; N] = std::array::from_fn(|i| entries.arg(i));
    let props: Vec<Option<&KdlEntry>> = known.iter().map(|p| entries.prop(p)).collect();
    entries.finish(N, known, d);
    no_children(node, d);
    let all: Option<[&KdlEntry; N]> = found
        .into_iter()
        .collect::<Option<Vec<_>>>()
        .and_then(|entries| entries.try_into().ok());
    if all.is_none() {
        d.emit(
            MissingArgument {
                node: node.name().value().to_owned(),
                what,
            },
            node.name().span(),
        );
    }
    all.map(|all| (all, props))
}

/// `secret=#false` on an `env` or `quadlet` line: the author says its value is no
/// credential, whatever it looks like. `true` when so marked.
fn marked_not_secret(entry: Option<&KdlEntry>, d: &mut Diagnostics) -> bool {
    entry
        .and_then(|e| values::boolean(e, "secret", d))
        .is_some_and(|secret| !secret.value)
}

/// A one-value field such as `port 8001`.
fn field<'a>(node: &'a KdlNode, what: &'static str, d: &mut Diagnostics) -> Option<&'a KdlEntry> {
    args::<1>(node, what, d).map(|[value]| value)
}

/// A two-argument node such as `sysctl "vm.swappiness" "80"` or `env "K" "V"`.
fn two_args<'a>(
    node: &'a KdlNode,
    what: &'static str,
    d: &mut Diagnostics,
) -> Option<(&'a KdlEntry, &'a KdlEntry)> {
    args::<2>(node, what, d).map(|[first, second]| (first, second))
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
                DuplicateField {
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
    let ([section, key, value], props) =
        args_and_props::<3>(node, "a section, a key and a value", &["secret"], d)?;
    let not_secret = marked_not_secret(props[0], d);
    let section = values::string(section, "a quadlet section", d);
    let key = values::string(key, "a quadlet key", d);
    let value = values::string(value, "a quadlet value", d);
    let mut ok = true;
    if let Some(s) = &section {
        if !QUADLET_SECTIONS.contains(&s.value.as_str()) {
            d.emit(
                InvalidQuadletSection {
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
                InvalidQuadletKey {
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
            not_secret,
        }),
        _ => None,
    }
}

/// A span of zero length at the start of the file, for problems with no better place.
fn file_start() -> SourceSpan {
    SourceSpan::new(0.into(), 0)
}
