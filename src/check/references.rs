//! Names defined twice and references to names that don't exist, with "did you mean".

use std::collections::{HashMap, HashSet};

use crate::check::problems::{Duplicate, RuntimeRequired, UnknownReference};
use crate::diagnostic::suggest::did_you_mean;
use crate::diagnostic::{Diagnostic, Diagnostics, Thing};
use crate::stack::{Name, Stack};

pub fn check(stack: &Stack, d: &mut Diagnostics) {
    duplicates(Thing::Runtime, stack.runtimes.iter().map(|r| &r.name), d);
    duplicates(Thing::Model, stack.models.iter().map(|m| &m.name), d);
    duplicates(Thing::Agent, stack.agents.iter().map(|a| &a.name), d);
    duplicates(Thing::Profile, stack.profiles.iter().map(|p| &p.name), d);

    let models = Names::new(stack.models.iter().map(|m| m.name.as_str()));
    let runtimes = Names::new(stack.runtimes.iter().map(|r| r.name.as_str()));
    let agents = Names::new(stack.agents.iter().map(|a| a.name.as_str()));
    let profiles = Names::new(stack.profiles.iter().map(|p| p.name.as_str()));

    for agent in &stack.agents {
        if let Some(model) = &agent.model {
            reference(Thing::Model, model, &models, d);
        }
        match &agent.runtime {
            Some(runtime) => reference(Thing::Runtime, runtime, &runtimes, d),
            None if stack.runtimes.len() != 1 => d.emit(
                RuntimeRequired {
                    agent: agent.name.value.clone(),
                    runtimes: stack.runtimes.len(),
                },
                agent.name.span,
            ),
            None => {}
        }
        for after in &agent.after {
            reference(Thing::Agent, after, &agents, d);
        }
        if let Some(summon) = &agent.summon {
            reference(Thing::Profile, summon, &profiles, d);
        }
    }
    for profile in &stack.profiles {
        if let Some(extends) = &profile.extends {
            reference(Thing::Profile, extends, &profiles, d);
        }
        for agent in &profile.agents {
            reference(Thing::Agent, agent, &agents, d);
        }
    }
}

fn duplicates<'a>(thing: Thing, names: impl Iterator<Item = &'a Name>, d: &mut Diagnostics) {
    let mut first: HashMap<&str, &Name> = HashMap::new();
    for name in names {
        if let Some(original) = first.get(name.as_str()) {
            d.push(
                Diagnostic::new(
                    Duplicate {
                        thing,
                        name: name.value.clone(),
                    },
                    name.span,
                )
                .with_label(original.span, "first defined here"),
            );
        } else {
            first.insert(name.as_str(), name);
        }
    }
}

/// Defined names: a set to look references up in, the declaration order for suggestions.
struct Names<'a> {
    set: HashSet<&'a str>,
    ordered: Vec<&'a str>,
}

impl<'a> Names<'a> {
    fn new(names: impl Iterator<Item = &'a str>) -> Self {
        let ordered: Vec<&str> = names.collect();
        Names {
            set: ordered.iter().copied().collect(),
            ordered,
        }
    }
}

fn reference(thing: Thing, name: &Name, known: &Names, d: &mut Diagnostics) {
    if known.set.contains(name.as_str()) {
        return;
    }
    d.emit(
        UnknownReference {
            thing,
            name: name.value.clone(),
            suggestion: did_you_mean(name, known.ordered.iter().copied()).map(str::to_owned),
        },
        name.span,
    );
}
