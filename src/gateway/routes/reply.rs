//! Responses the gateway writes itself: JSON, text, and OpenAI-style errors.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{self, HeaderValue};
use hyper::{Response, StatusCode};
use serde_json::{Value, json};

use super::Body;
use crate::gateway::scheduler::Refusal;

/// A refused request: 503 with the scheduler's reason.
pub fn refused(refusal: &Refusal) -> Response<Body> {
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        refusal.code,
        &refusal.message,
        Some(&refusal.agent),
    )
}

/// `{"error": {"message", "type", "code", "agent"?}}`, as OpenAI's API answers.
pub fn error(status: StatusCode, code: &str, message: &str, agent: Option<&str>) -> Response<Body> {
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

pub fn json_response(status: StatusCode, value: &Value) -> Response<Body> {
    let mut response = full(status, Bytes::from(value.to_string()));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

pub fn text_response(status: StatusCode, text: String) -> Response<Body> {
    full(status, Bytes::from(text))
}

fn full(status: StatusCode, bytes: Bytes) -> Response<Body> {
    let mut response = Response::new(Full::new(bytes).map_err(|never| match never {}).boxed());
    *response.status_mut() = status;
    response
}
