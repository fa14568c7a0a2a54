//! `strixc status`: the live state of the current generation's agents.

use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use super::generations::{self, format_time};
use super::health::probe;
use super::layout::Mode;
use super::{ApplyContext, ApplyOptions, ProgressMode, journal, lock, switch};
use crate::activate::systemd::{DbusSystemd, Systemd};
use crate::error::Error;
use crate::tree::manifest::Manifest;

#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub mode: Mode,
    pub stack: String,
    pub generation: u64,
    /// The profile the current generation switched to.
    pub profile: String,
    /// Whether the running system was asked: `false` under `--root` (an offline prefix
    /// runs nothing), where no profile is active and agents have no `live` state.
    pub live: bool,
    /// Profiles whose target is active right now (normally exactly one).
    pub active_profiles: Vec<String>,
    pub agents: Vec<AgentStatus>,
    /// AMD GPUs' GTT use (`/sys/class/drm/card*/device/mem_info_gtt_*`); empty elsewhere.
    pub gpu: Vec<GpuMemory>,
    /// An interrupted switch undone before reading, one in progress, or one kept by
    /// `--no-rollback`.
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AgentStatus {
    pub name: String,
    pub unit: String,
    pub in_profile: bool,
    /// What its unit is doing now; `None` under `--root`.
    #[serde(flatten)]
    pub live: Option<AgentLive>,
}

