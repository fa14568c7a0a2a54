//! One table per node kind: each child the node takes, with its one-line doc, whether it
//! is required or repeatable, and how it is decoded into the node's value. One driver
//! walks a node's children with its table: unknown children (with "did you mean" from the
//! table's names), a single field set twice, and missing required fields are reported
//! here, the same way for every node.

use kdl::{KdlEntry, KdlNode};
use miette::SourceSpan;

use super::entries::Entries;
use super::node::{children, label, named_node, one_value, unknown_node};
use crate::decode::problems::{DuplicateField, MissingField};
use crate::diagnostic::{Diagnostics, Thing};
use crate::stack::Name;

/// One child a node takes.
pub struct Field<T> {
    /// Its KDL name.
    pub name: &'static str,
    /// What it sets, in one line.
    pub doc: &'static str,
    pub required: bool,
    pub repeatable: bool,
    read: Read<T>,
}

enum Read<T> {
    /// `name VALUE`: exactly one argument; `expects` says what when it is missing.
    Value {
        expects: &'static str,
        decode: fn(&mut T, &KdlEntry, &mut Diagnostics),
    },
    /// The whole line, for arguments and properties of its own.
    Node(fn(&mut T, &KdlNode, &mut Diagnostics)),
}

/// A field's name and doc, then what it takes: `field("port", "...").required().one(...)`
/// (the builder comes first so that the table's type tells each closure its argument).
pub const fn field(name: &'static str, doc: &'static str) -> Spec {
    Spec {
        name,
        doc,
        required: false,
        expects: "a value",
    }
}

/// A field being declared; `one`, `each`, `node` or `many` completes it.
pub struct Spec {
    name: &'static str,
    doc: &'static str,
    required: bool,
    expects: &'static str,
}

impl Spec {
    /// The node is incomplete without it.
    pub const fn required(mut self) -> Self {
        self.required = true;
        self
    }

    /// For a `name VALUE` field, what a missing value is called ("a size"; default "a
    /// value").
    pub const fn expects(mut self, what: &'static str) -> Self {
        self.expects = what;
        self
    }

    const fn read<T>(self, repeatable: bool, read: Read<T>) -> Field<T> {
        Field {
            name: self.name,
            doc: self.doc,
            required: self.required,
            repeatable,
            read,
        }
    }

    /// `name VALUE`, at most once.
    pub const fn one<T>(self, decode: fn(&mut T, &KdlEntry, &mut Diagnostics)) -> Field<T> {
        let expects = self.expects;
        self.read(false, Read::Value { expects, decode })
    }

    /// `name VALUE`, any number of times.
    pub const fn each<T>(self, decode: fn(&mut T, &KdlEntry, &mut Diagnostics)) -> Field<T> {
        let expects = self.expects;
        self.read(true, Read::Value { expects, decode })
    }

    /// A line with arguments or properties of its own, at most once.
    pub const fn node<T>(self, decode: fn(&mut T, &KdlNode, &mut Diagnostics)) -> Field<T> {
        self.read(false, Read::Node(decode))
    }

    /// A line with arguments or properties of its own, any number of times.
    pub const fn many<T>(self, decode: fn(&mut T, &KdlNode, &mut Diagnostics)) -> Field<T> {
        self.read(true, Read::Node(decode))
    }
}

/// The single fields met, each with the span of its first line.
pub struct Seen<'t, T> {
    fields: &'t [Field<T>],
    first: Vec<(&'static str, SourceSpan)>,
}

impl<T> Seen<'_, T> {
    pub fn contains(&self, name: &str) -> bool {
        self.span(name).is_some()
    }

    /// Where the field was first set.
    pub fn span(&self, name: &str) -> Option<SourceSpan> {
        self.first.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
    }

    /// The required fields never set, in table order.
    pub fn missing(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.fields
            .iter()
            .filter(|f| f.required && !self.contains(f.name))
            .map(|f| f.name)
    }

    /// Reports each required field never set, on `node` (as diagnostics name it) at `span`.
    pub fn require(&self, node: &str, span: SourceSpan, d: &mut Diagnostics) {
        for field in self.missing() {
            d.emit(
                MissingField {
                    node: node.to_owned(),
                    field,
                },
                span,
            );
        }
    }
}

/// Decodes a node's children (`nodes`) into `target` by the table `fields`; `parent` is
/// how diagnostics name the node (agent `thor`, `host`). Returns what was set, for the
/// required fields and any rule across fields.
pub fn decode<'t, T>(
    nodes: &[KdlNode],
    parent: &str,
    fields: &'t [Field<T>],
    target: &mut T,
    d: &mut Diagnostics,
) -> Seen<'t, T> {
    let mut seen = Seen {
        fields,
        first: Vec::new(),
    };
    for child in nodes {
        let name = child.name().value();
        let Some(field) = fields.iter().find(|f| f.name == name) else {
            unknown_node(child, parent, fields.iter().map(|f| f.name).collect(), d);
            continue;
        };
        if !field.repeatable {
            if seen.contains(field.name) {
                d.emit(
                    DuplicateField {
                        node: parent.to_owned(),
                        field: field.name.to_owned(),
                    },
                    child.name().span(),
                );
                continue;
            }
            seen.first.push((field.name, child.name().span()));
        }
        match field.read {
            Read::Value { expects, decode } => {
                if let Some(entry) = one_value(child, expects, d) {
                    decode(target, entry, d);
                }
            }
            Read::Node(decode) => decode(target, child, d),
        }
    }
    seen
}

/// `agent "thor" { ... }` and its kin: the name, then the children by `fields`, then the
/// required fields never set, reported at the name. `None` when the name is missing or
/// invalid (reported).
pub fn named<T: Default>(
    node: &KdlNode,
    thing: Thing,
    fields: &[Field<T>],
    d: &mut Diagnostics,
) -> Option<(Name, T)> {
    let name = named_node(node, thing, d);
    let label = label(thing, name.as_ref());
    let mut value = T::default();
    let seen = decode(children(node), &label, fields, &mut value, d);
    let name = name?;
    seen.require(&label, name.span, d);
    Some((name, value))
}

/// `host { ... }`, `gateway { ... }`: a node of children only, decoded into `value` (which
/// already holds the node's span); required fields never set are reported at its name.
pub fn block<T>(
    node: &KdlNode,
    parent: &str,
    fields: &[Field<T>],
    mut value: T,
    d: &mut Diagnostics,
) -> T {
    // The node takes no argument: there is one of it per stack.
    Entries::new(node).finish(0, &[], d);
    let seen = decode(children(node), parent, fields, &mut value, d);
    seen.require(parent, node.name().span(), d);
    value
}

/// What a table says of one field, for the language's reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldDoc {
    pub name: &'static str,
    pub doc: &'static str,
    pub required: bool,
    pub repeatable: bool,
}

pub fn docs<T>(fields: &[Field<T>]) -> Vec<FieldDoc> {
    fields
        .iter()
        .map(|f| FieldDoc {
            name: f.name,
            doc: f.doc,
            required: f.required,
            repeatable: f.repeatable,
        })
        .collect()
}
