//! Which unit actions a switch takes (pure), and the default deadline.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use serde::Serialize;

use crate::activate::systemd::UnitStatus;
use crate::tree::Tree;
use crate::tree::manifest::{Manifest, ManifestProfile};

/// What `apply` does to units, by unit name. `stop` lists what stops: agents of other
/// profiles (through the target's `Conflicts=`) and `stop_explicit` (units of agents or
/// targets the new tree no longer has, stopped by name).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UnitActions {
    pub target: String,
    pub start_target: bool,
    pub start: Vec<String>,
    pub restart: Vec<String>,
    pub stop: Vec<String>,
    #[serde(skip)]
    pub stop_explicit: Vec<String>,
    /// Host services that read files strixc changed (system mode): `systemd-sysctl`
    /// re-applies sysctl.d, earlyoom rereads its settings. Only those the manager has.
    pub host_restart: Vec<String>,
    /// Targets to enable for boot (`EnableUnitFiles`): the default profile's, when it is not
    /// enabled yet.
    pub enable: Vec<String>,
    /// Targets to disable (`DisableUnitFiles`): the previous generation's default profile
    /// target, when it is no longer the one to boot into and is still enabled.
    pub disable: Vec<String>,
}

impl UnitActions {
    pub fn is_noop(&self) -> bool {
        !self.start_target
            && self.start.is_empty()
            && self.restart.is_empty()
            && self.stop.is_empty()
            && self.stop_explicit.is_empty()
            && self.host_restart.is_empty()
            && self.enable.is_empty()
            && self.disable.is_empty()
    }
}

/// Which targets boot should start (the default profile's target, through the
/// `[Install]` section of its file): `(want, stale)` — the default target of `new` if its
/// file in `tree` has an `[Install]` section, and the default target of `old` when it is
/// not that one. Which of them really need a call depends on their unit file state.
pub fn boot_targets(
    tree: &Tree,
    new: &Manifest,
    old: Option<&Manifest>,
) -> (Option<String>, Option<String>) {
    let default_target = |m: &Manifest| m.profile(&m.default_profile).map(|p| p.target.clone());
    let want = default_target(new).filter(|target| {
        tree.get(&format!("systemd/{target}")).is_some_and(|body| {
            String::from_utf8_lossy(body)
                .lines()
                .any(|l| l.trim() == "[Install]")
        })
    });
    let stale = old
        .and_then(default_target)
        .filter(|t| Some(t) != want.as_ref());
    (want, stale)
}

/// Tree path prefix → the host service to restart when such a file changes.
const HOST_SERVICES: [(&str, &str); 2] = [
    ("sysctl.d/", "systemd-sysctl.service"),
    ("earlyoom/", "earlyoom.service"),
];

/// Every unit whose state planning needs: the new and old manifests' agents and targets.
pub fn relevant_units(new: &Manifest, old: Option<&Manifest>) -> Vec<String> {
    let mut units = BTreeSet::new();
    for m in std::iter::once(new).chain(old) {
        units.extend(m.agents.iter().map(|a| a.unit.clone()));
        units.extend(m.profiles.iter().map(|p| p.target.clone()));
        units.extend(gateway_units(m).into_iter().map(str::to_owned));
    }
    units.extend(HOST_SERVICES.iter().map(|(_, unit)| unit.to_string()));
    units.into_iter().collect()
}

/// Plans the switch to `profile` of `new`. `changed` holds tree paths whose installed bytes
/// change; `states` the units' current states (missing = inactive).
pub fn plan(
    new: &Manifest,
    profile: &ManifestProfile,
    old: Option<&Manifest>,
    changed: &BTreeSet<&str>,
    states: &HashMap<String, UnitStatus>,
) -> UnitActions {
    let active = |unit: &str| {
        states.get(unit).is_some_and(|s| {
            matches!(
                s.active_state.as_str(),
                "active" | "activating" | "reloading"
            )
        })
    };
    let mut actions = UnitActions {
        target: profile.target.clone(),
        ..UnitActions::default()
    };
    for agent in &new.agents {
        let in_profile = profile.agents.contains(&agent.name);
        let running = active(&agent.unit);
        let changed = agent.files.iter().any(|f| changed.contains(f.as_str()));
        match (in_profile, running) {
            (true, true) if changed => actions.restart.push(agent.unit.clone()),
            (true, true) => {}
            (true, false) => actions.start.push(agent.unit.clone()),
            (false, true) => actions.stop.push(agent.unit.clone()),
            (false, false) => {}
        }
    }
    if let Some(old) = old {
        let new_units: BTreeSet<&str> = new
            .agents
            .iter()
            .map(|a| a.unit.as_str())
            .chain(new.profiles.iter().map(|p| p.target.as_str()))
            .collect();
        for unit in old
            .agents
            .iter()
            .map(|a| &a.unit)
            .chain(old.profiles.iter().map(|p| &p.target))
        {
            if !new_units.contains(unit.as_str()) && active(unit) {
                actions.stop_explicit.push(unit.clone());
                actions.stop.push(unit.clone());
            }
        }
    }
    gateway(new, old, changed, &active, &mut actions);
    for (prefix, unit) in HOST_SERVICES {
        let loaded = states.get(unit).is_some_and(|s| s.load_state == "loaded");
        if loaded && changed.iter().any(|p| p.starts_with(prefix)) {
            actions.host_restart.push(unit.to_string());
        }
    }
    let target_active = states
        .get(&profile.target)
        .is_some_and(UnitStatus::is_active);
    actions.start_target = !target_active
        || !actions.start.is_empty()
        || !actions.stop.is_empty()
        || !changed.is_empty();
    actions
}

