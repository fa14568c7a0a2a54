//! Just enough HTTP/1 for the tests: read a request, write one response. std only.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

/// The request's path, and its body when it is a `POST` (read by `Content-Length`).
pub fn read_with_body(stream: &TcpStream) -> Option<(String, Option<String>)> {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut reader = BufReader::new(stream);
    let mut request = String::new();
    reader.read_line(&mut request).ok()?;
    let mut length = 0usize;
    let mut line = String::new();
    while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0);
        }
        line.clear();
    }
    let path = request.split_whitespace().nth(1).unwrap_or("/").to_string();
    if !request.starts_with("POST ") {
        return Some((path, None));
    }
    let mut body = vec![0u8; length.min(64 << 20)];
    std::io::Read::read_exact(&mut reader, &mut body).ok()?;
    Some((path, Some(String::from_utf8_lossy(&body).into_owned())))
}

/// The request line's path; the headers are read and dropped. `None` when nothing came.
pub fn read_request(stream: &TcpStream) -> Option<String> {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut reader = BufReader::new(stream);
    let mut request = String::new();
    reader.read_line(&mut request).ok()?;
    let mut line = String::new();
    while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
        line.clear();
    }
    Some(request.split_whitespace().nth(1).unwrap_or("/").to_string())
}

pub fn respond(mut stream: TcpStream, status: &str, content_type: &str, body: &str) {
    // One write: a client may read the status line from the first segment.
    let response = format!(
        "HTTP/1.0 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes());
}

/// `/v1/models`: one model, `id`.
pub fn models_json(id: &str, max_model_len: Option<u64>) -> String {
    let id = id.replace('\\', "\\\\").replace('"', "\\\"");
    let len = max_model_len.map_or(String::new(), |n| format!(",\"max_model_len\":{n}"));
    format!(
        "{{\"object\":\"list\",\"data\":[{{\"id\":\"{id}\",\"object\":\"model\",\"owned_by\":\"vllm\",\"root\":\"{id}\"{len}}}]}}"
    )
}

/// The value of `"key": "..."` or `"key": true` in a flat JSON text (std only: no parser).
pub fn json_field<'a>(body: &'a str, key: &str) -> Option<&'a str> {
    let rest = &body[body.find(&format!("\"{key}\""))? + key.len() + 2..];
    let rest = rest.trim_start().strip_prefix(':')?.trim_start();
    match rest.strip_prefix('"') {
        Some(text) => text.split('"').next(),
        None => rest.split([',', '}', ' ']).next(),
    }
}
