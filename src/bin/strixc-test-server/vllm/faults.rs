//! The faults a stack's `env` asks the vLLM stand-in for: `STANDIN_READY_AFTER`,
//! `STANDIN_EXIT_AT_START`, `STANDIN_HANG`, `STANDIN_UNHEALTHY_AFTER`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::args::parse_seconds;

/// How the stand-in's health goes over time.
#[derive(Clone, Copy)]
pub struct Faults {
    /// Never healthy.
    pub hang: bool,
    pub ready_after: Duration,
    /// Unhealthy this long after becoming ready.
    pub unhealthy_after: Option<Duration>,
}

impl Faults {
    /// From the environment; `STANDIN_EXIT_AT_START` exits here, with its code.
    pub fn from_env() -> Faults {
        if let Ok(code) = std::env::var("STANDIN_EXIT_AT_START") {
            let code = code.parse::<i32>().unwrap_or(1);
            eprintln!(
                "vllm-standin: RuntimeError: engine core initialization failed (STANDIN_EXIT_AT_START={code})"
            );
            std::process::exit(code);
        }
        Faults {
            hang: std::env::var("STANDIN_HANG").is_ok_and(|v| !v.is_empty() && v != "0"),
            ready_after: env_seconds("STANDIN_READY_AFTER").unwrap_or_default(),
            unhealthy_after: env_seconds("STANDIN_UNHEALTHY_AFTER"),
        }
    }

    /// `/health`'s status and body, `elapsed` after the start.
    pub fn health(&self, elapsed: Duration) -> (&'static str, &'static str) {
        if self.hang || elapsed < self.ready_after {
            ("503 Service Unavailable", "{\"status\":\"loading\"}")
        } else if self
            .unhealthy_after
            .is_some_and(|u| elapsed >= self.ready_after + u)
        {
            ("500 Internal Server Error", "{\"status\":\"engine dead\"}")
        } else {
            ("200 OK", "")
        }
    }

    /// Says on stderr when `/health` turns 200 (and later 500), as it happens.
    pub fn announce(self) {
        if self.hang {
            return;
        }
        std::thread::spawn(move || {
            std::thread::sleep(self.ready_after);
            eprintln!(
                "vllm-standin: ready at {} ms, uptime {} s",
                unix_ms(),
                uptime()
            );
            if let Some(after) = self.unhealthy_after {
                std::thread::sleep(after);
                eprintln!("vllm-standin: unhealthy from now on (STANDIN_UNHEALTHY_AFTER)");
            }
        });
    }
}

fn env_seconds(name: &str) -> Option<Duration> {
    let value = std::env::var(name).ok()?;
    Some(parse_seconds(&value).unwrap_or_else(|| {
        eprintln!("vllm-standin: {name}={value:?} is not a number of seconds");
        std::process::exit(64);
    }))
}

/// The first field of /proc/uptime: seconds since boot, as systemd's `...Monotonic` stamps.
fn uptime() -> String {
    std::fs::read_to_string("/proc/uptime")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(String::from))
        .unwrap_or_else(|| "?".into())
}

fn unix_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}
