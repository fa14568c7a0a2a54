//! `strixc budget`: the memory table per profile, or its JSON (schema: README, "The budget").

use serde_json::{Value, json};

use super::{Output, print_bytes};
use crate::cli::args::{BudgetArgs, Cli};
use crate::compile::{Planned, front_half};
use crate::diagnostic::{Diagnostic, Severity};
use crate::error::{Error, ExitCode};
use crate::plan::budget::problems::{
    ProfileOverBudget, ProfileOverGpu, UtilizationAboveCap, UtilizationTooSmall,
};
use crate::plan::budget::{AgentBudget, AgentLoad, format_gib};
use crate::plan::{AgentPlan, Plan, ProfilePlan};
use crate::source::Source;

/// Errors that are the budget's own verdict: the numbers are still worth printing (that
/// is when they are needed), with `fits: false`, and the exit code stays 1.
fn is_budget_verdict(d: &Diagnostic) -> bool {
    d.is::<ProfileOverBudget>()
        || d.is::<ProfileOverGpu>()
        || d.is::<UtilizationAboveCap>()
        || d.is::<UtilizationTooSmall>()
}

/// The planned stack to print the budget of, and the exit code: 0, or 1 when the only
/// errors are the budget's own. `Err(code)` when other errors leave nothing to print.
fn load_for_budget(
    cli: &Cli,
    out: &Output,
) -> Result<Result<(Planned, ExitCode), ExitCode>, Error> {
    let source = Source::read(&cli.file)?;
    let (planned, diagnostics) = front_half(&source);
    out.diagnostics(&diagnostics, &source);
    let only_budget = diagnostics
        .iter()
        .filter(|d| d.severity() == Severity::Error)
        .all(is_budget_verdict);
    match planned {
        Some(planned) if !diagnostics.has_errors() => Ok(Ok((planned, ExitCode::Ok))),
        Some(planned) if only_budget => Ok(Ok((planned, ExitCode::StackErrors))),
        _ => Ok(Err(ExitCode::StackErrors)),
    }
}

pub fn run(cli: &Cli, args: &BudgetArgs, out: &Output) -> Result<ExitCode, Error> {
    let (planned, code) = match load_for_budget(cli, out)? {
        Ok(loaded) => loaded,
        Err(code) => return Ok(code),
    };
    let plan = planned.plan();
    if let Some(name) = &args.profile
        && !plan.profiles.iter().any(|p| p.name() == name)
    {
        let known: Vec<&str> = plan.profiles.iter().map(|p| p.name()).collect();
        return Err(Error::Usage(format!(
            "no profile named `{name}` (the stack has: {})",
            known.join(", ")
        )));
    }
    let only = args.profile.as_deref();
    let text = if args.json {
        let mut text = serde_json::to_string_pretty(&budget_json(plan, only))
            .map_err(|e| Error::Usage(format!("internal error: {e}")))?;
        text.push('\n');
        text
    } else {
        budget_table(plan, only)
    };
    print_bytes(text.as_bytes())?;
    Ok(code)
}

/// Whether an agent takes more than one agent may: above the host's max-utilization, or
/// a pinned utilization too small for one context.
fn over_share(plan: &Plan, agent: &AgentPlan) -> bool {
    match agent.budget {
        AgentBudget::Gpu(gpu) => gpu.utilization > plan.host.max_utilization || gpu.too_small(),
        _ => false,
    }
}

fn selected<'p, 's>(
    plan: &'p Plan<'s>,
    only: Option<&'p str>,
) -> impl Iterator<Item = &'p ProfilePlan<'s>> {
    plan.profiles
        .iter()
        .filter(move |p| only.is_none_or(|name| p.name() == name))
}

/// The numbers of one agent that both outputs show.
struct Row {
    weights: u64,
    overhead: u64,
    kv_bytes_per_token: u64,
    kv_cache_tokens: u64,
    kv_cache_bytes: u64,
    required: u64,
    taken: u64,
}

fn row(agent: &AgentPlan) -> Row {
    let weights = agent.model.weights.as_ref().map_or(0, |w| w.value);
    match (agent.load, agent.budget) {
        (AgentLoad::Gpu { demand, .. }, AgentBudget::Gpu(gpu)) => Row {
            weights,
            overhead: demand.overhead,
            kv_bytes_per_token: demand.kv_bytes_per_token,
            kv_cache_tokens: gpu.kv_cache_tokens,
            kv_cache_bytes: gpu.kv_cache_bytes,
            required: gpu.required_bytes,
            taken: gpu.requested_bytes,
        },
        _ => {
            // A CPU agent: its KV cache is what it asks for; nothing is rounded to a fraction.
            let bytes = agent.budget.memory_bytes();
            let kv_bytes_per_token = crate::plan::budget::kv_bytes_per_token(
                agent.model.layers.as_ref().map_or(0, |v| v.value),
                agent.model.kv_heads.as_ref().map_or(0, |v| v.value),
                agent.model.head_dim.as_ref().map_or(0, |v| v.value),
                agent.kv_dtype,
            );
            let tokens = crate::plan::budget::round_up_16(
                agent
                    .agent
                    .kv_tokens
                    .as_ref()
                    .map_or(agent.context, |k| k.value),
            );
            Row {
                weights,
                overhead: bytes
                    .saturating_sub(weights)
                    .saturating_sub(tokens.saturating_mul(kv_bytes_per_token)),
                kv_bytes_per_token,
                kv_cache_tokens: tokens,
                kv_cache_bytes: tokens.saturating_mul(kv_bytes_per_token),
                required: bytes,
                taken: bytes,
            }
        }
    }
}

