//! Per-agent progress while jobs run: a live display on a terminal (indicatif), plain lines
//! on state changes otherwise. Everything goes to stderr, and a stderr that is gone (a
//! closed pipe: `strixc apply 2>&1 | head -1`) is ignored: output never stops a switch
//! halfway (`eprintln!` would panic there).

use std::collections::HashMap;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::systemd::UnitStatus;

/// How `apply` shows progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProgressMode {
    /// Live display when stderr is a terminal, plain lines otherwise.
    #[default]
    Auto,
    Plain,
    Quiet,
}

pub struct Progress {
    /// (agent, unit)
    agents: Vec<(String, String)>,
    started: Instant,
    view: View,
    last: HashMap<String, String>,
}

enum View {
    /// The `MultiProgress` owns the drawing; kept alive with the bars.
    Live(#[allow(dead_code)] MultiProgress, Vec<ProgressBar>),
    Plain,
    Quiet,
}

impl Progress {
    pub fn new(mode: ProgressMode, agents: Vec<(String, String)>) -> Self {
        let live = match mode {
            ProgressMode::Auto => std::io::stderr().is_terminal(),
            _ => false,
        };
        let view = if live {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template("{spinner} {prefix:<16} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner());
            let bars = agents
                .iter()
                .map(|(agent, _)| {
                    let bar = multi.add(ProgressBar::new_spinner());
                    bar.set_style(style.clone());
                    bar.set_prefix(agent.clone());
                    bar.enable_steady_tick(Duration::from_millis(120));
                    bar
                })
                .collect();
            View::Live(multi, bars)
        } else if mode == ProgressMode::Quiet {
            View::Quiet
        } else {
            View::Plain
        };
        Self {
            agents,
            started: Instant::now(),
            view,
            last: HashMap::new(),
        }
    }

    pub fn units(&self) -> Vec<&str> {
        self.agents.iter().map(|(_, u)| u.as_str()).collect()
    }

    /// Shows the states just read.
    pub fn update(&mut self, states: &[UnitStatus]) {
        let elapsed = self.started.elapsed().as_secs_f32();
        for (i, (agent, unit)) in self.agents.iter().enumerate() {
            let Some(state) = states.iter().find(|s| &s.name == unit) else {
                continue;
            };
            let text = describe(state);
            match &self.view {
                View::Live(_, bars) => bars[i].set_message(format!("{text}  {elapsed:.1}s")),
                View::Plain => {
                    if self.last.get(unit) != Some(&text) {
                        note(&format!("  {agent} ({unit}): {text} [{elapsed:.1}s]"));
                    }
                }
                View::Quiet => {}
            }
            self.last.insert(unit.clone(), text);
        }
    }

    pub fn finish(self) {
        if let View::Live(_, bars) = &self.view {
            for bar in bars {
                bar.finish();
            }
        }
    }
}

/// One line on stderr; a write error (closed pipe, full disk) is ignored: the switch goes on.
pub fn note(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

fn describe(state: &UnitStatus) -> String {
    let mut text = format!("{} ({})", state.active_state, state.sub_state);
    if let Some(job) = &state.job {
        text.push_str(&format!(", {job} job queued"));
    }
    text
}
