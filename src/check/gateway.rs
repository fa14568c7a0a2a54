//! The gateway: its port against the agents', `idle` against `hold`, each `summon`
//! against the profile it names, and loopback unless the stack says otherwise. (Its unit
//! names join every other generated name in `units.rs`.)

use crate::check::problems::{
    GatewayExposedBind, GatewayIdleBelowHold, GatewayPortTaken, SummonWithoutAgent,
};
use crate::diagnostic::suggest::did_you_mean;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::stack::quantity::go_duration;
use crate::stack::{Stack, defaults};

pub fn check(stack: &Stack, d: &mut Diagnostics) {
    summons(stack, d);
    let Some(gateway) = &stack.gateway else {
        return;
    };
    if let Some(port) = &gateway.port {
        for agent in &stack.agents {
            let Some(agent_port) = &agent.port else {
                continue;
            };
            if agent_port.value == port.value {
                d.push(
                    Diagnostic::new(
                        GatewayPortTaken {
                            port: port.value,
                            agent: agent.name.value.clone(),
                        },
                        port.span,
                    )
                    .with_label(
                        agent_port.span,
                        format!("`{}` listens here", agent.name.value),
                    ),
                );
            }
        }
    }
    if let Some(bind) = &gateway.bind
        && !bind.value.is_loopback()
    {
        d.emit(
            GatewayExposedBind {
                address: bind.value.to_string(),
            },
            bind.span,
        );
    }
    let idle = gateway
        .idle_ms
        .as_ref()
        .map_or(defaults::GATEWAY_IDLE_MS, |i| i.value);
    let hold = gateway
        .hold_ms
        .as_ref()
        .map_or(defaults::GATEWAY_HOLD_MS, |h| h.value);
    if idle < hold {
        // The label goes on whichever of the two the stack wrote (idle first).
        let span = gateway
            .idle_ms
            .as_ref()
            .or(gateway.hold_ms.as_ref())
            .map_or(gateway.span, |s| s.span);
        d.emit(
            GatewayIdleBelowHold {
                idle: go_duration(idle),
                hold: go_duration(hold),
            },
            span,
        );
    }
}

/// `summon "P"` must name a profile that runs the agent (unknown names are the reference
/// check's).
fn summons(stack: &Stack, d: &mut Diagnostics) {
    for agent in &stack.agents {
        let Some(summon) = &agent.summon else {
            continue;
        };
        if stack.profile(&summon.value).is_none() {
            continue;
        }
        let name = agent.name.as_str();
        if stack.profile_agents(&summon.value).contains(&name) {
            continue;
        }
        let fitting: Vec<&str> = stack
            .profiles
            .iter()
            .map(|p| p.name.as_str())
            .filter(|p| stack.profile_agents(p).contains(&name))
            .collect();
        // The only profile that runs it, or the one a typo missed.
        let suggestion = match fitting.as_slice() {
            [only] => Some(*only),
            _ => did_you_mean(&summon.value, fitting.iter().copied()),
        };
        d.emit(
            SummonWithoutAgent {
                agent: name.to_owned(),
                profile: summon.value.clone(),
                suggestion: suggestion.map(str::to_owned),
            },
            summon.span,
        );
    }
}
