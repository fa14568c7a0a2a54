//! The pure front half of the pipeline: source → parse → decode → check → plan → budget.

use kdl::KdlDocument;
use miette::SourceSpan;

use crate::check;
use crate::check::problems::Cycle;
use crate::decode;
use crate::diagnostic::Internal;
use crate::diagnostic::{Diagnostics, Severity};
use crate::source::Source;
use crate::source::parse;
use crate::stack::{Agent, Spanned, Stack};

/// A stack that decoded and passed every check (warnings may remain).
#[derive(Debug)]
pub struct Checked {
    pub stack: Stack,
    pub warnings: Diagnostics,
}

/// Everything wrong with the stack, or the stack with its warnings.
pub fn compile(source: &Source) -> Result<Checked, Diagnostics> {
    let mut d = Diagnostics::new();
    let Some(document) = parse::parse(source, &mut d) else {
        return Err(d);
    };
    let stack = decode::decode(&document, &mut d);
    check::check(&stack, &mut d);
    if d.has_errors() {
        budget_what_decoded(&document, &stack, &mut d);
        return Err(d);
    }
    match crate::plan::plan(&stack) {
        Some(plan) => check::check_budget(&plan, &mut d),
        None => d.emit(
            Internal {
                message: "the checked stack could not be planned".into(),
            },
            (0, 0),
        ),
    }
    if d.has_errors() {
        return Err(d);
    }
    Ok(Checked { stack, warnings: d })
}

/// With errors elsewhere, the budget still runs on the agents and profiles that decoded
/// cleanly, so one run shows every independent problem: a typo in one agent does not hide
/// another profile being over budget. Agents whose node, model or runtime holds an error,
/// and profiles that run such an agent, are left out; nothing runs if the host itself has
/// an error (every number depends on it) or `after` forms a cycle.
fn budget_what_decoded(document: &KdlDocument, stack: &Stack, d: &mut Diagnostics) {
    let errors: Vec<usize> = d
        .iter()
        .filter(|x| x.severity() == Severity::Error)
        .map(|x| x.span.offset())
        .collect();
    if d.iter().any(|x| x.is::<Cycle>()) {
        return;
    }
    // Top-level nodes in source order; which of them holds an error. Binary searches:
    // a file of many broken nodes costs O(n log n), not O(nodes × errors).
    let nodes: Vec<(usize, usize)> = document
        .nodes()
        .iter()
        .map(|n| (n.span().offset(), n.span().offset() + n.span().len()))
        .collect();
    let node_of = |offset: usize| {
        let i = nodes.partition_point(|&(start, _)| start <= offset);
        (i > 0 && offset < nodes[i - 1].1).then(|| i - 1)
    };
    let mut dirty = vec![false; nodes.len()];
    for &offset in &errors {
        match node_of(offset) {
            Some(i) => dirty[i] = true,
            // An error outside every top-level node (a missing `host`, say): the numbers
            // can't be trusted.
            None => return,
        }
    }
    let clean = |span: SourceSpan| node_of(span.offset()).is_some_and(|i| !dirty[i]);
    if !clean(stack.host.span) {
        return;
    }
    let agent_ok = |agent: &Agent| {
        let model = agent.model.as_ref().and_then(|m| stack.model(m));
        let runtime = stack.runtime_of(agent);
        clean(agent.name.span)
            && model.is_some_and(|m| {
                clean(m.name.span)
                    && m.weights.is_some()
                    && m.layers.is_some()
                    && m.kv_heads.is_some()
                    && m.head_dim.is_some()
            })
            && runtime.is_some_and(|r| clean(r.name.span))
            && agent.context.is_some()
            && agent.port.is_some()
    };
    let mut pruned = stack.clone();
    pruned.agents.retain(agent_ok);
    let kept: Vec<&str> = pruned.agents.iter().map(|a| a.name.as_str()).collect();
    pruned.profiles.retain(|profile| {
        let mut chain_clean = true;
        let mut next = Some(profile);
        let mut seen = 0;
        while let Some(current) = next {
            chain_clean &= clean(current.name.span);
            seen += 1;
            next = current
                .extends
                .as_ref()
                .and_then(|e| stack.profile(e))
                .filter(|_| seen <= stack.profiles.len());
        }
        chain_clean
            && stack
                .profile_agents(&profile.name)
                .iter()
                .all(|a| kept.contains(a))
    });
    if pruned.profiles.is_empty() {
        return;
    }
    // The plan wants exactly one default; which one is irrelevant to the budget.
    for (i, profile) in pruned.profiles.iter_mut().enumerate() {
        profile.default = (i == 0).then(|| Spanned::new(true, profile.name.span));
    }
    if let Some(plan) = crate::plan::plan(&pruned) {
        check::check_budget(&plan, d);
    }
}