/// `[socket, service]` of the manifest's gateway, if it has one.
fn gateway_units(m: &Manifest) -> Vec<&str> {
    m.gateway
        .iter()
        .flat_map(|g| [g.socket.as_str(), g.service.as_str()])
        .collect()
}

/// A running gateway picks up a changed unit: its service stops (the socket starts the new
/// one on the next connection) and a changed socket restarts, so a new address or binary
/// takes effect when apply returns. A gateway the new tree no longer has stops.
fn gateway(
    new: &Manifest,
    old: Option<&Manifest>,
    changed: &BTreeSet<&str>,
    active: &dyn Fn(&str) -> bool,
    actions: &mut UnitActions,
) {
    let mut stop = |unit: &str| {
        actions.stop_explicit.push(unit.to_owned());
        actions.stop.push(unit.to_owned());
    };
    let kept = gateway_units(new);
    for unit in old.map(gateway_units).unwrap_or_default() {
        if !kept.contains(&unit) && active(unit) {
            stop(unit);
        }
    }
    let Some(g) = &new.gateway else { return };
    let file_changed = |unit: &str| changed.contains(format!("systemd/{unit}").as_str());
    let socket_changed = file_changed(&g.socket);
    if (socket_changed || file_changed(&g.service)) && active(&g.service) {
        stop(&g.service);
    }
    if socket_changed && active(&g.socket) {
        actions.restart.push(g.socket.clone());
    }
}

/// Room for stops and the target itself.
const DEADLINE_MARGIN: Duration = Duration::from_secs(30);

