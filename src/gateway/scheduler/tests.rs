use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::state::{State, Waiter};
use super::timers::Action;
use crate::tree::manifest::{Manifest, ManifestAgent, ManifestProfile};

fn state(active: Option<&str>) -> State {
    let agent = |name: &str, summon: Option<&str>| ManifestAgent {
        name: name.into(),
        unit: format!("s-{name}.service"),
        port: 1,
        summon: summon.map(str::to_owned),
        ..Default::default()
    };
    let profile = |name: &str, agents: &[&str]| ManifestProfile {
        name: name.into(),
        target: format!("s-{name}.target"),
        agents: agents.iter().map(|a| (*a).to_owned()).collect(),
    };
    let manifest = Manifest {
        generator: "test".into(),
        stack: "s".into(),
        default_profile: "standard".into(),
        profiles: vec![
            profile("standard", &["thor", "valkyrie"]),
            profile("big", &["odin"]),
            profile("odin", &["thor", "odin"]),
            profile("night", &["loki", "odin"]),
        ],
        agents: vec![
            agent("thor", None),
            agent("valkyrie", None),
            agent("odin", None),
            agent("loki", Some("night")),
        ],
        files: Default::default(),
        swap: None,
        gateway: None,
    };
    let mut state = State::new(manifest, 1, active.map(str::to_owned));
    state.since = Instant::now();
    state
}

#[test]
fn the_profile_a_request_picks() {
    let s = state(Some("standard"));
    assert_eq!(
        s.pick("valkyrie").as_deref(),
        Some("standard"),
        "the default has it"
    );
    assert_eq!(s.pick("loki").as_deref(), Some("night"), "its summon");
    // odin runs in big, odin and night: odin keeps thor running.
    assert_eq!(
        s.pick("odin").as_deref(),
        Some("odin"),
        "keeps the most running"
    );
    let s = state(Some("night"));
    assert_eq!(s.pick("odin").as_deref(), Some("night"));
    let s = state(None);
    assert_eq!(
        s.pick("odin").as_deref(),
        Some("big"),
        "nothing runs: the first"
    );
    assert_eq!(s.pick("nobody"), None);
}

#[test]
fn a_decided_switch_stops_new_requests_for_what_it_stops() {
    let mut s = state(Some("standard"));
    assert!(s.can_run("thor") && s.can_run("valkyrie") && !s.can_run("odin"));
    s.target = Some("odin".into());
    assert!(s.can_run("thor"), "in both profiles: keeps flowing");
    assert!(!s.can_run("valkyrie"), "stopped by the switch: waits");
}

#[test]
fn hold_then_idle() {
    let mut s = state(Some("odin"));
    s.config.hold = Duration::from_secs(60);
    s.config.idle = Duration::from_secs(120);
    let now = Instant::now();
    s.since = now;
    s.last_summoned = now;
    let (reply, _receive) = oneshot::channel();
    s.queue.push_back(Waiter {
        agent: "valkyrie".into(),
        since: now,
        reply,
    });
    // Held: the waiter for standard sleeps until hold ends.
    assert!(matches!(s.decide(now), Action::Sleep(Some(d)) if d == Duration::from_secs(60)));
    assert!(
        matches!(s.decide(now + Duration::from_secs(60)), Action::Switch(p) if p == "standard")
    );
    s.queue.clear();
    // No waiter: idle counts from the last request for odin.
    assert!(
        matches!(s.decide(now + Duration::from_secs(60)), Action::Sleep(Some(d)) if d == Duration::from_secs(60))
    );
    assert!(
        matches!(s.decide(now + Duration::from_secs(120)), Action::Switch(p) if p == "standard")
    );
}
