//! The generated tree: a checked stack's plan rendered into files (README: "What `build` writes"), with its
//! `manifest.json`. Pure: reads nothing but the source it is given, no clock, no host.
//!
//! Tree layout (the contract `apply` and `write` rely on):
//!
//! | path | what |
//! |---|---|
//! | `containers/systemd/S-A.container` | a container agent (quadlet) |
//! | `systemd/S-A.service` | a native agent |
//! | `systemd/S-P.target` | one per profile |
//! | `systemd/S.slice` | the slice every agent runs in |
//! | `systemd/<escaped path>.swap`, `systemd/S-swapfile.service` | `swap` (the creator only with a size) |
//! | `sysctl.d/90-S.conf`, `modprobe.d/S.conf`, `earlyoom/earlyoom`, `kernel/cmdline.txt` | host tuning, each only when declared |
//! | `opencode/oh-my-opencode.json`, `opencode/opencode.json` | OpenCode client files |
//! | `manifest.json` | [`Manifest`]: every other file's SHA-256, profiles, agents |

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use crate::plan::AgentPlan;
use crate::plan::Plan;
use crate::render::{self, AgentFile, RenderError};
use crate::stack::unit_names::{swap_creator_name, swap_unit_name};
use crate::stack::{Launch, Stack};
use crate::tree::Tree;
use crate::tree::manifest::{
    MANIFEST_PATH, Manifest, ManifestAgent, ManifestProfile, ManifestSwap,
};

/// From this many agents on, targets and agents render on two threads.
const PARALLEL_FROM_AGENTS: usize = 64;

/// `strixc X.Y.Z`, the manifest's `generator`.
pub const GENERATOR: &str = concat!("strixc ", env!("CARGO_PKG_VERSION"));

/// Renders every file of a planned stack: a function of the stack's content alone.
pub fn render_tree(plan: &Plan) -> Result<Tree, RenderError> {
    let stack = plan.stack;
    let name = &stack.name.value;
    let header = render::header(name);
    let mut tree = Tree::new();

    let (agent_files, target_files) = render_agents_and_targets(plan, &header);
    let mut manifest_agents = Vec::with_capacity(plan.agents.len());
    for (agent, file) in plan.agents.iter().zip(agent_files?) {
        let (devices, volumes) = container_host_paths(agent);
        manifest_agents.push(ManifestAgent {
            name: agent.name().to_owned(),
            unit: agent.unit.clone(),
            files: vec![file.path.clone()],
            health_url: render::health_url(agent),
            port: agent.port,
            devices,
            volumes,
            served_model: Some(agent.model_source().to_owned()),
            summon: agent.agent.summon.as_ref().map(|s| s.value.clone()),
            start_timeout_s: Some(agent.start_period_ms().div_ceil(1000)),
        });
        tree.insert(file.path, file.text);
    }
    let mut manifest_profiles = Vec::with_capacity(plan.profiles.len());
    for (profile, text) in plan.profiles.iter().zip(target_files?) {
        tree.insert(format!("systemd/{}", profile.target), text);
        manifest_profiles.push(ManifestProfile {
            name: profile.name().to_owned(),
            target: profile.target.clone(),
            agents: profile
                .agents
                .iter()
                .map(|&a| plan.agents[a].name().to_owned())
                .collect(),
        });
    }

    tree.insert(
        format!("systemd/{}", plan.slice),
        render::slice(plan, &header)?,
    );
    insert_host_files(&mut tree, stack, &header)?;
    let gateway = plan.gateway.clone();
    if let Some(gateway) = &gateway {
        let (socket, service) = render::gateway_units(plan, gateway, &header)?;
        tree.insert(format!("systemd/{}", gateway.socket), socket);
        tree.insert(format!("systemd/{}", gateway.service), service);
    }
    tree.insert("opencode/oh-my-opencode.json", render::oh_my_opencode(plan));
    tree.insert("opencode/opencode.json", render::opencode(plan));

    let manifest = Manifest {
        generator: GENERATOR.into(),
        stack: name.clone(),
        default_profile: plan.profiles[plan.default_profile].name().to_owned(),
        profiles: manifest_profiles,
        agents: manifest_agents,
        files: file_hashes(&tree),
        swap: stack.host.swap.as_ref().map(|swap| ManifestSwap {
            unit: swap_unit_name(&swap.path.value),
            path: swap.path.value.clone(),
            size: swap.size.as_ref().map(|s| s.value),
        }),
        gateway,
    };
    let mut json = serde_json::to_vec_pretty(&manifest).map_err(|e| RenderError {
        template: "manifest.json",
        message: e.to_string(),
    })?;
    json.push(b'\n');
    tree.insert(MANIFEST_PATH, json);
    Ok(tree)
}

