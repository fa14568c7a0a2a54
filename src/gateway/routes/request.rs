//! A proxied request as the client sent it: its body (bounded in size and time), its JSON,
//! and the agent its `model` names.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::{Response, StatusCode};
use serde_json::Value;

use super::Body;
use super::reply::error;
use crate::tree::manifest::{Manifest, ManifestAgent};

/// The largest request body the gateway reads (long prompts, embedding batches).
pub const MAX_BODY: usize = 16 << 20;
/// A client has this long to send its whole body.
const BODY_TIMEOUT: Duration = Duration::from_secs(60);

/// Why the gateway answers a request itself, before any agent is involved.
#[derive(Debug)]
pub struct Rejection {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl Rejection {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Rejection {
        Rejection {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn response(&self) -> Response<Body> {
        error(self.status, self.code, &self.message, None)
    }
}

/// The whole body, or why it could not be read.
pub async fn read_body(body: Incoming) -> Result<Bytes, Rejection> {
    match tokio::time::timeout(BODY_TIMEOUT, Limited::new(body, MAX_BODY).collect()).await {
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => Err(Rejection::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request_too_large",
            format!("the request body is larger than {} MiB", MAX_BODY >> 20),
        )),
        Ok(Err(e)) => Err(Rejection::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            format!("reading the request body: {e}"),
        )),
        Err(_) => Err(Rejection::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            format!(
                "the request body did not arrive within {}s",
                BODY_TIMEOUT.as_secs()
            ),
        )),
    }
}

/// The agent the body's `model` names, and the body to send it: with the agent's own
/// model id when the request named the agent.
pub fn target(manifest: &Manifest, bytes: Bytes) -> Result<(&ManifestAgent, Bytes), Rejection> {
    let mut document = json_object(&bytes)?;
    let Some(model) = document
        .get("model")
        .and_then(Value::as_str)
        .map(str::to_owned)
    else {
        return Err(Rejection::new(
            StatusCode::BAD_REQUEST,
            "model_required",
            "the request names no `model`",
        ));
    };
    let Some(agent) = route(manifest, &model) else {
        let known: Vec<&str> = manifest.agents.iter().map(|a| a.name.as_str()).collect();
        return Err(Rejection::new(
            StatusCode::NOT_FOUND,
            "model_not_found",
            format!(
                "no agent serves model {model:?} (agents: {})",
                known.join(", ")
            ),
        ));
    };
    // The server expects its own model id; a request that names the agent gets it.
    let body = match &agent.served_model {
        Some(served) if *served != model => {
            document["model"] = Value::String(served.clone());
            Bytes::from(serde_json::to_vec(&document).unwrap_or_default())
        }
        _ => bytes,
    };
    Ok((agent, body))
}

fn json_object(bytes: &[u8]) -> Result<Value, Rejection> {
    match serde_json::from_slice(bytes) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err(Rejection::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "the request body must be a JSON object",
        )),
        Err(e) => Err(Rejection::new(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            format!("the request body is not valid JSON: {e}"),
        )),
    }
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
