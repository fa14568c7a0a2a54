//! HTTP: routing by `model`, the proxy to the agent (streams pass through frame by frame,
//! never buffered), `/v1/models`, `/metrics`, and OpenAI-style JSON errors.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited, combinators::BoxBody};
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

use super::scheduler::{Refusal, Scheduler};
use crate::tree::manifest::{Manifest, ManifestAgent};

type Body = BoxBody<Bytes, hyper::Error>;

/// The largest request body the gateway reads (long prompts, embedding batches).
pub const MAX_BODY: usize = 16 << 20;
/// A client has this long to send its whole body.
const BODY_TIMEOUT: Duration = Duration::from_secs(60);

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
        (&Method::POST, p) if p.starts_with("/v1/") => proxy(request, scheduler).await,
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

/// The agent a request's `model` names: an agent's name, its served model id, or
/// OpenCode's `agent/served-id`.
pub fn route<'m>(manifest: &'m Manifest, model: &str) -> Option<&'m ManifestAgent> {
    manifest.agent(model).or_else(|| {
        manifest.agents.iter().find(|a| {
            a.served_model.as_deref() == Some(model)
                || model.split_once('/').is_some_and(|(agent, id)| {
                    agent == a.name && a.served_model.as_deref() == Some(id)
                })
        })
    })
}

async fn proxy(request: Request<Incoming>, scheduler: Arc<Scheduler>) -> Response<Body> {
    let (parts, body) = request.into_parts();
    let bytes =
        match tokio::time::timeout(BODY_TIMEOUT, Limited::new(body, MAX_BODY).collect()).await {
            Ok(Ok(collected)) => collected.to_bytes(),
            Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => {
                return error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "request_too_large",
                    &format!("the request body is larger than {} MiB", MAX_BODY >> 20),
                    None,
                );
            }
            Ok(Err(e)) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "bad_request",
                    &format!("reading the request body: {e}"),
                    None,
                );
            }
            Err(_) => {
                return error(
                    StatusCode::REQUEST_TIMEOUT,
                    "request_timeout",
                    &format!(
                        "the request body did not arrive within {}s",
                        BODY_TIMEOUT.as_secs()
                    ),
                    None,
                );
            }
        };
    let mut document: Value = match serde_json::from_slice(&bytes) {
        Ok(v @ Value::Object(_)) => v,
        Ok(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                "the request body must be a JSON object",
                None,
            );
        }
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_json",
                &format!("the request body is not valid JSON: {e}"),
                None,
            );
        }
    };
    let Some(model) = document
        .get("model")
        .and_then(Value::as_str)
        .map(str::to_owned)
    else {
        return error(
            StatusCode::BAD_REQUEST,
            "model_required",
            "the request names no `model`",
            None,
        );
    };
    let manifest = scheduler.manifest();
    let Some(agent) = route(&manifest, &model) else {
        let known: Vec<&str> = manifest.agents.iter().map(|a| a.name.as_str()).collect();
        return error(
            StatusCode::NOT_FOUND,
            "model_not_found",
            &format!(
                "no agent serves model {model:?} (agents: {})",
                known.join(", ")
            ),
            None,
        );
    };
    // The server expects its own model id; a request that names the agent gets it.
    let body = match &agent.served_model {
        Some(served) if *served != model => {
            document["model"] = Value::String(served.clone());
            Bytes::from(serde_json::to_vec(&document).unwrap_or_default())
        }
        _ => bytes,
    };
    let address = upstream(agent);
    let mut attempt = 0;
    let (response, admission) = loop {
        let admission = match scheduler.admit(&agent.name).await {
            Ok(admission) => admission,
            Err(refusal) => {
                scheduler.record(&agent.name, 503);
                return refused(&refusal);
            }
        };
        match forward(&address, &parts, body.clone()).await {
            Ok(response) => break (response, admission),
            // Not listening: the profile changed behind the gateway's back (`strixc apply`,
            // a crash). Ask systemd what runs, and try once more (switching if need be).
            Err(Upstream::Connect(_)) if attempt == 0 => {
                attempt += 1;
                drop(admission);
                scheduler.refresh_active().await;
            }
            Err(why) => {
                scheduler.record(&agent.name, 502);
                return error(
                    StatusCode::BAD_GATEWAY,
                    "upstream_error",
                    &format!("agent {} at {address}: {why}", agent.name),
                    Some(&agent.name),
                );
            }
        }
    };
    scheduler.record(&agent.name, response.status().as_u16());
    let (parts, body) = response.into_parts();
    // The admission (the agent's in-flight count) lives until the last frame went out.
    let body = body
        .map_frame(move |frame| {
            let _held = &admission;
            frame
        })
        .boxed();
    Response::from_parts(parts, body)
}

