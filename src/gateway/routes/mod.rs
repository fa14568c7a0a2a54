//! HTTP: routing by `model`, the proxy to the agent (streams pass through as they arrive,
//! never held back), `/v1/models`, `/metrics`, and OpenAI-style JSON errors.
//!
//! - `request`: the client's body, its `model`, the agent it names;
//! - `upstream`: the call to the agent;
//! - `proxy`: admission, the call, the response streamed back;
//! - `relay`: the response's body, the agent's connection driven by the client's task;
//! - `reply`: the gateway's own responses and errors.

mod proxy;
mod relay;
mod reply;
mod request;
mod upstream;

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{Value, json};

use super::scheduler::Scheduler;
use crate::tree::manifest::Manifest;
use reply::{error, json_response, text_response};

type Body = BoxBody<Bytes, hyper::Error>;

pub async fn handle(
    request: Request<Incoming>,
    scheduler: Arc<Scheduler>,
) -> Result<Response<Body>, Infallible> {
    let path = request.uri().path().to_owned();
    let response = match (request.method(), path.as_str()) {
        (&Method::GET, "/health") => json_response(StatusCode::OK, &json!({"status": "ok"})),
        (&Method::GET, "/metrics") => {
            let mut response = text_response(StatusCode::OK, scheduler.metrics_text());
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4"),
            );
            response
        }
        (&Method::GET, "/v1/models") => models(&scheduler.manifest()),
        (&Method::POST, p) if p.starts_with("/v1/") => proxy::proxy(request, scheduler).await,
        _ => error(
            StatusCode::NOT_FOUND,
            "not_found",
            &format!("no route for {} {path}", request.method()),
            None,
        ),
    };
    Ok(response)
}

/// `/v1/models`: every agent of the stack, running or not.
fn models(manifest: &Manifest) -> Response<Body> {
    let data: Vec<Value> = manifest
        .agents
        .iter()
        .map(|a| {
            json!({
                "id": a.name,
                "object": "model",
                "owned_by": manifest.stack,
                "root": a.served_model,
            })
        })
        .collect();
    json_response(StatusCode::OK, &json!({"object": "list", "data": data}))
}
