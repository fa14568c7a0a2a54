//! A profile's target: `BindsTo=` and `After=` its agents, `Conflicts=` every agent not in
//! it and every other profile target.
//!
//! Ordering comes from one total order of the agents (each agent is `After=` every agent
//! before it, `agent.rs`), which orders every pair without a cycle: co-running agents load
//! one at a time, and on a switch systemd runs each replaced agent's stop before any start
//! (it orders a stop before a start whichever way two units are ordered). The target is
//! `After=` its own agents only, so its start job finishes once every agent is ready
//! (each agent's `ExecStartPost=` health wait), and `BindsTo=` makes the start
//! fail when one fails, and the target stop when one stops: active means serving.

use serde::Serialize;

use super::agent::join_units;
use super::{RenderError, render};
use crate::plan::Plan;

#[derive(Serialize)]
struct TargetVars<'a> {
    header: &'a str,
    profile: &'a str,
    description: String,
    members: String,
    slice: &'a str,
    conflicts_agents: String,
    conflicts_targets: String,
    default: bool,
    gateway_socket: Option<String>,
}

pub fn target(plan: &Plan, index: usize, header: &str) -> Result<String, RenderError> {
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
        &TargetVars {
            header,
            profile: profile.name(),
            description,
            members: join_units(profile.agents.iter().map(|&a| &plan.agents[a].unit)),
            slice: &plan.slice,
            conflicts_agents: join_units(
                plan.agents
                    .iter()
                    .enumerate()
                    .filter(|(a, _)| !member[*a])
                    .map(|(_, agent)| &agent.unit),
            ),
            conflicts_targets: join_units(
                plan.profiles
                    .iter()
                    .enumerate()
                    .filter(|(p, _)| *p != index)
                    .map(|(_, p)| p.target.as_str()),
            ),
            default: index == plan.default_profile,
            gateway_socket: plan.gateway.as_ref().map(|g| g.socket.clone()),
        },
    )
}

#[derive(Serialize)]
struct SliceVars<'a> {
    header: &'a str,
    stack: &'a str,
    slice: &'a str,
}

/// `S.slice`, holding every agent: one unit to stop the whole stack.
pub fn slice(plan: &Plan, header: &str) -> Result<String, RenderError> {
    render(
        "slice",
        &SliceVars {
            header,
            stack: &plan.stack.name.value,
            slice: &plan.slice,
        },
    )
}
