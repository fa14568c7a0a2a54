//! Plan: the numbers and relations the stack implies, derived once from a checked stack —
//! each agent's utilization and memory, the global start order, which units each profile
//! wants and conflicts with, the OpenCode token caps. Pure; render only formats it.

pub mod budget;
mod gateway;
mod order;

use std::net::{IpAddr, Ipv4Addr};

use crate::stack::unit_names::{
    agent_file_name, agent_stem, agent_unit_name, profile_target_name, slice_name,
};
use crate::stack::{
    Agent, Engine, Launch, Model, PodmanVersion, Profile, Runtime, Stack, defaults,
};
use budget::{AgentBudget, AgentDemand, AgentLoad, KvDtype, ProfileBudget, Utilization};
pub use gateway::GatewayPlan;

#[derive(Debug, Clone)]
pub struct Plan<'s> {
    pub stack: &'s Stack,
    pub host: budget::HostCapacity,
    pub podman: PodmanVersion,
    /// In the global start order. One total order orders every pair of agents: each
    /// starts after every agent before it (`started_before`), so co-running agents start one
    /// at a time, and on a switch a replaced agent stops before its replacement starts
    /// (systemd orders a stop before a start whichever way two units are ordered).
    pub agents: Vec<AgentPlan<'s>>,
    /// In declaration order.
    pub profiles: Vec<ProfilePlan<'s>>,
    /// Index into `profiles`.
    pub default_profile: usize,
    /// `norse.slice`: every agent runs in it.
    pub slice: String,
    pub gateway: Option<GatewayPlan>,
}

#[derive(Debug, Clone)]
pub struct AgentPlan<'s> {
    pub agent: &'s Agent,
    pub model: &'s Model,
    pub runtime: &'s Runtime,
    /// `norse-thor`: the unit's name without suffix, also the container's name.
    pub unit_stem: String,
    /// `norse-thor.service`: the unit it runs as.
    pub unit: String,
    /// `norse-thor.container` (quadlet) or `norse-thor.service` (native): its unit file.
    pub unit_file: String,
    pub port: u16,
    pub bind: IpAddr,
    pub context: u64,
    pub max_seqs: u64,
    pub kv_dtype: KvDtype,
    pub load: AgentLoad,
    /// The agent's own numbers; the same in every profile, since one unit file serves all.
    pub budget: AgentBudget,
    /// oh-my-opencode agents served, with their output cap.
    pub opencode: Vec<(&'s str, u64)>,
}

impl<'s> Plan<'s> {
    /// The agents agent `index` starts after: every one earlier in the start order.
    pub fn started_before(&self, index: usize) -> &[AgentPlan<'s>] {
        &self.agents[..index]
    }
}

impl AgentPlan<'_> {
    pub fn name(&self) -> &str {
        &self.agent.name
    }

    pub fn engine(&self) -> Engine {
        self.runtime.engine.value
    }

    pub fn utilization(&self) -> Option<Utilization> {
        self.budget.utilization()
    }

    /// How long a start may take (`TimeoutStartSec=`): the runtime's health `start-period`,
    /// or the default one.
    pub fn start_period_ms(&self) -> u64 {
        self.runtime
            .health
            .as_ref()
            .and_then(|h| h.start_period_ms.as_ref().map(|s| s.value))
            .unwrap_or(crate::stack::defaults::HEALTH_START_PERIOD_MS)
    }

    /// What `{model}` means: the Hugging Face repo, or the local path (GGUF files).
    pub fn model_source(&self) -> &str {
        match (&self.model.path, &self.model.repo) {
            (Some(path), _) if self.engine() == Engine::LlamaCpp => path,
            (_, Some(repo)) => repo,
            (Some(path), None) => path,
            (None, None) => &self.model.name,
        }
    }
}

#[derive(Debug, Clone)]
pub struct ProfilePlan<'s> {
    pub profile: &'s Profile,
    /// `norse-standard.target`.
    pub target: String,
    /// Indices into `Plan::agents`, in start order.
    pub agents: Vec<usize>,
    pub budget: ProfileBudget,
}

impl ProfilePlan<'_> {
    pub fn name(&self) -> &str {
        &self.profile.name
    }
}

