//! The pure pipeline, driven: source → parse → decode → check → plan (with the budget),
//! then render → tree for `build_tree`. The plan is built here, once, and handed on with
//! the stack it borrows from.

use kdl::KdlDocument;
use miette::SourceSpan;

use crate::check;
use crate::check::problems::Cycle;
use crate::decode;
use crate::diagnostic::Internal;
use crate::diagnostic::{Diagnostics, Severity};
use crate::plan::Plan;
use crate::render;
use crate::source::Source;
use crate::source::parse;
use crate::stack::{Agent, Spanned, Stack, chain_agents};
use crate::tree::Tree;
use crate::tree::assemble::render_tree;

self_cell::self_cell!(
    /// A checked stack and its plan, which borrows from it.
    pub struct Planned {
        owner: Stack,
        #[covariant]
        dependent: Plan,
    }
    impl {Debug}
);

impl Planned {
    pub fn stack(&self) -> &Stack {
        self.borrow_owner()
    }

    pub fn plan(&self) -> &Plan<'_> {
        self.borrow_dependent()
    }
}

/// A stack that decoded, passed every check and was planned (warnings may remain).
#[derive(Debug)]
pub struct Compiled {
    pub planned: Planned,
    pub warnings: Diagnostics,
}

impl Compiled {
    pub fn stack(&self) -> &Stack {
        self.planned.stack()
    }

    pub fn plan(&self) -> &Plan<'_> {
        self.planned.plan()
    }
}

/// Compiles `source` and renders its tree: the tree and the stack's warnings, or every
/// error (nothing rendered).
pub fn build_tree(source: &Source) -> Result<(Tree, Diagnostics), Diagnostics> {
    render::prepare();
    let Compiled {
        planned,
        warnings: mut diagnostics,
    } = compile(source)?;
    match render_tree(planned.plan()) {
        Ok(tree) => Ok((tree, diagnostics)),
        Err(error) => {
            diagnostics.emit(
                Internal {
                    message: error.to_string(),
                },
                (0, 0),
            );
            Err(diagnostics)
        }
    }
}

/// Everything wrong with the stack, or the planned stack with its warnings.
pub fn compile(source: &Source) -> Result<Compiled, Diagnostics> {
    match front_half(source) {
        (Some(planned), warnings) if !warnings.has_errors() => Ok(Compiled { planned, warnings }),
        (_, diagnostics) => Err(diagnostics),
    }
}

/// Every diagnostic, and the planned stack when it passed every check: the budget's own
/// errors may remain (`strixc budget` prints the numbers they are about).
pub fn front_half(source: &Source) -> (Option<Planned>, Diagnostics) {
    let mut d = Diagnostics::new();
    let Some(document) = parse::parse(source, &mut d) else {
        return (None, d);
    };
    let stack = decode::decode(&document, &mut d);
    check::check(&stack, &mut d);
    if d.has_errors() {
        budget_what_decoded(&document, &stack, &mut d);
        return (None, d);
    }
    match Planned::try_new(stack, |stack| crate::plan::plan(stack).ok_or(())) {
        Ok(planned) => {
            crate::plan::budget::check_budget(planned.plan(), &mut d);
            (Some(planned), d)
        }
        Err(()) => {
            d.emit(
                Internal {
                    message: "the checked stack could not be planned".into(),
                },
                (0, 0),
            );
            (None, d)
        }
    }
}

/// With errors elsewhere, the budget still runs on the agents and profiles that decoded
/// cleanly, so one run shows every independent problem: a typo in one agent does not hide
/// another profile being over budget. Agents whose node, model or runtime holds an error,
/// and profiles that run such an agent, are left out; nothing runs if the host itself has
/// an error (every number depends on it) or `after` forms a cycle.
fn budget_what_decoded(document: &KdlDocument, stack: &Stack, d: &mut Diagnostics) {
    if d.iter().any(|x| x.is::<Cycle>()) {
        return;
    }
    let Some(nodes) = CleanNodes::new(document, d) else {
        return;
    };
    let clean = |span: SourceSpan| nodes.holds(span);
    if !clean(stack.host.span) {
        return;
    }
    let Some(pruned) = prune(stack, clean) else {
        return;
    };
    if let Some(plan) = crate::plan::plan(&pruned) {
        crate::plan::budget::check_budget(&plan, d);
    }
}

/// The top-level nodes in source order, and which of them holds an error. Binary
/// searches: a file of many broken nodes costs O(n log n), not O(nodes × errors).
struct CleanNodes {
    /// Each node's start and end offsets.
    nodes: Vec<(usize, usize)>,
    dirty: Vec<bool>,
}

impl CleanNodes {
    /// `None` when an error lies outside every top-level node (a missing `host`, say):
    /// then the numbers can't be trusted.
    fn new(document: &KdlDocument, d: &Diagnostics) -> Option<Self> {
        let nodes: Vec<(usize, usize)> = document
            .nodes()
            .iter()
            .map(|n| (n.span().offset(), n.span().offset() + n.span().len()))
            .collect();
        let mut clean = CleanNodes {
            dirty: vec![false; nodes.len()],
            nodes,
        };
        let errors = d.iter().filter(|x| x.severity() == Severity::Error);
        for offset in errors.map(|x| x.span.offset()) {
            let node = clean.node_of(offset)?;
            clean.dirty[node] = true;
        }
        Some(clean)
    }

    fn node_of(&self, offset: usize) -> Option<usize> {
        let i = self.nodes.partition_point(|&(start, _)| start <= offset);
        (i > 0 && offset < self.nodes[i - 1].1).then(|| i - 1)
    }

    /// Whether `span` starts in a top-level node without errors.
    fn holds(&self, span: SourceSpan) -> bool {
        self.node_of(span.offset()).is_some_and(|i| !self.dirty[i])
    }
}

/// The stack without the agents and profiles that touch an error; `None` when no profile
/// is left.
fn prune(stack: &Stack, clean: impl Fn(SourceSpan) -> bool + Copy) -> Option<Stack> {
    let mut pruned = stack.clone();
    pruned
        .agents
        .retain(|agent| agent_clean(stack, agent, clean));
    let kept: Vec<&str> = pruned.agents.iter().map(|a| a.name.as_str()).collect();
    pruned.profiles.retain(|profile| {
        // Every profile it extends must be clean too, and every agent it runs kept.
        let chain = stack.profile_chain(profile);
        chain.iter().all(|p| clean(p.name.span))
            && chain_agents(&chain).iter().all(|a| kept.contains(a))
    });
    if pruned.profiles.is_empty() {
        return None;
    }
    // The plan wants exactly one default; which one is irrelevant to the budget.
    for (i, profile) in pruned.profiles.iter_mut().enumerate() {
        profile.default = (i == 0).then(|| Spanned::new(true, profile.name.span));
    }
    Some(pruned)
}

/// Whether the agent, its model and its runtime are clean, with every number the budget
/// needs.
fn agent_clean(stack: &Stack, agent: &Agent, clean: impl Fn(SourceSpan) -> bool) -> bool {
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
}
