//! The memory budget, checked on the plan: each agent's utilization against the host's
//! cap and (when pinned) against what one full context needs; each profile against the
//! host's memory and the GPU.

use super::problems::{
    ProfileOverBudget, ProfileOverGpu, UtilizationAboveCap, UtilizationTooSmall,
};
use super::{AgentBudget, AgentLoad, BudgetProblem, format_gib, largest_common_context};
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::plan::{AgentPlan, Plan};

pub fn check_budget(plan: &Plan, d: &mut Diagnostics) {
    for agent in &plan.agents {
        agent_rules(plan, agent, d);
    }
    for profile in &plan.profiles {
        let loads: Vec<AgentLoad> = profile
            .agents
            .iter()
            .map(|&i| plan.agents[i].load)
            .collect();
        for problem in &profile.budget.problems {
            let span = profile.profile.name.span;
            let mut diagnostic = match *problem {
                BudgetProblem::HostMemory {
                    used_bytes,
                    budget_bytes,
                    over_bytes,
                } => Diagnostic::new(
                    ProfileOverBudget {
                        profile: profile.name().to_owned(),
                        total: format_gib(used_bytes),
                        budget: format_gib(budget_bytes),
                        over: format_gib(over_bytes),
                        largest_context: largest_common_context(&plan.host, &loads).map(|c| {
                            // No agent can use more than its model's max-context: never
                            // propose a context beyond the longest of them.
                            let longest = profile
                                .agents
                                .iter()
                                .filter_map(|&i| plan.agents[i].model.max_context.as_ref())
                                .map(|m| m.value)
                                .max();
                            longest.map_or(c, |m| c.min(m))
                        }),
                    },
                    span,
                ),
                BudgetProblem::GpuShare { total, .. } => Diagnostic::new(
                    ProfileOverGpu {
                        profile: profile.name().to_owned(),
                        sum: total.to_string(),
                    },
                    span,
                ),
                // Reported once per agent by `agent_rules`, not once per profile.
                BudgetProblem::AboveMaxUtilization { .. } => continue,
            };
            for &i in &profile.agents {
                let agent = &plan.agents[i];
                diagnostic = diagnostic.with_label(agent.agent.name.span, share(agent));
            }
            d.push(diagnostic);
        }
    }
}

/// "thor: 19.25 GiB (0.16)"
fn share(agent: &AgentPlan) -> String {
    let bytes = format_gib(agent.budget.memory_bytes());
    match agent.budget.utilization() {
        Some(u) => format!("{}: {bytes} ({u})", agent.name()),
        None => format!("{}: {bytes} (CPU)", agent.name()),
    }
}

fn agent_rules(plan: &Plan, agent: &AgentPlan, d: &mut Diagnostics) {
    let AgentBudget::Gpu(gpu) = agent.budget else {
        return;
    };
    let pinned = agent.agent.gpu_memory_utilization.as_ref();
    let context = agent.agent.context.as_ref();
    // A kv-tokens above the context is what to lower when it is set.
    let kv_tokens = agent
        .agent
        .kv_tokens
        .as_ref()
        .filter(|k| context.is_some_and(|c| k.value > c.value));
    let span = pinned
        .map(|p| p.span)
        .or(kv_tokens.map(|k| k.span))
        .or(context.map(|c| c.span))
        .unwrap_or(agent.agent.name.span);
    if let Some(pinned) = pinned
        && gpu.too_small()
    {
        d.emit(
            UtilizationTooSmall {
                agent: agent.name().to_owned(),
                pinned: gpu.utilization.to_string(),
                needed: gpu.needed.to_string(),
                context: gpu.kv_tokens_wanted,
            },
            pinned.span,
        );
    }
    if gpu.utilization > plan.host.max_utilization {
        d.emit(
            UtilizationAboveCap {
                agent: agent.name().to_owned(),
                utilization: gpu.utilization.to_string(),
                cap: plan.host.max_utilization.to_string(),
                pinned: pinned.is_some(),
                // Capped at the model's max-context: a proposal the model can have (with
                // kv-tokens far above the context, the fitting value can exceed it).
                largest_context: largest_common_context(&plan.host, &[agent.load]).map(|c| {
                    agent
                        .model
                        .max_context
                        .as_ref()
                        .map_or(c, |m| c.min(m.value))
                }),
            },
            span,
        );
    }
}