/// Longer than any start can legitimately take: agents of a profile start one after another
/// (ordering edges), so the sum of their start timeouts (the manifest's) plus a margin.
pub fn default_deadline(manifest: &Manifest, profile: &ManifestProfile) -> Duration {
    manifest
        .agents
        .iter()
        .filter(|a| profile.agents.contains(&a.name))
        .fold(DEADLINE_MARGIN, |total, agent| {
            total.saturating_add(agent.start_timeout())
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::manifest::ManifestAgent;

    fn manifest() -> Manifest {
        let agent = |name: &str| ManifestAgent {
            name: name.into(),
            unit: format!("t-{name}.service"),
            files: vec![format!("systemd/t-{name}.service")],
            health_url: None,
            port: 1,
            ..Default::default()
        };
        let profile = |name: &str, agents: &[&str]| ManifestProfile {
            name: name.into(),
            target: format!("t-{name}.target"),
            agents: agents.iter().map(|a| a.to_string()).collect(),
        };
        Manifest {
            generator: "strixc".into(),
            stack: "t".into(),
            default_profile: "standard".into(),
            profiles: vec![
                profile("standard", &["thor", "valkyrie"]),
                profile("odin", &["thor", "odin"]),
            ],
            agents: vec![agent("thor"), agent("valkyrie"), agent("odin")],
            files: Default::default(),
            swap: None,
            gateway: None,
        }
    }

    #[test]
    fn boot_wants_the_default_target_with_an_install_section_and_drops_the_old_one() {
        let new = manifest();
        let mut tree = Tree::new();
        tree.insert("systemd/t-standard.target", "[Unit]\n");
        // No [Install] section: nothing to enable (hand-made trees, tests).
        assert_eq!(boot_targets(&tree, &new, None), (None, None));
        tree.insert(
            "systemd/t-standard.target",
            "[Unit]\n\n[Install]\nWantedBy=default.target\n",
        );
        let want = Some("t-standard.target".to_string());
        assert_eq!(boot_targets(&tree, &new, Some(&new)), (want.clone(), None));
        let mut old = manifest();
        old.default_profile = "odin".into();
        assert_eq!(
            boot_targets(&tree, &new, Some(&old)),
            (want, Some("t-odin.target".to_string()))
        );
    }

    /// The actions of an apply to profile `standard` when `m` is already installed.
    fn switch_to_standard(
        m: &Manifest,
        changed: &BTreeSet<&str>,
        states: &HashMap<String, UnitStatus>,
    ) -> UnitActions {
        plan(m, m.profile("standard").unwrap(), Some(m), changed, states)
    }

    fn active(units: &[&str]) -> HashMap<String, UnitStatus> {
        units
            .iter()
            .map(|u| {
                (
                    u.to_string(),
                    UnitStatus {
                        name: u.to_string(),
                        active_state: "active".into(),
                        ..Default::default()
                    },
                )
            })
            .collect()
    }

    fn with_gateway() -> Manifest {
        Manifest {
            gateway: Some(crate::tree::manifest::ManifestGateway {
                socket: "t-gateway.socket".into(),
                service: "t-gateway.service".into(),
                listen: ([127, 0, 0, 1], 8000).into(),
                idle_ms: 1,
                hold_ms: 1,
                queue: 1,
                wait_ms: 1,
                grace_ms: 1,
            }),
            ..manifest()
        }
    }

    #[test]
    fn a_running_gateway_picks_up_its_changed_units_and_a_dropped_one_stops() {
        let m = with_gateway();
        let running = ["t-standard.target", "t-thor.service", "t-valkyrie.service"];
        let serving = [&running[..], &["t-gateway.socket", "t-gateway.service"]].concat();
        let unchanged = switch_to_standard(&m, &BTreeSet::new(), &active(&serving));
        assert!(unchanged.is_noop(), "{unchanged:?}");

        let service = BTreeSet::from(["systemd/t-gateway.service"]);
        let a = switch_to_standard(&m, &service, &active(&serving));
        assert_eq!(a.stop_explicit, ["t-gateway.service"]);
        assert!(a.restart.is_empty(), "{a:?}");

        let socket = BTreeSet::from(["systemd/t-gateway.socket"]);
        let a = switch_to_standard(&m, &socket, &active(&serving));
        assert_eq!(a.stop_explicit, ["t-gateway.service"]);
        assert_eq!(a.restart, ["t-gateway.socket"]);

        // Not running: nothing to pick up; the target starts the socket.
        let a = switch_to_standard(&m, &socket, &active(&running));
        assert!(a.stop_explicit.is_empty() && a.restart.is_empty(), "{a:?}");

        let dropped = plan(
            &manifest(),
            m.profile("standard").unwrap(),
            Some(&m),
            &BTreeSet::new(),
            &active(&serving),
        );
        assert_eq!(
            dropped.stop_explicit,
            ["t-gateway.socket", "t-gateway.service"]
        );
        assert_eq!(
            relevant_units(&manifest(), Some(&m))
                .iter()
                .filter(|u| u.starts_with("t-gateway"))
                .count(),
            2
        );
    }

    #[test]
    fn switch_stops_the_other_profile_and_keeps_shared_agents() {
        let m = manifest();
        let states = active(&["t-standard.target", "t-thor.service", "t-valkyrie.service"]);
        let a = plan(
            &m,
            m.profile("odin").unwrap(),
            Some(&m),
            &BTreeSet::new(),
            &states,
        );
        assert!(a.start_target);
        assert_eq!(a.start, ["t-odin.service"]);
        assert_eq!(a.stop, ["t-valkyrie.service"]);
        assert!(a.restart.is_empty());
    }

    #[test]
    fn nothing_to_do_when_active_and_unchanged() {
        let m = manifest();
        let states = active(&["t-standard.target", "t-thor.service", "t-valkyrie.service"]);
        let a = switch_to_standard(&m, &BTreeSet::new(), &states);
        assert!(a.is_noop(), "{a:?}");
        let changed = BTreeSet::from(["systemd/t-thor.service"]);
        let a = switch_to_standard(&m, &changed, &states);
        assert_eq!(a.restart, ["t-thor.service"]);
    }

    #[test]
    fn changed_sysctl_restarts_systemd_sysctl_only_when_the_manager_has_it() {
        let m = manifest();
        let mut states = active(&["t-standard.target", "t-thor.service", "t-valkyrie.service"]);
        let changed = BTreeSet::from(["sysctl.d/90-t.conf"]);
        let a = switch_to_standard(&m, &changed, &states);
        assert!(a.host_restart.is_empty());
        states.insert(
            "systemd-sysctl.service".into(),
            UnitStatus {
                load_state: "loaded".into(),
                ..Default::default()
            },
        );
        let a = switch_to_standard(&m, &changed, &states);
        assert_eq!(a.host_restart, ["systemd-sysctl.service"]);
    }

    #[test]
    fn the_deadline_sums_the_manifests_start_timeouts_or_the_default_start_period() {
        let mut m = manifest();
        m.agents[0].start_timeout_s = Some(1200);
        m.agents[1].start_timeout_s = Some(60);
        m.agents[2].start_timeout_s = Some(7);
        let standard = m.profile("standard").unwrap().clone();
        assert_eq!(
            default_deadline(&m, &standard),
            Duration::from_secs(1200 + 60 + 30)
        );
        // A manifest of an older strixc has no start timeout: the stack's default period.
        m.agents[1].start_timeout_s = None;
        let default = crate::stack::defaults::HEALTH_START_PERIOD_MS / 1000;
        assert_eq!(
            default_deadline(&m, &standard),
            Duration::from_secs(1200 + default + 30)
        );
    }
}