/// An agent's unit as systemd and its endpoints report it now.
#[derive(Debug, Clone, Serialize)]
pub struct AgentLive {
    pub load_state: String,
    pub active_state: String,
    pub sub_state: String,
    /// When the unit entered its current state, µs since the epoch (0: never).
    pub since_usec: u64,
    pub health: Option<HealthAnswer>,
    /// The unit's cgroup memory (MemoryCurrent), when systemd accounts it.
    pub memory_bytes: Option<u64>,
    /// Requests at the gateway and in the engine, when either reports them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub load: Option<super::load::AgentLoad>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HealthAnswer {
    pub url: String,
    /// HTTP status, `None` when there was no answer.
    pub status: Option<u16>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct GpuMemory {
    pub card: String,
    pub gtt_used_bytes: u64,
    pub gtt_total_bytes: Option<u64>,
}

const HEALTH_TIMEOUT: Duration = Duration::from_millis(500);

/// `strixc status [--json]`: needs a current generation (`Error::NothingApplied`, exit 5,
/// otherwise) and the bus, except under `--root`, where it reports the recorded generation
/// without live states. A switch that died (its journal left behind, the lock free) is
/// undone first, so status never shows a world without the agents it started; one still
/// running, or one `--no-rollback` kept, is named in `notes`.
pub fn status(ctx: &ApplyContext) -> Result<Status, Error> {
    let state = &ctx.layout.state_dir;
    // A damaged state folder is named before anything else is said or done.
    generations::check(state)?;
    let nothing = || {
        Error::NothingApplied(format!(
            "nothing applied yet: no generation in {} (run `strixc apply` first)",
            state.display()
        ))
    };
    if generations::current_number(state)?.is_none() && journal::pending(state)?.is_none() {
        return Err(nothing());
    }
    let sd = if ctx.activate {
        Some(DbusSystemd::connect(&ctx.bus)?)
    } else {
        None
    };
    let (notes, shown) = settle_pending(ctx, sd.as_ref())?;
    let current = generations::current(state)?;
    let (manifest, generation, profile_name) = match (shown, &current) {
        (Some((manifest, profile)), current) => {
            (manifest, current.as_ref().map_or(0, |g| g.number), profile)
        }
        (None, Some(g)) => (g.manifest()?, g.number, g.profile.clone()),
        (None, None) => return Err(nothing()),
    };
    let in_profile = |name: &String| {
        manifest
            .profile(&profile_name)
            .is_some_and(|p| p.agents.contains(name))
    };
    let live = match &sd {
        Some(sd) => Some(live_states(sd, &manifest)?),
        None => None,
    };
    let agents = manifest
        .agents
        .iter()
        .enumerate()
        .map(|(i, agent)| AgentStatus {
            name: agent.name.clone(),
            unit: agent.unit.clone(),
            in_profile: in_profile(&agent.name),
            live: live.as_ref().map(|l| l.agents[i].clone()),
        })
        .collect();
    let (active_profiles, gpu) = live.map(|l| (l.profiles, l.gpu)).unwrap_or_default();
    Ok(Status {
        mode: ctx.layout.mode,
        stack: manifest.stack.clone(),
        generation,
        profile: profile_name,
        live: sd.is_some(),
        notes,
        active_profiles,
        agents,
        gpu,
    })
}

/// The manifest and profile of a switch `--no-rollback` kept, shown instead of the current
/// generation's.
type Kept = (Manifest, String);

/// A pending journal: a switch `--no-rollback` kept is shown as it is (its manifest and profile
/// returned), one that died is undone (under the lock), one in progress is named.
fn settle_pending(
    ctx: &ApplyContext,
    sd: Option<&DbusSystemd>,
) -> Result<(Vec<String>, Option<Kept>), Error> {
    let state = &ctx.layout.state_dir;
    let mut notes = Vec::new();
    let Some(pending) = journal::pending(state)? else {
        return Ok((notes, None));
    };
    if pending.intent.kept {
        notes.push(format!(
            "the failed {} was left installed (--no-rollback): shown below; the next \
             apply or rollback undoes it",
            pending.intent.describe()
        ));
        return Ok((notes, Some((pending.manifest()?, pending.intent.profile))));
    }
    match lock::acquire(state, true, true) {
        Ok(_lock) => {
            // Re-read under the lock: the switch may have ended meanwhile.
            if let Some(pending) = journal::pending(state)? {
                let opts = ApplyOptions {
                    progress: ProgressMode::Quiet,
                    ..ApplyOptions::default()
                };
                let sd = sd.map(|sd| sd as &dyn Systemd);
                notes.push(switch::recover(ctx, sd, pending, &opts)?);
            }
        }
        Err(Error::Locked { holder, .. }) => notes.push(format!(
            "a switch is in progress (the lock is held{holder}): {}",
            pending.intent.describe()
        )),
        Err(e) => return Err(e),
    }
    Ok((notes, None))
}

/// The profiles whose target is active now, in the manifest's order.
pub(super) fn active_profiles(sd: &dyn Systemd, manifest: &Manifest) -> Result<Vec<String>, Error> {
    let targets: Vec<&str> = manifest
        .profiles
        .iter()
        .map(|p| p.target.as_str())
        .collect();
    Ok(sd
        .units(&targets)?
        .iter()
        .filter(|s| s.is_active())
        .filter_map(|s| manifest.profiles.iter().find(|p| p.target == s.name))
        .map(|p| p.name.clone())
        .collect())
}

/// What the running system says about a generation's stack.
struct Live {
    profiles: Vec<String>,
    /// One per agent of the manifest, in its order.
    agents: Vec<AgentLive>,
    gpu: Vec<GpuMemory>,
}

fn live_states(sd: &DbusSystemd, manifest: &Manifest) -> Result<Live, Error> {
    Ok(Live {
        profiles: active_profiles(sd, manifest)?,
        agents: agents(sd, manifest)?,
        gpu: gpu_memory(Path::new("/sys/class/drm")),
    })
}

/// Every agent of `manifest`: its unit's state and memory, health answer and load.
fn agents(sd: &DbusSystemd, manifest: &Manifest) -> Result<Vec<AgentLive>, Error> {
    let health = probe_all(manifest);
    let loads = super::load::loads(sd, manifest);
    let mut agents = Vec::new();
    for ((agent, health), load) in manifest.agents.iter().zip(health).zip(loads) {
        let d = sd.details(&agent.unit)?;
        agents.push(AgentLive {
            load_state: d.status.load_state,
            active_state: d.status.active_state,
            sub_state: d.status.sub_state,
            since_usec: d.state_change_usec,
            health,
            memory_bytes: d.memory_current,
            load,
        });
    }
    Ok(agents)
}

/// Probes every agent's health endpoint at once: one slow agent must not make status slow.
fn probe_all(manifest: &Manifest) -> Vec<Option<HealthAnswer>> {
    std::thread::scope(|scope| {
        let probes: Vec<_> = manifest
            .agents
            .iter()
            .map(|a| {
                scope.spawn(move || {
                    let url = a.health_url.as_ref()?;
                    let (status, error) = match probe(url, HEALTH_TIMEOUT) {
                        Ok(code) => (Some(code), None),
                        Err(e) => (None, Some(e)),
                    };
                    Some(HealthAnswer {
                        url: url.clone(),
                        status,
                        error,
                    })
                })
            })
            .collect();
        probes
            .into_iter()
            .map(|p| p.join().ok().flatten())
            .collect()
    })
}

fn gpu_memory(drm: &Path) -> Vec<GpuMemory> {
    let Ok(entries) = std::fs::read_dir(drm) else {
        return Vec::new();
    };
    let read = |p: &Path| std::fs::read_to_string(p).ok()?.trim().parse::<u64>().ok();
    let mut cards: Vec<GpuMemory> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let card = e.file_name().to_str()?.to_string();
            if !card.starts_with("card") || card.contains('-') {
                return None;
            }
            let device = e.path().join("device");
            Some(GpuMemory {
                gtt_used_bytes: read(&device.join("mem_info_gtt_used"))?,
                gtt_total_bytes: read(&device.join("mem_info_gtt_total")),
                card,
            })
        })
        .collect();
    cards.sort_by(|a, b| a.card.cmp(&b.card));
    cards
}

