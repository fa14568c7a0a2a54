//! The gateway's two units: `S-gateway.socket` (systemd holds the listening socket) and
//! `S-gateway.service` (`strixc serve`, started by the first connection).

use std::net::{IpAddr, Ipv4Addr};

use serde::Serialize;

use super::{RenderError, render};
use crate::stack::{Gateway, Stack, defaults};
use crate::tree::manifest::ManifestGateway;

#[derive(Serialize)]
struct GatewayUnitVars<'a> {
    header: &'a str,
    description: String,
    listen: &'a str,
    service: &'a str,
    socket: &'a str,
    slice: String,
    exec: Vec<&'a str>,
}

/// The file names and the manifest's section of `stack`'s gateway (`None` without one).
pub fn gateway_manifest(stack: &Stack) -> Option<ManifestGateway> {
    let gateway = stack.gateway.as_ref()?;
    let name = &stack.name.value;
    let ms = |field: &Option<crate::stack::Spanned<u64>>, default| {
        field.as_ref().map_or(default, |f| f.value)
    };
    Some(ManifestGateway {
        socket: format!("{name}-gateway.socket"),
        service: format!("{name}-gateway.service"),
        listen: listen(gateway),
        idle_ms: ms(&gateway.idle_ms, defaults::GATEWAY_IDLE_MS),
        hold_ms: ms(&gateway.hold_ms, defaults::GATEWAY_HOLD_MS),
        queue: ms(&gateway.queue, defaults::GATEWAY_QUEUE),
        wait_ms: ms(&gateway.wait_ms, defaults::GATEWAY_WAIT_MS),
        grace_ms: ms(&gateway.grace_ms, defaults::GATEWAY_GRACE_MS),
    })
}

/// `127.0.0.1:8000`, `[::1]:8000`.
fn listen(gateway: &Gateway) -> String {
    let ip = gateway
        .bind
        .as_ref()
        .map_or(IpAddr::V4(Ipv4Addr::LOCALHOST), |b| b.value);
    let port = gateway.port.as_ref().map_or(0, |p| p.value);
    std::net::SocketAddr::new(ip, port).to_string()
}

/// `(socket text, service text)`.
pub fn gateway_units(
    stack: &Stack,
    manifest: &ManifestGateway,
    header: &str,
) -> Result<(String, String), RenderError> {
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
        listen: &manifest.listen,
        service: &manifest.service,
        socket: &manifest.socket,
        slice: format!("{}.slice", stack.name.value),
        exec: vec![strixc],
    };
    Ok((
        render("gateway-socket", &context("socket"))?,
        render("gateway-service", &context("(strixc serve)"))?,
    ))
}
