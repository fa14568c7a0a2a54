//! Reading one KDL node: its children, its name argument, its fixed arguments and
//! properties. Every node decoder builds on these; this module imports no decoder.

use kdl::{KdlDocument, KdlEntry, KdlNode};
use miette::SourceSpan;

use super::entries::Entries;
use super::values;
use crate::decode::problems::{MissingArgument, UnknownNode};
use crate::diagnostic::suggest::did_you_mean;
use crate::diagnostic::{Diagnostics, Thing};
use crate::stack::Name;

/// The children of a node (none when it has no block).
pub fn children(node: &KdlNode) -> &[KdlNode] {
    node.children().map(KdlDocument::nodes).unwrap_or(&[])
}

pub fn unknown_node(node: &KdlNode, parent: &str, known: Vec<&'static str>, d: &mut Diagnostics) {
    let name = node.name().value();
    d.emit(
        UnknownNode {
            name: name.to_owned(),
            parent: parent.to_owned(),
            suggestion: did_you_mean(name, known.iter().copied()).map(str::to_owned),
            known,
        },
        node.name().span(),
    );
}

/// Reports a block on a node that takes none.
pub fn no_children(node: &KdlNode, d: &mut Diagnostics) {
    let parent = format!("`{}`", node.name().value());
    for child in children(node) {
        unknown_node(child, &parent, Vec::new(), d);
    }
}

/// A line with one argument, the properties `props` and no block, such as `swap
/// "/swap.img" size="128GiB"`: the argument and each property in `props`' order, each
/// `None` when absent (the caller says what a missing argument should be). Anything else
/// on the line is reported.
pub fn optional_arg_and_props<'a, const N: usize>(
    node: &'a KdlNode,
    props: [&'static str; N],
    d: &mut Diagnostics,
) -> (Option<&'a KdlEntry>, [Option<&'a KdlEntry>; N]) {
    leaf(node, 1, props, d)
}

/// Like [`optional_arg_and_props`], for a line of properties alone, such as `earlyoom prefer="…"`.
pub fn props_only<'a, const N: usize>(
    node: &'a KdlNode,
    props: [&'static str; N],
    d: &mut Diagnostics,
) -> [Option<&'a KdlEntry>; N] {
    leaf(node, 0, props, d).1
}

/// The first argument when the line takes one (`args` 0 or 1), and the properties.
fn leaf<'a, const N: usize>(
    node: &'a KdlNode,
    args: usize,
    props: [&'static str; N],
    d: &mut Diagnostics,
) -> (Option<&'a KdlEntry>, [Option<&'a KdlEntry>; N]) {
    let mut entries = Entries::new(node);
    let arg = if args == 0 { None } else { entries.arg(0) };
    let found = props.map(|p| entries.prop(p));
    entries.finish(args, &props, d);
    no_children(node, d);
    (arg, found)
}

/// A node of exactly `N` positional arguments, no properties and no block, such as
/// `port 8001`, `sysctl "vm.swappiness" "80"` or `quadlet "Unit" "Key" "value"`; `None`
/// (reported, saying `what` is expected) when one is missing.
pub fn args<'a, const N: usize>(
    node: &'a KdlNode,
    what: &'static str,
    d: &mut Diagnostics,
) -> Option<[&'a KdlEntry; N]> {
    args_and_props(node, what, &[], d).map(|(args, _)| args)
}

/// Like `args`, and also the properties `props` (each `None` when absent).
pub fn args_and_props<'a, const N: usize>(
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
        missing_argument(node, what, d);
    }
    all.map(|all| (all, props))
}

/// `` `node` needs WHAT ``, at the node's name.
pub fn missing_argument(node: &KdlNode, what: &'static str, d: &mut Diagnostics) {
    d.emit(
        MissingArgument {
            node: node.name().value().to_owned(),
            what,
        },
        node.name().span(),
    );
}

/// Every positional argument of a node that takes one or more (`after "a" "b"`) and no
/// properties or block; an empty list is reported, saying `what` is expected.
pub fn list<'a>(node: &'a KdlNode, what: &'static str, d: &mut Diagnostics) -> Vec<&'a KdlEntry> {
    let mut entries = Entries::new(node);
    let list = entries.args();
    entries.finish(1, &[], d);
    no_children(node, d);
    if list.is_empty() {
        missing_argument(node, what, d);
    }
    list
}

/// `secret=#false` on an `env` or `quadlet` line: the author says its value is no
/// credential, whatever it looks like. `true` when so marked.
pub fn marked_not_secret(entry: Option<&KdlEntry>, d: &mut Diagnostics) -> bool {
    entry
        .and_then(|e| values::boolean(e, "secret", d))
        .is_some_and(|secret| !secret.value)
}

/// A one-value field such as `port 8001`.
pub fn one_value<'a>(
    node: &'a KdlNode,
    what: &'static str,
    d: &mut Diagnostics,
) -> Option<&'a KdlEntry> {
    args::<1>(node, what, d).map(|[value]| value)
}

/// A two-argument node such as `sysctl "vm.swappiness" "80"` or `env "K" "V"`.
pub fn two_args<'a>(
    node: &'a KdlNode,
    what: &'static str,
    d: &mut Diagnostics,
) -> Option<(&'a KdlEntry, &'a KdlEntry)> {
    args::<2>(node, what, d).map(|[first, second]| (first, second))
}

/// The name argument of `agent "thor" { ... }` and its kin (no properties accepted).
pub fn named_node(node: &KdlNode, thing: Thing, d: &mut Diagnostics) -> Option<Name> {
    let mut entries = Entries::new(node);
    let name = entries.arg(0);
    entries.finish(1, &[], d);
    named_arg(node, name, thing, d)
}

/// A node's name argument, read by the caller among its other entries.
pub fn named_arg(
    node: &KdlNode,
    name: Option<&KdlEntry>,
    thing: Thing,
    d: &mut Diagnostics,
) -> Option<Name> {
    match name {
        Some(entry) => values::name(entry, thing, d),
        None => {
            missing_argument(node, "a name", d);
            None
        }
    }
}

/// How diagnostics name a named node: agent `thor`, or `agent` when its name is broken.
pub fn label(thing: Thing, name: Option<&Name>) -> String {
    match name {
        Some(name) => format!("{} `{}`", thing.noun(), name.value),
        None => format!("`{}`", thing.noun()),
    }
}

/// A span of zero length at the start of the file, for problems with no better place.
pub fn file_start() -> SourceSpan {
    SourceSpan::new(0.into(), 0)
}
