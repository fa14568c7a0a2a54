//! `quadlet "Section" "Key" "value"`: the escape hatch agents and runtimes share.

use kdl::KdlNode;

use super::node::{args_and_props, marked_not_secret};
use super::values;
use crate::decode::problems::{InvalidQuadletKey, InvalidQuadletSection};
use crate::diagnostic::Diagnostics;
use crate::diagnostic::suggest::did_you_mean;
use crate::stack::QuadletEntry;

/// The sections a `quadlet "Section" "Key" "value"` escape hatch may write into.
pub(crate) const QUADLET_SECTIONS: [&str; 5] =
    ["Unit", "Container", "Service", "Install", "Quadlet"];

/// `quadlet "Section" "Key" "value"`.
pub fn quadlet_entry(node: &KdlNode, d: &mut Diagnostics) -> Option<QuadletEntry> {
    let ([section, key, value], props) =
        args_and_props::<3>(node, "a section, a key and a value", &["secret"], d)?;
    let not_secret = marked_not_secret(props[0], d);
    let section = values::string(section, "a quadlet section", d);
    let key = values::string(key, "a quadlet key", d);
    let value = values::string(value, "a quadlet value", d);
    let mut ok = true;
    if let Some(s) = &section
        && !QUADLET_SECTIONS.contains(&s.value.as_str())
    {
        d.emit(
            InvalidQuadletSection {
                section: s.value.clone(),
                suggestion: did_you_mean(&s.value, QUADLET_SECTIONS).map(str::to_owned),
            },
            s.span,
        );
        ok = false;
    }
    if let Some(k) = &key {
        let valid = k.value.starts_with(|c: char| c.is_ascii_alphabetic())
            && values::is_word(&k.value, "-_");
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
