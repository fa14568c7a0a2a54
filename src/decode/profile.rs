//! `profile "odin" default=#true extends="standard" { agents "thor" "odin" }`

use kdl::KdlNode;

use super::entries::Entries;
use super::fields::{self, Field, field};
use super::node::{children, label, list, named_arg};
use super::values;
use crate::diagnostic::{Diagnostics, Thing};
use crate::stack::Profile;

pub static FIELDS: [Field<Profile>; 1] =
    [
        field("agents", "agents the profile runs").many(|profile, node, d| {
            let names = list(node, "the names of the profile's agents", d);
            profile.agents.extend(values::names(names, Thing::Agent, d))
        }),
    ];

pub fn decode(node: &KdlNode, d: &mut Diagnostics) -> Option<Profile> {
    let mut entries = Entries::new(node);
    let name = entries.arg(0);
    let default = entries.prop("default");
    let extends = entries.prop("extends");
    entries.finish(1, &["default", "extends"], d);
    let name = named_arg(node, name, Thing::Profile, d);
    let mut profile = Profile {
        default: default.and_then(|e| values::boolean(e, "default", d)),
        extends: extends.and_then(|e| values::name(e, Thing::Profile, d)),
        ..Profile::default()
    };
    let label = label(Thing::Profile, name.as_ref());
    fields::decode(children(node), &label, &FIELDS, &mut profile, d);
    Some(Profile {
        name: name?,
        ..profile
    })
}