type Rendered<T> = Result<Vec<T>, RenderError>;

/// Every agent's unit and every profile's target. Large stacks: targets (each lists every
/// unit) render on a second thread while the agents render here. Small ones are not worth
/// a thread.
fn render_agents_and_targets(plan: &Plan, header: &str) -> (Rendered<AgentFile>, Rendered<String>) {
    let render_agents = || {
        (0..plan.agents.len())
            .map(|index| render::agent_unit(plan, index, header))
            .collect::<Rendered<_>>()
    };
    let render_targets = || {
        (0..plan.profiles.len())
            .map(|index| render::target(plan, index, header))
            .collect::<Rendered<_>>()
    };
    if plan.agents.len() < PARALLEL_FROM_AGENTS {
        return (render_agents(), render_targets());
    }
    std::thread::scope(|scope| {
        let targets = scope.spawn(render_targets);
        let agents = render_agents();
        let targets = targets.join().unwrap_or_else(|_| {
            Err(RenderError {
                template: "target",
                message: "the rendering thread panicked".into(),
            })
        });
        (agents, targets)
    })
}

/// Host tuning, each file only when the stack declares it: swap (its creator only with a
/// size), sysctl, module options, earlyoom, kernel arguments.
fn insert_host_files(tree: &mut Tree, stack: &Stack, header: &str) -> Result<(), RenderError> {
    let name = &stack.name.value;
    let host = &stack.host;
    if let Some(swap) = &host.swap {
        let path = swap.path.value.as_str();
        let size = swap.size.as_ref().map(|s| s.value);
        tree.insert(
            format!("systemd/{}", swap_unit_name(path)),
            render::swap(stack, path, size, header)?,
        );
        // Without a size there is nothing to create: the file must already exist.
        if let Some(size) = size {
            tree.insert(
                format!("systemd/{}", swap_creator_name(stack)),
                render::swap_creator(stack, path, size, header)?,
            );
        }
    }
    if !host.sysctl.is_empty() {
        tree.insert(
            format!("sysctl.d/90-{name}.conf"),
            render::sysctl(stack, header)?,
        );
    }
    if !host.module_options.is_empty() {
        tree.insert(
            format!("modprobe.d/{name}.conf"),
            render::modprobe(stack, header)?,
        );
    }
    if let Some(earlyoom) = render::earlyoom(stack, header) {
        tree.insert("earlyoom/earlyoom", earlyoom?);
    }
    if !host.kernel_args.is_empty() {
        tree.insert("kernel/cmdline.txt", render::cmdline(stack, header)?);
    }
    Ok(())
}

/// Every file's SHA-256, by path: the manifest's `files`.
fn file_hashes(tree: &Tree) -> BTreeMap<String, String> {
    tree.iter()
        .map(|(path, bytes)| (path.to_owned(), sha256_hex(bytes)))
        .collect()
}

/// A container agent's host devices and the host sides of its volumes, for apply's
/// preflight; nothing for a native agent.
fn container_host_paths(agent: &AgentPlan) -> (Vec<String>, Vec<String>) {
    let runtime = agent.runtime;
    if !matches!(runtime.launch, Some(Launch::Container { .. })) {
        return (Vec::new(), Vec::new());
    }
    let devices = runtime.devices.iter().map(|d| d.value.clone()).collect();
    let volumes = runtime.volumes.iter().map(|(host, _)| host.value.clone());
    (devices, volumes.collect())
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut hex = String::with_capacity(64);
    for byte in digest {
        hex.push(char::from(b"0123456789abcdef"[usize::from(byte >> 4)]));
        hex.push(char::from(b"0123456789abcdef"[usize::from(byte & 15)]));
    }
    hex
}
