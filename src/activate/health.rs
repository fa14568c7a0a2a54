//! The health endpoint probe: one HTTP/1.0 GET over a plain `TcpStream`, short timeouts.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// `http://HOST:PORT/PATH` → (host, port, path). Only plain `http` URLs.
fn split_url(url: &str) -> Option<(&str, u16, &str)> {
    let rest = url.strip_prefix("http://")?;
    let (authority, path) = rest
        .find('/')
        .map_or((rest, "/"), |i| (&rest[..i], &rest[i..]));
    let (host, port) = authority
        .rsplit_once(':')
        .map_or(Some((authority, 80)), |(h, p)| {
            p.parse().ok().map(|p| (h, p))
        })?;
    Some((host, port, path))
}

/// The status code of `GET url`, or why there is none.
pub fn probe(url: &str, timeout: Duration) -> Result<u16, String> {
    let (host, port, path) = split_url(url).ok_or_else(|| format!("unsupported URL {url}"))?;
    let addr = (host, port)
        .to_socket_addrs()
        .map_err(|e| e.to_string())?
        .next()
        .ok_or_else(|| format!("{host} does not resolve"))?;
    let mut stream = TcpStream::connect_timeout(&addr, timeout).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    stream
        .set_write_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {host}:{port}\r\n\r\n")
        .map_err(|e| e.to_string())?;
    // Read until the status line is complete: the answer may come in several segments.
    let mut head = Vec::new();
    let mut buf = [0u8; 256];
    while !head.windows(2).any(|w| w == b"\r\n") && head.len() < 4096 {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
            Err(e) => return Err(e.to_string()),
        }
    }
    let line = String::from_utf8_lossy(&head);
    line.split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| "not an HTTP answer".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_urls() {
        assert_eq!(
            split_url("http://127.0.0.1:8001/health"),
            Some(("127.0.0.1", 8001, "/health"))
        );
        assert_eq!(split_url("http://localhost"), Some(("localhost", 80, "/")));
        assert_eq!(split_url("https://x"), None);
    }
}