/// `host:port` of the agent: its health URL's authority, else loopback and its port.
fn upstream(agent: &ManifestAgent) -> String {
    agent
        .health_url
        .as_deref()
        .and_then(|u| u.strip_prefix("http://"))
        .and_then(|rest| rest.split('/').next())
        .map_or_else(|| format!("127.0.0.1:{}", agent.port), str::to_owned)
}

/// Headers that belong to one connection, not to the request (RFC 9110 §7.6.1).
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
];

/// Why the agent gave no response.
#[derive(Debug)]
enum Upstream {
    Connect(std::io::Error),
    Http(String),
}

impl std::fmt::Display for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Upstream::Connect(e) => write!(f, "cannot connect: {e}"),
            Upstream::Http(e) => f.write_str(e),
        }
    }
}

async fn forward(
    address: &str,
    parts: &hyper::http::request::Parts,
    body: Bytes,
) -> Result<Response<Incoming>, Upstream> {
    let stream = tokio::net::TcpStream::connect(address)
        .await
        .map_err(Upstream::Connect)?;
    let _ = stream.set_nodelay(true);
    let http = |e: hyper::Error| Upstream::Http(e.to_string());
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(http)?;
    tokio::spawn(connection);
    let uri = parts
        .uri
        .path_and_query()
        .map_or("/", |pq| pq.as_str())
        .to_owned();
    let mut upstream = Request::builder().method(parts.method.clone()).uri(uri);
    for (name, value) in &parts.headers {
        if name != header::HOST && !HOP_BY_HOP.contains(&name.as_str()) {
            upstream = upstream.header(name, value);
        }
    }
    let upstream = upstream
        .header(header::HOST, address)
        .header(header::CONTENT_LENGTH, body.len())
        .body(Full::new(body))
        .map_err(|e| Upstream::Http(e.to_string()))?;
    sender.send_request(upstream).await.map_err(http)
}

fn refused(refusal: &Refusal) -> Response<Body> {
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        refusal.code,
        &refusal.message,
        Some(&refusal.agent),
    )
}

/// `{"error": {"message", "type", "code", "agent"?}}`, as OpenAI's API answers.
fn error(status: StatusCode, code: &str, message: &str, agent: Option<&str>) -> Response<Body> {
    let kind = match status {
        StatusCode::NOT_FOUND => "not_found_error",
        StatusCode::SERVICE_UNAVAILABLE => "service_unavailable",
        s if s.is_server_error() => "server_error",
        _ => "invalid_request_error",
    };
    let mut body = json!({"error": {"message": message, "type": kind, "code": code}});
    if let Some(agent) = agent {
        body["error"]["agent"] = Value::String(agent.to_owned());
    }
    json_response(status, &body)
}

fn json_response(status: StatusCode, value: &Value) -> Response<Body> {
    let mut response = full(status, Bytes::from(value.to_string()));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn text_response(status: StatusCode, text: String) -> Response<Body> {
    full(status, Bytes::from(text))
}

fn full(status: StatusCode, bytes: Bytes) -> Response<Body> {
    let mut response = Response::new(Full::new(bytes).map_err(|never| match never {}).boxed());
    *response.status_mut() = status;
    response
}
