//! `POST /v1/...`: read the request, wait for its agent (the scheduler), call it, and
//! stream its response back as it arrives (`relay`).

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};

use super::Body;
use super::relay::Relay;
use super::reply::{error, refused};
use super::request::{read_body, target};
use super::upstream::{self, Connection, Upstream};
use crate::gateway::scheduler::{Admission, Scheduler};
use crate::tree::manifest::ManifestAgent;

pub async fn proxy(request: Request<Incoming>, scheduler: Arc<Scheduler>) -> Response<Body> {
    let (parts, body) = request.into_parts();
    let bytes = match read_body(body).await {
        Ok(bytes) => bytes,
        Err(rejection) => return rejection.response(),
    };
    let manifest = scheduler.manifest();
    let (agent, body) = match target(&manifest, bytes) {
        Ok(target) => target,
        Err(rejection) => return rejection.response(),
    };
    match call(&scheduler, agent, &parts, body).await {
        Ok((response, connection, admission)) => {
            scheduler.record(&agent.name, response.status().as_u16());
            stream(response, connection, admission)
        }
        Err(response) => response,
    }
}

/// The agent's response, once the scheduler admitted the request; the error response
/// (recorded) when it was refused or the agent failed.
async fn call(
    scheduler: &Arc<Scheduler>,
    agent: &ManifestAgent,
    parts: &hyper::http::request::Parts,
    body: Bytes,
) -> Result<(Response<Incoming>, Option<Connection>, Admission), Response<Body>> {
    let address = upstream::address(agent);
    let mut attempt = 0;
    loop {
        let admission = match scheduler.admit(&agent.name).await {
            Ok(admission) => admission,
            Err(refusal) => {
                scheduler.record(&agent.name, 503);
                return Err(refused(&refusal));
            }
        };
        match upstream::forward(&address, parts, body.clone()).await {
            Ok((response, connection)) => return Ok((response, connection, admission)),
            // Not listening: the profile changed behind the gateway's back (`strixc apply`,
            // a crash). Ask systemd what runs, and try once more (switching if need be).
            Err(Upstream::Connect(_)) if attempt == 0 => {
                attempt += 1;
                drop(admission);
                scheduler.refresh_active().await;
            }
            Err(why) => {
                scheduler.record(&agent.name, 502);
                return Err(error(
                    StatusCode::BAD_GATEWAY,
                    "upstream_error",
                    &format!("agent {} at {address}: {why}", agent.name),
                    Some(&agent.name),
                ));
            }
        }
    }
}

/// The agent's response passed through; the admission (the agent's in-flight count)
/// lives until the last frame went out.
fn stream(
    response: Response<Incoming>,
    connection: Option<Connection>,
    admission: Admission,
) -> Response<Body> {
    let (parts, body) = response.into_parts();
    Response::from_parts(parts, Relay::new(body, connection, admission).boxed())
}
