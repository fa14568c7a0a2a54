//! The health endpoint probe and the metrics fetch of `status`: one HTTP/1.1 GET with hyper over a tokio `TcpStream` (a
//! current-thread runtime per probe), short timeouts. IPv4 and IPv6 literals (`[::1]`) and
//! host names all work.

use std::time::Duration;

use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, Uri};
use hyper_util::rt::TokioIo;

/// The status code of `GET url` (plain `http` only), or why there is none. Connecting and
/// the answer's head each get `timeout`.
pub fn probe(url: &str, timeout: Duration) -> Result<u16, String> {
    let request = parse(url)?;
    runtime()?.block_on(async {
        let response = exchange(request, timeout).await?;
        Ok(response.status().as_u16())
    })
}

/// `GET url`: the body (at most 4 MiB, read within `timeout` too), when the status is 200.
pub fn get(url: &str, timeout: Duration) -> Option<String> {
    let request = parse(url).ok()?;
    runtime().ok()?.block_on(async {
        let response = exchange(request, timeout).await.ok()?;
        if response.status() != hyper::StatusCode::OK {
            return None;
        }
        let body = Limited::new(response.into_body(), 4 << 20).collect();
        let body = within(timeout, body).await.ok()?.ok()?.to_bytes();
        Some(String::from_utf8_lossy(&body).into_owned())
    })
}

/// Where to connect (host, port) and the request to send there.
struct Get {
    host: String,
    port: u16,
    request: Request<Empty<Bytes>>,
}

fn parse(url: &str) -> Result<Get, String> {
    let unsupported = || format!("unsupported URL {url}");
    let uri: Uri = url.parse().map_err(|_| unsupported())?;
    if uri.scheme_str() != Some("http") {
        return Err(unsupported());
    }
    let authority = uri.authority().ok_or_else(unsupported)?;
    let path = uri.path_and_query().map_or("/", |pq| pq.as_str());
    let request = Request::get(path)
        .header(hyper::header::HOST, authority.as_str())
        .body(Empty::<Bytes>::new())
        .map_err(|e| e.to_string())?;
    Ok(Get {
        // `[::1]` is how a URL writes an IPv6 address; the socket wants it bare.
        host: authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string(),
        port: authority.port_u16().unwrap_or(80),
        request,
    })
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(|e| e.to_string())
}

/// Connects and sends the request; the response's head.
async fn exchange(get: Get, timeout: Duration) -> Result<Response<Incoming>, String> {
    let connect = tokio::net::TcpStream::connect((get.host.as_str(), get.port));
    let stream = within(timeout, connect).await?.map_err(|e| e.to_string())?;
    let answer = async {
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(connection);
        sender.send_request(get.request).await
    };
    within(timeout, answer).await?.map_err(|e| e.to_string())
}

/// `future`'s output, or an error once `timeout` has passed.
async fn within<T>(timeout: Duration, future: impl Future<Output = T>) -> Result<T, String> {
    tokio::time::timeout(timeout, future)
        .await
        .map_err(|_| format!("no answer within {} ms", timeout.as_millis()))
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::{SocketAddr, TcpListener};

    use super::*;

    /// A server on `addr` that answers one request with `status`; its URL.
    fn serve_once(addr: SocketAddr, status: &'static str) -> String {
        let listener = TcpListener::bind(addr).unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut head = Vec::new();
            let mut buf = [0u8; 512];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\ncontent-length: 2\r\nconnection: close\r\n\r\nup"
            );
        });
        match addr {
            SocketAddr::V4(a) => format!("http://{}:{port}/health", a.ip()),
            SocketAddr::V6(a) => format!("http://[{}]:{port}/health", a.ip()),
        }
    }

    const TIMEOUT: Duration = Duration::from_secs(5);

    #[test]
    fn probes_ipv4() {
        let url = serve_once("127.0.0.1:0".parse().unwrap(), "200 OK");
        assert_eq!(probe(&url, TIMEOUT), Ok(200));
        let url = serve_once("127.0.0.1:0".parse().unwrap(), "503 Service Unavailable");
        assert_eq!(probe(&url, TIMEOUT), Ok(503));
    }

    #[test]
    fn probes_ipv6() {
        let addr: SocketAddr = "[::1]:0".parse().unwrap();
        if let Err(e) = TcpListener::bind(addr) {
            println!("skipped: no IPv6 loopback on this machine ({e})");
            return;
        }
        let url = serve_once(addr, "200 OK");
        assert!(url.starts_with("http://[::1]:"), "{url}");
        assert_eq!(probe(&url, TIMEOUT), Ok(200));
    }

    #[test]
    fn gets_the_body_of_an_ok_answer_only() {
        let url = serve_once("127.0.0.1:0".parse().unwrap(), "200 OK");
        assert_eq!(get(&url, TIMEOUT).as_deref(), Some("up"));
        let url = serve_once("127.0.0.1:0".parse().unwrap(), "503 Service Unavailable");
        assert_eq!(get(&url, TIMEOUT), None);
    }

    #[test]
    fn nothing_listening_is_an_error() {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("http://127.0.0.1:{port}/health");
        assert!(probe(&url, TIMEOUT).is_err());
    }

    #[test]
    fn refuses_other_schemes() {
        assert_eq!(
            probe("https://x/health", TIMEOUT),
            Err("unsupported URL https://x/health".into())
        );
        assert!(probe("not a url", TIMEOUT).is_err());
    }
}
