//! `profile "odin" default=#true extends="standard" { agents "thor" "odin" }`

use kdl::KdlNode;

use super::entries::Entries;
use super::{children, no_children, unknown_node, values};
use crate::decode::problems::MissingArgument;
use crate::diagnostic::{Diagnostics, Thing};
use crate::stack::Profile;

pub fn decode(node: &KdlNode, d: &mut Diagnostics) -> Option<Profile> {
    let mut entries = Entries::new(node);
    let name = entries.arg(0);
    let default = entries.prop("default");
    let extends = entries.prop("extends");
    entries.finish(1, &["default", "extends"], d);
    let name = super::stack::named_arg(node, name, Thing::Profile, d);
    let default = default.and_then(|e| values::boolean(e, "default", d));
    let extends = extends.and_then(|e| values::name(e, Thing::Profile, d));
    let parent = match &name {
        Some(n) => format!("profile `{}`", n.value),
        None => "`profile`".to_owned(),
    };
    let mut agents = Vec::new();
    for child in children(node) {
        if child.name().value() != "agents" {
            unknown_node(child, &parent, &["agents"], d);
            continue;
        }
        let mut entries = Entries::new(child);
        let names = entries.args();
        entries.finish(1, &[], d);
        no_children(child, d);
        if names.is_empty() {
            d.emit(
                MissingArgument {
                    node: "agents".into(),
                    what: "the names of the profile's agents",
                },
                child.name().span(),
            );
        }
        agents.extend(
            names
                .into_iter()
                .filter_map(|e| values::name(e, Thing::Agent, d)),
        );
    }
    Some(Profile {
        name: name?,
        default,
        extends,
        agents,
    })
}
