//! The gateway's harness: a sandbox with a stack and its gateway applied by the real
//! `strixc apply`, and a plain HTTP/1.1 client that notes when each event arrived.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use super::Sandbox;
use super::stack::{native_kdl, ports};

/// A sandbox with a stack applied, its gateway on its own port.
pub struct Gateway {
    pub sbx: Sandbox,
    pub port: u16,
    /// The agents' ports, in the stack's order.
    pub agents: Vec<u16>,
}

impl Gateway {
    /// Stack "r" (profile standard = thor + valkyrie, odin = thor + odin; odin's test
    /// server gets `odin_args`), its gateway node given the lines `gateway`.
    pub fn start(odin_args: &str, gateway: &str) -> Gateway {
        let p = ports(3);
        let agents = [p[0], p[1], p[2]];
        let stack = native_kdl(
            &agents,
            odin_args,
            r#"quadlet "Unit" "StartLimitIntervalSec" "0""#,
        );
        Gateway::with_stack(&stack, agents.to_vec(), gateway)
    }

    /// `stack` (its agents on `agents`) with a gateway node given the lines `gateway`,
    /// applied in a new sandbox.
    pub fn with_stack(stack: &str, agents: Vec<u16>, gateway: &str) -> Gateway {
        let sbx = Sandbox::start();
        let port = super::free_port();
        let text = format!(
            "{stack}\ngateway {{\n    port {port}\n    strixc \"{}\"\n{gateway}\n}}\n",
            super::strixc_bin(),
        );
        let file = sbx.dir.path().join("stack.kdl");
        std::fs::write(&file, text).expect("write stack");
        let gw = Gateway { sbx, port, agents };
        let out = gw.strixc(&["apply", "--user", "-f", file.to_str().expect("utf-8")]);
        assert!(
            out.status.success(),
            "apply failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        gw
    }

    /// The real `strixc` with this sandbox's environment, its state where the manager's
    /// `%S` points (the manager has no `$XDG_STATE_HOME`: `~/.local/state`).
    pub fn strixc(&self, args: &[&str]) -> std::process::Output {
        let state = self.sbx.dir.path().join("home/.local/state");
        Command::new(super::strixc_bin())
            .args(args)
            .env_clear()
            .envs(self.sbx.env())
            .env("XDG_STATE_HOME", state)
            .output()
            .expect("run strixc")
    }

    /// What the manager says about the gateway, for failure messages.
    pub fn logs(&self) -> String {
        let status = self.sbx.systemctl(&[
            "show",
            "-p",
            "Result,ExecMainStatus,ExecMainCode,ExecStart,Environment,StatusText",
            "r-gateway.service",
        ]);
        let mut manager = String::new();
        for log in ["log/systemd.log", "log/systemd.err"] {
            manager.push_str(
                &std::fs::read_to_string(self.sbx.dir.path().join(log)).unwrap_or_default(),
            );
        }
        let tail: Vec<&str> = manager.lines().rev().take(40).collect();
        format!(
            "{}\n--- manager log (last lines, newest first) ---\n{}",
            String::from_utf8_lossy(&status.stdout),
            tail.join("\n")
        )
    }

    pub fn active(&self, unit: &str) -> bool {
        self.sbx.active_state(unit) == "active"
    }

    pub fn post(&self, path: &str, body: &str) -> Reply {
        request(self.port, "POST", path, body)
    }

    pub fn chat(&self, model: &str, extra: &str) -> Reply {
        self.post(
            "/v1/chat/completions",
            &format!(
                r#"{{"model":"{model}","messages":[{{"role":"user","content":"hi"}}]{extra}}}"#
            ),
        )
    }

    pub fn metric(&self, name_and_labels: &str) -> f64 {
        let text = request(self.port, "GET", "/metrics", "").body;
        text.lines()
            .find_map(|l| l.strip_prefix(name_and_labels))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0.0)
    }
}

/// One response: status, body (chunked encoding left in: tests look for substrings), and
/// when each `data:` event arrived.
pub struct Reply {
    pub status: u16,
    pub body: String,
    pub events: Vec<Instant>,
    /// When the connection closed (the whole response was in).
    pub done: Instant,
}

/// `method path` with `body` to 127.0.0.1:`port`, read to the end.
pub fn request(port: u16, method: &str, path: &str, body: &str) -> Reply {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to the gateway");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("send");
    let mut raw = Vec::new();
    let mut events = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let now = Instant::now();
        let seen = String::from_utf8_lossy(&buf[..n]).matches("data: ").count();
        events.extend(std::iter::repeat_n(now, seen));
        raw.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&raw).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map_or(String::new(), |(_, b)| b.to_owned());
    Reply {
        status,
        body,
        events,
        done: Instant::now(),
    }
}