fn bytes(n: u64) -> String {
    format!("{:.1} GiB", n as f64 / (1u64 << 30) as f64)
}

impl Status {
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    pub fn render(&self) -> String {
        let mut out: String = self.notes.iter().map(|n| format!("note: {n}\n")).collect();
        out.push_str(&format!(
            "stack {}, generation {} (profile {}); {}\n",
            self.stack,
            self.generation,
            self.profile,
            self.running()
        ));
        for a in &self.agents {
            let live = a.live.as_ref().map_or_else(String::new, AgentLive::render);
            let line = format!(
                "{} {:<12} {:<28} {live}",
                if a.in_profile { "*" } else { " " },
                a.name,
                a.unit,
            );
            out.push_str(line.trim_end());
            out.push('\n');
        }
        for g in &self.gpu {
            let total = g
                .gtt_total_bytes
                .map_or_else(String::new, |t| format!(" of {}", bytes(t)));
            out.push_str(&format!(
                "GPU {}: GTT {} used{total}\n",
                g.card,
                bytes(g.gtt_used_bytes)
            ));
        }
        out
    }

    /// The header's last part: the active profile, or why there is none to show.
    fn running(&self) -> String {
        if !self.live {
            return "installed under --root: nothing runs there, so live states are not \
                    available (unit states, health, memory)"
                .into();
        }
        match self.active_profiles.as_slice() {
            [] => "active profile: none".into(),
            active => format!("active profile: {}", active.join(", ")),
        }
    }
}

impl AgentLive {
    /// `active (running) since ..., health 200, 3.1 GiB; KV cache 12%`.
    fn render(&self) -> String {
        let since = if self.since_usec == 0 {
            String::new()
        } else {
            format!(" since {}", format_time(self.since_usec / 1_000_000))
        };
        let health = match &self.health {
            Some(HealthAnswer {
                status: Some(code), ..
            }) => format!("health {code}"),
            Some(HealthAnswer { error: Some(e), .. }) => format!("health: {e}"),
            _ => "no health check".into(),
        };
        let mut memory = self
            .memory_bytes
            .map_or_else(String::new, |m| format!(", {}", bytes(m)));
        if let Some(load) = self.load.as_ref().filter(|l| !l.is_empty()) {
            memory.push_str(&format!("; {}", load.render()));
        }
        format!(
            "{} ({}){since}, {health}{memory}",
            self.active_state, self.sub_state
        )
    }
}
