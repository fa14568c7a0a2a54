//! The global start order: declaration order, except that `after "x"` puts an agent
//! behind x. Kahn's algorithm, always taking the earliest-declared ready agent, so the
//! order is stable and deterministic.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use crate::stack::Stack;

/// Indices into `stack.agents`. Agents caught in an `after` cycle (reported by the
/// checks) are appended in declaration order.
pub fn start_order(stack: &Stack) -> Vec<usize> {
    let count = stack.agents.len();
    let index: HashMap<&str, usize> = stack
        .agents
        .iter()
        .enumerate()
        .map(|(i, a)| (a.name.as_str(), i))
        .collect();
    let mut waiting_on = vec![0usize; count];
    let mut unblocks: Vec<Vec<usize>> = vec![Vec::new(); count];
    for (i, agent) in stack.agents.iter().enumerate() {
        for before in &agent.after {
            if let Some(&b) = index.get(before.as_str()) {
                waiting_on[i] += 1;
                unblocks[b].push(i);
            }
        }
    }
    let mut ready: BinaryHeap<Reverse<usize>> = (0..count)
        .filter(|&i| waiting_on[i] == 0)
        .map(Reverse)
        .collect();
    let mut order = Vec::with_capacity(count);
    let mut placed = vec![false; count];
    while let Some(Reverse(i)) = ready.pop() {
        order.push(i);
        placed[i] = true;
        for &next in &unblocks[i] {
            waiting_on[next] -= 1;
            if waiting_on[next] == 0 {
                ready.push(Reverse(next));
            }
        }
    }
    order.extend((0..count).filter(|&i| !placed[i]));
    order
}
