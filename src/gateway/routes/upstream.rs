//! The call to the agent: one HTTP/1.1 connection per request, the client's headers minus
//! the hop-by-hop ones, the body as read. The connection has no task of its own: it is
//! driven here until the response's head arrives, then by the response body (`relay`).

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::Poll;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::tree::manifest::ManifestAgent;

/// The connection to the agent, which reads and decodes its response.
pub type Connection = hyper::client::conn::http1::Connection<TokioIo<TcpStream>, Full<Bytes>>;

/// `host:port` of the agent: its health URL's authority, else loopback and its port.
pub fn address(agent: &ManifestAgent) -> String {
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
pub enum Upstream {
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

/// Sends the request (`parts` with `body`) to the agent at `address`; its response's body
/// streams from the agent as long as the caller polls the connection beside it (none when
/// the agent's connection already ended with the response whole).
pub async fn forward(
    address: &str,
    parts: &hyper::http::request::Parts,
    body: Bytes,
) -> Result<(Response<Incoming>, Option<Connection>), Upstream> {
    let stream = TcpStream::connect(address)
        .await
        .map_err(Upstream::Connect)?;
    let _ = stream.set_nodelay(true);
    let http = |e: hyper::Error| Upstream::Http(e.to_string());
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(http)?;
    let mut response = std::pin::pin!(sender.send_request(request(address, parts, body)?));
    let mut connection = Some(connection);
    let response = poll_fn(|cx| {
        if let Poll::Ready(response) = response.as_mut().poll(cx) {
            return Poll::Ready(response.map_err(http));
        }
        let Some(driven) = &mut connection else {
            return Poll::Ready(Err(Upstream::Http(
                "the agent closed the connection".into(),
            )));
        };
        match Pin::new(driven).poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(e)) => Poll::Ready(Err(http(e))),
            // Done, its response whole (or none to come): look once more.
            Poll::Ready(Ok(())) => {
                connection = None;
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        }
    })
    .await?;
    Ok((response, connection))
}

fn request(
    address: &str,
    parts: &hyper::http::request::Parts,
    body: Bytes,
) -> Result<Request<Full<Bytes>>, Upstream> {
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
    upstream
        .header(header::HOST, address)
        .header(header::CONTENT_LENGTH, body.len())
        .body(Full::new(body))
        .map_err(|e| Upstream::Http(e.to_string()))
}
