//! Does a profile fit the host? The rules of README's "The budget" over the numbers of [`super`].
//!
//! Unified host (Strix Halo: the GPU's memory *is* host memory): a profile fits when
//! Σ requested (u × T) + Σ memory of non-GPU agents + reserve ≤ host memory, Σ u ≤ 1.00, and
//! each u ≤ max-utilization. Discrete host: GPU agents live in VRAM, so Σ u ≤ 1.00 and each
//! u ≤ max-utilization, while non-GPU agents + reserve ≤ host memory.
//!
//! Agents are identified by their index in the input slice; the caller maps it back to a
//! name and a source span.

use super::{
    AgentDemand, CONTEXT_SUGGESTION_STEP, Utilization, kv_cache_tokens,
    min_utilization_for_context, requested_bytes, round_up_16, utilization_for,
};

/// The host's numbers, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostCapacity {
    /// Physical memory.
    pub memory: u64,
    /// T: total GPU memory as the runtime reports it.
    pub gpu_total: u64,
    /// Never given to an agent.
    pub reserve: u64,
    /// Whether GPU memory is host memory.
    pub unified: bool,
    /// Cap on any one agent's utilization.
    pub max_utilization: Utilization,
}

/// What one agent of a profile loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentLoad {
    /// A vLLM agent; `pinned` is the stack's `gpu-memory-utilization`, else strixc's own.
    Gpu {
        demand: AgentDemand,
        pinned: Option<Utilization>,
    },
    /// An agent outside the GPU budget (e.g. llama.cpp on the CPU): plain memory.
    Memory { bytes: u64 },
}

/// One GPU agent's numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GpuBudget {
    /// W + overhead + kvB × round_up_16(kv_tokens).
    pub required_bytes: u64,
    /// The utilization in effect: the pinned one, or [`utilization_for`] the requirement.
    pub utilization: Utilization,
    pub pinned: bool,
    /// The smallest utilization that holds the KV tokens asked for
    /// ([`min_utilization_for_context`]).
    pub needed: Utilization,
    /// ceil(T × utilization): what vLLM takes.
    pub requested_bytes: u64,
    /// The KV tokens vLLM will allocate at `utilization`.
    pub kv_cache_tokens: u64,
    /// Their size: kv_cache_tokens × kvB.
    pub kv_cache_bytes: u64,
    /// round_up_16 of the KV tokens asked for.
    pub kv_tokens_wanted: u64,
}

impl GpuBudget {
    /// The KV cache vLLM gets is smaller than asked for (only possible when pinned). Not one
    /// of the profile rules: it is the agent's own problem, the same in every profile.
    pub fn too_small(&self) -> bool {
        self.kv_cache_tokens < self.kv_tokens_wanted
    }
}

/// One agent's share of a profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentBudget {
    Gpu(GpuBudget),
    Memory { bytes: u64 },
}

impl AgentBudget {
    /// The memory this agent takes: requested bytes for a GPU agent, else its memory.
    pub fn memory_bytes(&self) -> u64 {
        match self {
            AgentBudget::Gpu(g) => g.requested_bytes,
            AgentBudget::Memory { bytes } => *bytes,
        }
    }

    pub fn utilization(&self) -> Option<Utilization> {
        match self {
            AgentBudget::Gpu(g) => Some(g.utilization),
            AgentBudget::Memory { .. } => None,
        }
    }
}

/// A rule the profile breaks, with how far it is off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BudgetProblem {
    /// Unified: Σ requested + Σ non-GPU memory + reserve > host memory. Discrete: Σ non-GPU
    /// memory + reserve > host memory. `used_bytes` is what the agents take (without the
    /// reserve), `budget_bytes` = host memory − reserve, `over_bytes` = used + reserve −
    /// host memory.
    HostMemory {
        used_bytes: u64,
        budget_bytes: u64,
        over_bytes: u64,
    },
    /// Σ u > 1.00; `over_bytes` = Σ requested − T.
    GpuShare { total: Utilization, over_bytes: u64 },
    /// One agent's u > max-utilization; `over_bytes` = its requested − ceil(T × max).
    AboveMaxUtilization {
        agent: usize,
        utilization: Utilization,
        max: Utilization,
        over_bytes: u64,
    },
}

