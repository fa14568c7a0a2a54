//! The gateway (`strixc serve`): its unit names, the address it listens on and its limits,
//! with the stack's defaults filled in. Rendered into its units, and carried whole in the
//! manifest for apply and the gateway itself.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use serde::{Deserialize, Serialize};

use crate::stack::unit_names::{gateway_service_name, gateway_socket_name};
use crate::stack::{Gateway, Stack, defaults};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayPlan {
    /// `norse-gateway.socket`: apply starts it with every profile.
    pub socket: String,
    /// `norse-gateway.service`: the socket starts it on the first connection.
    pub service: String,
    /// `127.0.0.1:8000` (a string in the manifest).
    pub listen: SocketAddr,
    pub idle_ms: u64,
    pub hold_ms: u64,
    pub queue: u64,
    pub wait_ms: u64,
    pub grace_ms: u64,
}

/// The gateway's unit names, address and limits (`None` without a `gateway` node).
pub fn gateway(stack: &Stack) -> Option<GatewayPlan> {
    let gateway = stack.gateway.as_ref()?;
    let ms = |field: &Option<crate::stack::Spanned<u64>>, default| {
        field.as_ref().map_or(default, |f| f.value)
    };
    Some(GatewayPlan {
        socket: gateway_socket_name(stack),
        service: gateway_service_name(stack),
        listen: listen(gateway),
        idle_ms: ms(&gateway.idle_ms, defaults::GATEWAY_IDLE_MS),
        hold_ms: ms(&gateway.hold_ms, defaults::GATEWAY_HOLD_MS),
        queue: ms(&gateway.queue, defaults::GATEWAY_QUEUE),
        wait_ms: ms(&gateway.wait_ms, defaults::GATEWAY_WAIT_MS),
        grace_ms: ms(&gateway.grace_ms, defaults::GATEWAY_GRACE_MS),
    })
}

/// `127.0.0.1:8000`, `[::1]:8000`.
fn listen(gateway: &Gateway) -> SocketAddr {
    let ip = gateway
        .bind
        .as_ref()
        .map_or(IpAddr::V4(Ipv4Addr::LOCALHOST), |b| b.value);
    let port = gateway.port.as_ref().map_or(0, |p| p.value);
    SocketAddr::new(ip, port)
}
