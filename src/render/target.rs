//! A profile's target: `Wants=` its agents, `Conflicts=` every agent not in it and every
//! other profile target, `After=` the profile targets declared before it.
//!
//! Switch ordering, linear in units per file (never pairwise between agents) and acyclic:
//! an agent is `After=` the targets of the profiles that run it (`agent.rs`), and profile
//! targets are ordered among themselves. On `start norse-odin.target` (from standard),
//! systemd queues stop jobs for valkyrie and norse-standard.target (conflicts) and start
//! jobs for the target and odin. valkyrie `After=` norse-standard.target makes the target's
//! stop wait for valkyrie's stop; the two targets are ordered, so the old target's stop
//! precedes the new one's start (systemd orders a stop before a start whichever way two
//! units are ordered); odin `After=` norse-odin.target starts last. The chain
//! valkyrie stop → old target stop → new target start → odin start needs no edge between
//! valkyrie and odin. (A target `After=` the agents it conflicts with, together with agents
//! `After=` their targets, would be cyclic as soon as two profiles each hold an agent the
//! other lacks: T_frigga → heimdall → T_heimdall → frigga → T_frigga.)

use serde::Serialize;

use super::agent::join_units;
use super::{RenderError, render};
use crate::plan::Plan;

#[derive(Serialize)]
struct Context<'a> {
    header: &'a str,
    profile: &'a str,
    description: String,
    wants: String,
    conflicts_agents: String,
    conflicts_targets: String,
    after_targets: String,
    default: bool,
}

/// `units[i]` is `plan.agents[i].unit()`, computed once by the caller.
pub fn target(
    plan: &Plan,
    index: usize,
    units: &[String],
    header: &str,
) -> Result<String, RenderError> {
    let profile = &plan.profiles[index];
    let mut member = vec![false; plan.agents.len()];
    for &a in &profile.agents {
        member[a] = true;
    }
    let names: Vec<&str> = profile
        .agents
        .iter()
        .map(|&a| plan.agents[a].name())
        .collect();
    let description = super::escape::escape_specifiers(&format!(
        "{} profile {}: {}",
        plan.stack.name.value,
        profile.name(),
        names.join(", ")
    ));
    render(
        "target",
        &Context {
            header,
            profile: profile.name(),
            description,
            wants: join_units(profile.agents.iter().map(|&a| units[a].as_str())),
            conflicts_agents: join_units(
                units
                    .iter()
                    .enumerate()
                    .filter(|(a, _)| !member[*a])
                    .map(|(_, u)| u.as_str()),
            ),
            conflicts_targets: join_units(
                plan.profiles
                    .iter()
                    .enumerate()
                    .filter(|(p, _)| *p != index)
                    .map(|(_, p)| p.target.as_str()),
            ),
            after_targets: join_units(plan.profiles[..index].iter().map(|p| p.target.as_str())),
            default: index == plan.default_profile,
        },
    )
}