/// Plans a stack that passed `check`. `None` if something the checks guarantee is missing
/// (a bug: the caller reports it as such).
pub fn plan(stack: &Stack) -> Option<Plan<'_>> {
    let host = host_capacity(stack);
    let order = order::start_order(stack);
    let mut agents = Vec::with_capacity(stack.agents.len());
    for &index in &order {
        agents.push(agent_plan(stack, &stack.agents[index], &host)?);
    }
    let positions: std::collections::HashMap<&str, usize> = agents
        .iter()
        .enumerate()
        .map(|(i, a)| (a.agent.name.as_str(), i))
        .collect();
    let position = |name: &str| positions.get(name).copied();
    let mut profiles = Vec::with_capacity(stack.profiles.len());
    for profile in &stack.profiles {
        let mut members: Vec<usize> = stack
            .profile_agents(&profile.name)
            .into_iter()
            .map(position)
            .collect::<Option<_>>()?;
        members.sort_unstable();
        let loads: Vec<AgentLoad> = members.iter().map(|&i| agents[i].load).collect();
        profiles.push(ProfilePlan {
            profile,
            target: profile_target_name(stack, &profile.name.value),
            budget: budget::profile_budget(&host, &loads),
            agents: members,
        });
    }
    let default_profile = stack.profiles.iter().position(Profile::is_default)?;
    Some(Plan {
        stack,
        host,
        podman: stack
            .host
            .podman
            .as_ref()
            .map(|p| p.value)
            .unwrap_or(defaults::PODMAN),
        agents,
        profiles,
        default_profile,
        gateway: gateway::gateway(stack),
        slice: slice_name(stack),
    })
}

fn host_capacity(stack: &Stack) -> budget::HostCapacity {
    let host = &stack.host;
    let memory = host.memory.as_ref().map_or(0, |m| m.value);
    let gpu = host.gpu.as_ref();
    budget::HostCapacity {
        memory,
        gpu_total: gpu.and_then(|g| g.memory.as_ref()).map_or(0, |m| m.value),
        reserve: host
            .reserve
            .as_ref()
            .map_or(defaults::RESERVE_BYTES, |r| r.value),
        unified: gpu.is_none_or(|g| g.unified),
        max_utilization: Utilization(
            host.max_utilization
                .as_ref()
                .map_or(defaults::MAX_UTILIZATION_HUNDREDTHS, |u| u.value),
        ),
    }
}

fn agent_plan<'s>(
    stack: &'s Stack,
    agent: &'s Agent,
    host: &budget::HostCapacity,
) -> Option<AgentPlan<'s>> {
    let model = stack.model(agent.model.as_ref()?)?;
    let runtime = stack.runtime_of(agent)?;
    let context = agent.context.as_ref()?.value;
    let kv_dtype = agent
        .kv_cache_dtype
        .as_ref()
        .map_or(KvDtype::Auto, |d| d.value);
    let weights = model.weights.as_ref()?.value;
    let kv_bytes_per_token = budget::kv_bytes_per_token(
        model.layers.as_ref()?.value,
        model.kv_heads.as_ref()?.value,
        model.head_dim.as_ref()?.value,
        kv_dtype,
    );
    let demand = AgentDemand::new(
        weights,
        agent.overhead.as_ref().map(|o| o.value),
        kv_bytes_per_token,
        agent.kv_tokens.as_ref().map_or(context, |k| k.value),
    );
    let load = match runtime.engine.value {
        Engine::Vllm => AgentLoad::Gpu {
            demand,
            pinned: agent
                .gpu_memory_utilization
                .as_ref()
                .map(|u| Utilization(u.value)),
        },
        Engine::LlamaCpp => AgentLoad::Memory {
            bytes: demand.required_bytes(),
        },
    };
    let budget = budget::profile_budget(host, &[load])
        .agents
        .first()
        .copied()?;
    Some(AgentPlan {
        agent,
        model,
        runtime,
        unit_stem: agent_stem(stack, &agent.name.value),
        unit: agent_unit_name(stack, &agent.name.value),
        unit_file: agent_file_name(
            stack,
            &agent.name.value,
            matches!(runtime.launch, Some(Launch::Native { .. })),
        ),
        port: agent.port.as_ref()?.value,
        bind: agent
            .bind
            .as_ref()
            .map_or(IpAddr::V4(Ipv4Addr::LOCALHOST), |b| b.value),
        context,
        max_seqs: agent
            .max_seqs
            .as_ref()
            .map_or(defaults::MAX_SEQS as u64, |m| m.value),
        kv_dtype,
        load,
        budget,
        opencode: agent
            .opencode
            .iter()
            .map(|cap| {
                (
                    cap.name.as_str(),
                    cap.max_tokens.as_ref().map_or(context / 2, |m| m.value),
                )
            })
            .collect(),
    })
}