/// The `--json` document.
pub fn budget_json(plan: &Plan, only: Option<&str>) -> Value {
    let profiles: Vec<Value> = selected(plan, only)
        .map(|profile| {
            let agents: Vec<Value> = profile
                .agents
                .iter()
                .map(|&i| {
                    let agent = &plan.agents[i];
                    let r = row(agent);
                    json!({
                        "name": agent.name(),
                        "model": agent.model.name.value,
                        "context": agent.context,
                        "weights_bytes": r.weights,
                        "overhead_bytes": r.overhead,
                        "kv_bytes_per_token": r.kv_bytes_per_token,
                        "kv_cache_bytes": r.kv_cache_bytes,
                        "kv_cache_tokens": r.kv_cache_tokens,
                        "gpu_memory_utilization": agent.utilization().map(|u| u.as_f64()),
                        "required_bytes": r.required,
                        "memory_bytes": r.taken,
                        "over_share": over_share(plan, agent),
                    })
                })
                .collect();
            json!({
                "name": profile.name(),
                "default": profile.profile.is_default(),
                "agents": agents,
                "total_bytes": profile.budget.total_bytes,
                "budget_bytes": profile.budget.budget_bytes,
                "gpu_memory_utilization": profile.budget.gpu_share.as_f64(),
                "fits": profile.budget.fits(),
            })
        })
        .collect();
    json!({
        "host": {
            "memory_bytes": plan.host.memory,
            "gpu_memory_bytes": plan.host.gpu_total,
            "reserve_bytes": plan.host.reserve,
            "unified": plan.host.unified,
            "max_utilization": plan.host.max_utilization.as_f64(),
        },
        "profiles": profiles,
    })
}

/// The human table: one block per profile.
pub fn budget_table(plan: &Plan, only: Option<&str>) -> String {
    let host = &plan.host;
    let mut out = format!(
        "host: {} memory, GPU {} ({}), reserve {}, max utilization {}\n",
        format_gib(host.memory),
        format_gib(host.gpu_total),
        if host.unified { "unified" } else { "discrete" },
        format_gib(host.reserve),
        host.max_utilization,
    );
    let header = [
        "agent",
        "model",
        "context",
        "weights",
        "KV B/token",
        "KV cache",
        "KV tokens",
        "overhead",
        "util",
        "memory",
    ];
    for profile in selected(plan, only) {
        out.push_str(&profile_heading(profile));
        let mut rows: Vec<[String; 10]> = vec![header.map(String::from)];
        rows.extend(
            profile
                .agents
                .iter()
                .map(|&i| table_row(plan, &plan.agents[i])),
        );
        out.push_str(&columns(&rows));
    }
    if plan.agents.iter().any(|a| over_share(plan, a)) {
        out.push_str(&format!(
            "\n(!) above the host's max-utilization {} (or a pinned utilization too small for one context)\n",
            host.max_utilization
        ));
    }
    out
}

/// `profile NAME (default): USED of BUDGET, N headroom; GPU share U`.
fn profile_heading(profile: &ProfilePlan) -> String {
    let budget = &profile.budget;
    let headroom = budget.budget_bytes as i128 - budget.total_bytes as i128;
    format!(
        "\nprofile {}{}: {} of {}, {} {}; GPU share {}\n",
        profile.name(),
        if profile.profile.is_default() {
            " (default)"
        } else {
            ""
        },
        format_gib(budget.total_bytes),
        format_gib(budget.budget_bytes),
        format_gib(headroom.unsigned_abs() as u64),
        if headroom >= 0 {
            "headroom"
        } else {
            "OVER BUDGET"
        },
        budget.gpu_share,
    )
}

/// One agent's line of the table, in the header's columns.
fn table_row(plan: &Plan, agent: &AgentPlan) -> [String; 10] {
    let r = row(agent);
    [
        agent.name().to_owned(),
        agent.model.name.value.clone(),
        agent.context.to_string(),
        format_gib(r.weights),
        r.kv_bytes_per_token.to_string(),
        format_gib(r.kv_cache_bytes),
        r.kv_cache_tokens.to_string(),
        format_gib(r.overhead),
        agent.utilization().map_or("CPU".into(), |u| {
            if over_share(plan, agent) {
                format!("{u} (!)")
            } else {
                u.to_string()
            }
        }),
        format_gib(r.taken),
    ]
}

/// Left-aligned text columns, right-aligned numbers, two spaces apart.
fn columns(rows: &[[String; 10]]) -> String {
    let mut widths = [0usize; 10];
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in rows {
        let mut line = String::from(" ");
        for (column, (cell, width)) in row.iter().zip(widths).enumerate() {
            if column < 2 {
                line.push_str(&format!(" {cell:<width$} "));
            } else {
                line.push_str(&format!(" {cell:>width$} "));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}
