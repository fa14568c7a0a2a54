//! Profiles: exactly one default, `extends` and `after` without cycles, agents that no
//! profile starts.

use crate::check::problems::{
    AgentInNoProfile, Cycle, NoDefaultProfile, NoProfiles, SeveralDefaultProfiles,
};
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::stack::{Name, Stack};

pub fn check(stack: &Stack, d: &mut Diagnostics) {
    let defaults: Vec<_> = stack.profiles.iter().filter(|p| p.is_default()).collect();
    match defaults.as_slice() {
        [] if stack.profiles.is_empty() => d.emit(NoProfiles, stack.name.span),
        [] => d.emit(NoDefaultProfile, stack.profiles[0].name.span),
        [_] => {}
        [first, rest @ ..] => {
            let mut diagnostic = Diagnostic::new(
                SeveralDefaultProfiles {
                    names: defaults.iter().map(|p| p.name.value.clone()).collect(),
                },
                default_span(first),
            );
            for other in rest {
                diagnostic = diagnostic.with_label(default_span(other), "also default");
            }
            d.push(diagnostic);
        }
    }

    cycles(
        "extends",
        stack
            .profiles
            .iter()
            .map(|p| (&p.name, p.extends.iter().collect())),
        d,
    );
    cycles(
        "after",
        stack
            .agents
            .iter()
            .map(|a| (&a.name, a.after.iter().collect())),
        d,
    );

    let used: std::collections::HashSet<&str> = stack
        .profiles
        .iter()
        .flat_map(|p| stack.profile_agents(&p.name))
        .collect();
    if !stack.profiles.is_empty() {
        for agent in stack
            .agents
            .iter()
            .filter(|a| !used.contains(a.name.as_str()))
        {
            d.emit(
                AgentInNoProfile {
                    agent: agent.name.value.clone(),
                },
                agent.name.span,
            );
        }
    }
}

fn default_span(profile: &crate::stack::Profile) -> miette::SourceSpan {
    profile
        .default
        .as_ref()
        .map_or(profile.name.span, |d| d.span)
}

/// Reports each cycle once, at the edge that closes it (depth-first, in declaration order).
fn cycles<'a>(
    relation: &'static str,
    nodes: impl Iterator<Item = (&'a Name, Vec<&'a Name>)>,
    d: &mut Diagnostics,
) {
    let nodes: Vec<(&Name, Vec<&Name>)> = nodes.collect();
    let positions: std::collections::HashMap<&str, usize> = nodes
        .iter()
        .enumerate()
        .map(|(i, (n, _))| (n.as_str(), i))
        .collect();
    let index = |name: &str| positions.get(name).copied();
    // 0 = unvisited, 1 = on the current path, 2 = done.
    let mut state = vec![0u8; nodes.len()];
    for start in 0..nodes.len() {
        if state[start] != 0 {
            continue;
        }
        // An explicit stack (node, next edge) instead of recursion: 10,000 agents in a
        // chain must not overflow the stack.
        let mut path: Vec<(usize, usize)> = vec![(start, 0)];
        state[start] = 1;
        while let Some(&mut (node, ref mut edge)) = path.last_mut() {
            let edges = &nodes[node].1;
            if *edge == edges.len() {
                state[node] = 2;
                path.pop();
                continue;
            }
            let target_name = edges[*edge];
            *edge += 1;
            let Some(target) = index(target_name) else {
                continue;
            };
            match state[target] {
                0 => {
                    state[target] = 1;
                    path.push((target, 0));
                }
                1 => {
                    let from = path.iter().position(|&(n, _)| n == target).unwrap_or(0);
                    let mut names: Vec<String> = path[from..]
                        .iter()
                        .map(|&(n, _)| nodes[n].0.value.clone())
                        .collect();
                    names.push(nodes[target].0.value.clone());
                    d.emit(
                        Cycle {
                            relation,
                            path: names,
                        },
                        target_name.span,
                    );
                }
                _ => {}
            }
        }
    }
}
