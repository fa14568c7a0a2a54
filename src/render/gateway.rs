//! The gateway's two units: `S-gateway.socket` (systemd holds the listening socket) and
//! `S-gateway.service` (`strixc serve`, started by the first connection).

use serde::Serialize;

use super::{RenderError, render};
use crate::plan::{GatewayPlan, Plan};
use crate::stack::defaults;

#[derive(Serialize)]
struct GatewayUnitVars<'a> {
    header: &'a str,
    description: String,
    listen: String,
    service: &'a str,
    socket: &'a str,
    slice: &'a str,
    exec: Vec<&'a str>,
}

/// `(socket text, service text)`.
pub fn gateway_units(
    plan: &Plan,
    gateway: &GatewayPlan,
    header: &str,
) -> Result<(String, String), RenderError> {
    let stack = plan.stack;
    let strixc = stack
        .gateway
        .as_ref()
        .and_then(|g| g.strixc.as_ref())
        .map_or(defaults::GATEWAY_STRIXC, |s| s.value.as_str());
    let context = |what: &str| GatewayUnitVars {
        header,
        description: super::escape::escape_specifiers(&format!(
            "{} gateway {what}",
            stack.name.value
        )),
        listen: gateway.listen.to_string(),
        service: &gateway.service,
        socket: &gateway.socket,
        slice: &plan.slice,
        exec: vec![strixc],
    };
    Ok((
        render("gateway-socket", &context("socket"))?,
        render("gateway-service", &context("(strixc serve)"))?,
    ))
}
