//! `strixc serve`: the gateway. One OpenAI-compatible address for every agent of the
//! installed stack; a request for an agent the running profile lacks switches profiles
//! (the same activation as `strixc apply --profile`), waiting in a bounded queue meanwhile.
//!
//! - `routes`: HTTP in and out (routing by `model`, streaming pass-through, JSON errors);
//! - `scheduler`: who may run now, when to switch, hold/idle, in-flight counts;
//! - `metrics`: the Prometheus text of `/metrics`.
//!
//! It runs on one tokio thread (a proxy waits on sockets; two cores are shared with the
//! agents), with D-Bus calls on tokio's blocking pool.

mod metrics;
mod routes;
mod scheduler;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};

use crate::activate::systemd::Bus;
use crate::activate::{ApplyContext, Layout, Mode};
use crate::error::Error;

pub use scheduler::{Config, Scheduler};

/// A client has this long to send its request headers (a slow client holds only its own
/// connection, never the others').
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);

/// How `strixc serve` was started.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub mode: Mode,
    /// Where the generations are (`/var/lib/strixc`, `$XDG_STATE_HOME/strixc`).
    pub state_dir: PathBuf,
    /// Listen here instead of taking the socket systemd passes (`LISTEN_FDS`).
    pub listen: Option<SocketAddr>,
}

/// Runs the gateway until the process is stopped.
pub fn serve(options: &ServeOptions) -> Result<(), Error> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(|e| Error::Io {
            what: "start the gateway's runtime",
            path: PathBuf::new(),
            source: e,
        })?;
    let ctx = context(options)?;
    let std_listener = listener(options)?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(std_listener).map_err(|e| Error::Io {
            what: "use the listening socket",
            path: PathBuf::new(),
            source: e,
        })?;
        let scheduler = Scheduler::start(ctx).await?;
        accept_loop(listener, scheduler).await;
        Ok(())
    })
}

fn context(options: &ServeOptions) -> Result<ApplyContext, Error> {
    let mut layout = match options.mode {
        Mode::User => Layout::user_from_env(std::path::Path::new("/"))?,
        Mode::System => Layout::system(std::path::Path::new("/")),
    };
    layout.state_dir = options.state_dir.clone();
    let bus = match options.mode {
        Mode::User => Bus::Session,
        Mode::System => Bus::System,
    };
    Ok(ApplyContext::with_layout(layout, bus))
}

/// The socket systemd passed (socket activation: `LISTEN_PID` is us, `LISTEN_FDS` ≥ 1, the
/// first is fd 3), or `--listen`.
fn listener(options: &ServeOptions) -> Result<std::net::TcpListener, Error> {
    let io = |what: &str, source| Error::Io {
        what: "listen on",
        path: PathBuf::from(what),
        source,
    };
    let listener = if let Some(address) = options.listen {
        std::net::TcpListener::bind(address).map_err(|e| io(&address.to_string(), e))?
    } else {
        let ours = std::env::var("LISTEN_PID")
            .ok()
            .and_then(|p| p.parse::<u32>().ok())
            .is_some_and(|p| p == std::process::id());
        let count = std::env::var("LISTEN_FDS")
            .ok()
            .and_then(|n| n.parse::<u32>().ok())
            .unwrap_or(0);
        if !ours || count == 0 {
            return Err(Error::Usage(
                "no socket from systemd (LISTEN_FDS): start the gateway's .socket unit, or pass --listen ADDRESS".into(),
            ));
        }
        // SAFETY: systemd passed fd 3 to this process (LISTEN_PID is ours) as a listening
        // stream socket (the generated .socket's ListenStream=); nothing else owns it.
        unsafe { <std::net::TcpListener as std::os::fd::FromRawFd>::from_raw_fd(3) }
    };
    listener
        .set_nonblocking(true)
        .map_err(|e| io("listening socket", e))?;
    Ok(listener)
}

async fn accept_loop(listener: tokio::net::TcpListener, scheduler: Arc<Scheduler>) {
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            // Out of descriptors and the like: wait a moment rather than spin.
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let scheduler = scheduler.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                routes::handle(request, scheduler.clone())
            });
            let _ = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
