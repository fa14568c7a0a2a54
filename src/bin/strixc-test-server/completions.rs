//! `POST /v1/chat/completions`, `/v1/completions`, `/v1/embeddings`: one JSON reply, or
//! server-sent events written as they are produced.

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use crate::http::json_field;

/// How `POST` completions answer.
#[derive(Clone, Copy)]
pub struct Streaming {
    pub chunks: u32,
    pub delay: Duration,
    pub port: u16,
}

impl Streaming {
    /// A request may ask for its own stream shape (tests of long streams).
    fn for_request(mut self, body: &str) -> Streaming {
        if let Some(n) = json_field(body, "chunks").and_then(|n| n.parse().ok()) {
            self.chunks = n;
        }
        if let Some(ms) = json_field(body, "chunk_delay_ms").and_then(|n| n.parse().ok()) {
            self.delay = Duration::from_millis(ms);
        }
        self
    }
}

/// A completion: one JSON reply, or `chunks` server-sent events written as produced.
pub fn complete(mut stream: TcpStream, path: &str, body: &str, streaming: Streaming) {
    let model = json_field(body, "model").unwrap_or("");
    let streaming = streaming.for_request(body);
    let known = matches!(
        path,
        "/v1/chat/completions" | "/v1/completions" | "/v1/embeddings"
    );
    if !known {
        let _ = stream.write_all(
            b"HTTP/1.0 404 Not Found\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
        );
        return;
    }
    if json_field(body, "stream") == Some("true") && path != "/v1/embeddings" {
        events(stream, model, streaming);
        return;
    }
    let port = streaming.port;
    let reply = format!(
        "{{\"object\":\"chat.completion\",\"model\":\"{model}\",\"port\":{port},\"choices\":[{{\"index\":0,\"message\":{{\"role\":\"assistant\",\"content\":\"ok\"}}}}]}}"
    );
    let response = format!(
        "HTTP/1.0 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
        reply.len()
    );
    let _ = stream.write_all(response.as_bytes());
}

/// `streaming.chunks` events, `streaming.delay` apart, then `data: [DONE]`.
fn events(mut stream: TcpStream, model: &str, streaming: Streaming) {
    let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n";
    if stream.write_all(head.as_bytes()).is_err() {
        return;
    }
    let port = streaming.port;
    for i in 0..streaming.chunks {
        if i > 0 {
            std::thread::sleep(streaming.delay);
        }
        let event = format!(
            "data: {{\"object\":\"chat.completion.chunk\",\"model\":\"{model}\",\"port\":{port},\"index\":{i},\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"chunk {i} \"}}}}]}}\n\n"
        );
        if stream.write_all(event.as_bytes()).is_err() {
            return;
        }
    }
    let _ = stream.write_all(b"data: [DONE]\n\n");
}