/// A profile's numbers and the rules it breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileBudget {
    /// In the order of the input.
    pub agents: Vec<AgentBudget>,
    /// Σ u of the GPU agents (saturating).
    pub gpu_share: Utilization,
    /// Σ requested bytes of the GPU agents.
    pub gpu_bytes: u64,
    /// Σ memory of the non-GPU agents.
    pub other_bytes: u64,
    /// Everything the profile's agents take: gpu_bytes + other_bytes.
    pub total_bytes: u64,
    /// What the profile may take. Unified: host memory − reserve. Discrete: T + host memory
    /// − reserve (VRAM plus the RAM outside the reserve); there the per-pool rules in
    /// `problems` decide, not this sum.
    pub budget_bytes: u64,
    /// Empty when the profile fits.
    pub problems: Vec<BudgetProblem>,
}

impl ProfileBudget {
    pub fn fits(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Each agent's share and the profile's fit on `host`.
pub fn profile_budget(host: &HostCapacity, agents: &[AgentLoad]) -> ProfileBudget {
    let t = host.gpu_total;
    let agents: Vec<AgentBudget> = agents.iter().map(|a| agent_budget(host, a)).collect();

    let mut gpu_share = Utilization::ZERO;
    let mut gpu_bytes = 0u64;
    let mut other_bytes = 0u64;
    let mut problems = Vec::new();
    for (index, agent) in agents.iter().enumerate() {
        match agent {
            AgentBudget::Gpu(g) => {
                gpu_share = gpu_share.saturating_add(g.utilization);
                gpu_bytes = gpu_bytes.saturating_add(g.requested_bytes);
                if g.utilization > host.max_utilization {
                    problems.push(BudgetProblem::AboveMaxUtilization {
                        agent: index,
                        utilization: g.utilization,
                        max: host.max_utilization,
                        over_bytes: g
                            .requested_bytes
                            .saturating_sub(requested_bytes(t, host.max_utilization)),
                    });
                }
            }
            AgentBudget::Memory { bytes } => other_bytes = other_bytes.saturating_add(*bytes),
        }
    }
    if gpu_share > Utilization::ONE {
        problems.push(BudgetProblem::GpuShare {
            total: gpu_share,
            over_bytes: gpu_bytes.saturating_sub(t),
        });
    }

    let host_budget = host.memory.saturating_sub(host.reserve);
    let total_bytes = gpu_bytes.saturating_add(other_bytes);
    let host_used = if host.unified {
        total_bytes
    } else {
        other_bytes
    };
    let host_needed = host_used.saturating_add(host.reserve);
    if host_needed > host.memory {
        problems.push(BudgetProblem::HostMemory {
            used_bytes: host_used,
            budget_bytes: host_budget,
            over_bytes: host_needed - host.memory,
        });
    }
    let budget_bytes = if host.unified {
        host_budget
    } else {
        host_budget.saturating_add(t)
    };

    ProfileBudget {
        agents,
        gpu_share,
        gpu_bytes,
        other_bytes,
        total_bytes,
        budget_bytes,
        problems,
    }
}

fn agent_budget(host: &HostCapacity, agent: &AgentLoad) -> AgentBudget {
    let (demand, pinned) = match *agent {
        AgentLoad::Memory { bytes } => return AgentBudget::Memory { bytes },
        AgentLoad::Gpu { demand, pinned } => (demand, pinned),
    };
    let t = host.gpu_total;
    let required_bytes = demand.required_bytes();
    let utilization = pinned.unwrap_or_else(|| utilization_for(required_bytes, t));
    let AgentDemand {
        weights,
        overhead,
        kv_bytes_per_token: kvb,
        kv_tokens,
    } = demand;
    let tokens = kv_cache_tokens(t, utilization, weights, overhead, kvb);
    AgentBudget::Gpu(GpuBudget {
        required_bytes,
        utilization,
        pinned: pinned.is_some(),
        needed: min_utilization_for_context(t, weights, overhead, kvb, kv_tokens),
        requested_bytes: requested_bytes(t, utilization),
        kv_cache_tokens: tokens,
        kv_cache_bytes: tokens.saturating_mul(kvb),
        kv_tokens_wanted: round_up_16(kv_tokens),
    })
}

/// The suggestion for an over-budget profile: the largest context C, a multiple of
/// [`CONTEXT_SUGGESTION_STEP`] (256), such that with every GPU agent's KV tokens capped at
/// C (`min(kv_tokens, C)`) the profile fits. One number common to the profile's agents, so
/// the diagnostic can say "fits with context ≤ C".
///
/// Searched between 256 and the largest KV tokens of the profile rounded up to 256; returns
/// that upper end when the profile already fits. `None` when no cap helps: even 256 tokens
/// do not fit (weights, pinned agents, non-GPU memory or the reserve are too much alone), or
/// the profile has no unpinned GPU agent. Capping only lowers requirements, so fitting is
/// monotone in C and a binary search finds it.
pub fn largest_common_context(host: &HostCapacity, agents: &[AgentLoad]) -> Option<u64> {
    let step = CONTEXT_SUGGESTION_STEP;
    let largest = agents
        .iter()
        .filter_map(|a| match a {
            AgentLoad::Gpu {
                demand,
                pinned: None,
            } => Some(demand.kv_tokens),
            _ => None,
        })
        .max()?;
    let fits_at = |steps: u64| {
        let cap = steps.saturating_mul(step);
        let capped: Vec<AgentLoad> = agents
            .iter()
            .map(|a| match *a {
                AgentLoad::Gpu { demand, pinned } => AgentLoad::Gpu {
                    demand: demand.capped(cap),
                    pinned,
                },
                other => other,
            })
            .collect();
        profile_budget(host, &capped).fits()
    };
    // Invariant: fits_at(lo) holds, fits_at(hi + 1) does not (or hi is the top).
    let top = largest.div_ceil(step).max(1);
    if !fits_at(1) {
        return None;
    }
    let (mut lo, mut hi) = (1u64, top);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if fits_at(mid) {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    Some(lo * step)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::budget::{GIB, KvDtype, default_overhead, kv_bytes_per_token};

    const GB: u64 = 1_000_000_000;

    fn strix_halo() -> HostCapacity {
        HostCapacity {
            memory: 128 * GIB,
            gpu_total: 124 * GIB,
            reserve: 8 * GIB,
            unified: true,
            max_utilization: Utilization(90),
        }
    }

    fn vllm(weights: u64, layers: u64, kv_heads: u64, context: u64) -> AgentLoad {
        AgentLoad::Gpu {
            demand: AgentDemand {
                weights,
                overhead: default_overhead(weights),
                kv_bytes_per_token: kv_bytes_per_token(layers, kv_heads, 128, KvDtype::Auto),
                kv_tokens: context,
            },
            pinned: None,
        }
    }

    fn thor() -> AgentLoad {
        vllm(9_980_000_000, 48, 8, 32_768)
    }

    fn gpu(b: &AgentBudget) -> GpuBudget {
        match b {
            AgentBudget::Gpu(g) => *g,
            AgentBudget::Memory { .. } => panic!("not a GPU agent"),
        }
    }

    #[test]
    fn standard_profile_fits_the_strix_halo() {
        // Thor + Valkyrie (Qwen3-Coder-30B-A3B AWQ, ~17 GB assumed here).
        let valkyrie = vllm(17 * GB, 48, 4, 32_768);
        let p = profile_budget(&strix_halo(), &[thor(), valkyrie]);
        assert!(p.fits(), "{p:?}");
        let thor = gpu(&p.agents[0]);
        assert_eq!(thor.utilization, Utilization(16));
        assert_eq!(thor.requested_bytes, 21_303_037_789);
        assert_eq!(thor.kv_cache_tokens, 37_104);
        assert_eq!(thor.kv_cache_bytes, 37_104 * 196_608);
        assert!(!thor.pinned && !thor.too_small());
        // Valkyrie: 17e9 + 4.5 GiB + 98,304 × 32,768 (3 GiB) = 25,053,063,680 → 0.19.
        let valkyrie = gpu(&p.agents[1]);
        assert_eq!(valkyrie.required_bytes, 25_053_063_680);
        assert_eq!(valkyrie.utilization, Utilization(19));
        assert_eq!(p.gpu_share, Utilization(35));
        assert_eq!(p.gpu_bytes, 21_303_037_789 + 25_297_357_374);
        assert_eq!(p.total_bytes, p.gpu_bytes);
        assert_eq!(p.budget_bytes, 120 * GIB);
    }

    #[test]
    fn host_memory_rule_reports_the_overrun() {
        // Three pinned 0.33 agents: Σu = 0.99, but 0.99 × 124 GiB + reserve > 128 GiB.
        let pinned = |u| match thor() {
            AgentLoad::Gpu { demand, .. } => AgentLoad::Gpu {
                demand,
                pinned: Some(Utilization(u)),
            },
            other => other,
        };
        let p = profile_budget(&strix_halo(), &[pinned(33), pinned(33), pinned(33)]);
        let each = requested_bytes(124 * GIB, Utilization(33));
        assert_eq!(each, 43_937_515_439);
        assert_eq!(
            p.problems,
            vec![BudgetProblem::HostMemory {
                used_bytes: 3 * each,
                budget_bytes: 120 * GIB,
                over_bytes: 3 * each - 120 * GIB,
            }]
        );
        assert!(gpu(&p.agents[0]).pinned);
    }

    #[test]
    fn gpu_share_and_max_utilization_rules() {
        let host = HostCapacity {
            memory: 1024 * GIB,
            ..strix_halo()
        };
        // 60 GB of weights: required ≈ 0.56 > 0.50 max; two of them exceed 1.00.
        let big = vllm(60 * GB, 48, 8, 32_768);
        let host = HostCapacity {
            max_utilization: Utilization(50),
            ..host
        };
        let p = profile_budget(&host, &[big, big]);
        let g = gpu(&p.agents[0]);
        assert_eq!(g.utilization, Utilization(56));
        let over_max = g.requested_bytes - requested_bytes(124 * GIB, Utilization(50));
        assert_eq!(
            p.problems,
            vec![
                BudgetProblem::AboveMaxUtilization {
                    agent: 0,
                    utilization: Utilization(56),
                    max: Utilization(50),
                    over_bytes: over_max,
                },
                BudgetProblem::AboveMaxUtilization {
                    agent: 1,
                    utilization: Utilization(56),
                    max: Utilization(50),
                    over_bytes: over_max,
                },
                BudgetProblem::GpuShare {
                    total: Utilization(112),
                    over_bytes: 2 * g.requested_bytes - 124 * GIB,
                },
            ]
        );
    }

    #[test]
    fn non_gpu_agents_count_against_host_memory() {
        let cpu = AgentLoad::Memory { bytes: 110 * GIB };
        let p = profile_budget(&strix_halo(), &[thor(), cpu]);
        let thor_bytes = gpu(&p.agents[0]).requested_bytes;
        assert_eq!(p.other_bytes, 110 * GIB);
        assert_eq!(p.agents[1].memory_bytes(), 110 * GIB);
        assert_eq!(p.agents[1].utilization(), None);
        assert_eq!(
            p.problems,
            vec![BudgetProblem::HostMemory {
                used_bytes: thor_bytes + 110 * GIB,
                budget_bytes: 120 * GIB,
                over_bytes: thor_bytes + 110 * GIB + 8 * GIB - 128 * GIB,
            }]
        );
    }

    #[test]
    fn discrete_host_keeps_the_pools_apart() {
        let host = HostCapacity {
            memory: 64 * GIB,
            gpu_total: 80 * GIB,
            reserve: 8 * GIB,
            unified: false,
            max_utilization: Utilization(95),
        };
        // 0.9 × 80 GiB of VRAM + 50 GiB RAM: fits apart, would not fit in 64 GiB together.
        let pinned = match thor() {
            AgentLoad::Gpu { demand, .. } => AgentLoad::Gpu {
                demand,
                pinned: Some(Utilization(90)),
            },
            other => other,
        };
        let p = profile_budget(&host, &[pinned, AgentLoad::Memory { bytes: 50 * GIB }]);
        assert!(p.fits(), "{p:?}");
        assert_eq!(p.budget_bytes, 136 * GIB);
        let p = profile_budget(&host, &[pinned, AgentLoad::Memory { bytes: 57 * GIB }]);
        assert_eq!(
            p.problems,
            vec![BudgetProblem::HostMemory {
                used_bytes: 57 * GIB,
                budget_bytes: 56 * GIB,
                over_bytes: GIB,
            }]
        );
    }

    #[test]
    fn pinned_too_small_is_reported_on_the_agent() {
        let AgentLoad::Gpu { demand, .. } = thor() else {
            unreachable!()
        };
        let p = profile_budget(
            &strix_halo(),
            &[AgentLoad::Gpu {
                demand,
                pinned: Some(Utilization(15)),
            }],
        );
        let g = gpu(&p.agents[0]);
        assert!(
            p.fits(),
            "the profile rules hold; the agent's own check fails"
        );
        assert!(g.too_small());
        assert_eq!(g.needed, Utilization(16));
        assert_eq!(g.kv_tokens_wanted, 32_768);
        assert!(g.kv_cache_tokens < 32_768);
    }

    #[test]
    fn largest_common_context_suggestion() {
        // Thor with a 160k context does not fit under a 0.20 cap; the suggestion does.
        let host = HostCapacity {
            max_utilization: Utilization(20),
            ..strix_halo()
        };
        let greedy = vllm(9_980_000_000, 48, 8, 163_840);
        assert!(!profile_budget(&host, &[greedy]).fits());
        let c = largest_common_context(&host, &[greedy]).expect("a cap helps");
        // 0.20 × 124 GiB = 26,628,797,236 − 9.98e9 − 3.75 GiB = 12,622,265,396 bytes,
        // / 196,608 = 64,200.6 tokens → 64,000 in steps of 256.
        assert_eq!(c, 64_000);
        let capped = |c| match greedy {
            AgentLoad::Gpu { demand, pinned } => AgentLoad::Gpu {
                demand: demand.capped(c),
                pinned,
            },
            other => other,
        };
        assert!(profile_budget(&host, &[capped(c)]).fits());
        assert!(!profile_budget(&host, &[capped(c + 256)]).fits());

        // Already fitting: the top of the range.
        assert_eq!(
            largest_common_context(&strix_halo(), &[thor()]),
            Some(32_768)
        );
        // Weights alone too big: no context helps.
        let huge = vllm(200 * GB, 48, 8, 32_768);
        assert_eq!(largest_common_context(&strix_halo(), &[huge]), None);
        // No GPU agent to cap.
        let cpu = AgentLoad::Memory { bytes: GIB };
        assert_eq!(largest_common_context(&strix_halo(), &[cpu]), None);
    }

    #[test]
    fn absurd_hosts_do_not_panic() {
        let max = u64::MAX;
        let host = HostCapacity {
            memory: max,
            gpu_total: 0,
            reserve: max,
            unified: true,
            max_utilization: Utilization::MAX,
        };
        let absurd = AgentLoad::Gpu {
            demand: AgentDemand {
                weights: max,
                overhead: max,
                kv_bytes_per_token: max,
                kv_tokens: max,
            },
            pinned: None,
        };
        let loads = [absurd, absurd, AgentLoad::Memory { bytes: max }];
        let p = profile_budget(&host, &loads);
        assert!(!p.fits());
        assert_eq!(largest_common_context(&host, &loads), None);
    }
}
