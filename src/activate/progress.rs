//! Per-agent progress while jobs run: a live display on a terminal (one spinner line per
//! agent, redrawn in place), plain lines on state changes otherwise. Everything goes to
//! stderr, and a stderr that is gone (a closed pipe: `strixc apply 2>&1 | head -1`) is
//! ignored: output never stops a switch halfway (`eprintln!` would panic there).

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::activate::systemd::UnitStatus;

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
    Live(Live),
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
            View::Live(Live::start(agents.iter().map(|(agent, _)| agent.clone())))
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
                View::Live(live) => live.set_message(i, format!("{text}  {elapsed:.1}s")),
                View::Plain => {
                    if self.last.get(unit) != Some(&text) {
                        note(&format!("  {agent} ({unit}): {text} [{elapsed:.1}s]"));
                    }
                }
                View::Quiet => {}
            }
            self.last.insert(unit.clone(), text);
        }
        if let View::Live(live) = &self.view {
            live.redraw();
        }
    }

    /// Stops the spinners and leaves each agent's last line on the screen.
    pub fn finish(self) {
        // Dropping the live view stops its ticker and draws the final frame.
    }
}

/// One line on stderr; a write error (closed pipe, full disk) is ignored: the switch goes on.
pub fn note(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

fn describe(state: &UnitStatus) -> String {
    let mut text = format!("{} ({})", state.active_state, state.sub_state);
    if let Some(job) = &state.job {
        text.push_str(&format!(", {job} job queued"));
    }
    text
}

/// The spinner's frames; the blank one is shown once an agent's line is final.
const SPINNER: [&str; 8] = ["⠁", "⠂", "⠄", "⡀", "⢀", "⠠", "⠐", "⠈"];
const FINISHED: &str = " ";
/// How often the spinners turn while nothing else changes.
const TICK: Duration = Duration::from_millis(120);

/// The lines of the live display: one per agent, spinner, name (padded to 16) and message.
#[derive(Debug, Default)]
struct Frame {
    lines: Vec<(String, String)>,
    tick: usize,
    finished: bool,
    /// Lines the previous draw left on the screen (the cursor is below them).
    drawn: usize,
}

impl Frame {
    /// The bytes that replace the previous frame with this one: the cursor goes back up
    /// over the lines drawn before, then each line is cleared and rewritten, cut to `width`
    /// columns so that no line wraps (a wrapped line would break the next move up).
    fn render(&mut self, width: usize) -> String {
        let mut out = String::new();
        if self.drawn > 0 {
            out.push_str(&format!("\x1b[{}A", self.drawn));
        }
        let spinner = if self.finished {
            FINISHED
        } else {
            SPINNER[self.tick % SPINNER.len()]
        };
        for (prefix, message) in &self.lines {
            let line = format!("{spinner} {prefix:<16} {message}");
            out.push_str("\r\x1b[2K");
            out.extend(line.trim_end().chars().take(width.saturating_sub(1).max(1)));
            out.push('\n');
        }
        self.drawn = self.lines.len();
        out
    }
}

/// The live display: a ticker thread turns the spinners; `set_message` and `redraw`
/// change the text; dropping it stops the ticker and leaves the final frame.
struct Live {
    frame: Arc<Mutex<Frame>>,
    stop: Arc<(Mutex<bool>, std::sync::Condvar)>,
    ticker: Option<JoinHandle<()>>,
}

impl Live {
    fn start(agents: impl Iterator<Item = String>) -> Self {
        let frame = Arc::new(Mutex::new(Frame {
            lines: agents.map(|agent| (agent, String::new())).collect(),
            ..Frame::default()
        }));
        let stop = Arc::new((Mutex::new(false), std::sync::Condvar::new()));
        draw(&frame);
        let ticker = {
            let frame = Arc::clone(&frame);
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let (lock, wake) = &*stop;
                let mut stopped = lock.lock().unwrap_or_else(PoisonError::into_inner);
                while !*stopped {
                    stopped = wake
                        .wait_timeout(stopped, TICK)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                    if !*stopped {
                        lock_frame(&frame).tick += 1;
                        draw(&frame);
                    }
                }
            })
        };
        Self {
            frame,
            stop,
            ticker: Some(ticker),
        }
    }

    fn set_message(&self, line: usize, message: String) {
        if let Some(entry) = lock_frame(&self.frame).lines.get_mut(line) {
            entry.1 = message;
        }
    }

    fn redraw(&self) {
        draw(&self.frame);
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        let (lock, wake) = &*self.stop;
        *lock.lock().unwrap_or_else(PoisonError::into_inner) = true;
        wake.notify_all();
        if let Some(ticker) = self.ticker.take() {
            let _ = ticker.join();
        }
        lock_frame(&self.frame).finished = true;
        draw(&self.frame);
    }
}

fn lock_frame(frame: &Mutex<Frame>) -> std::sync::MutexGuard<'_, Frame> {
    frame.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Draws the frame on stderr. A closed or failing stderr is ignored: progress is only a
/// view, and the apply must go on (and be recorded) without it.
fn draw(frame: &Mutex<Frame>) {
    let width = terminal_size::terminal_size_of(std::io::stderr())
        .map_or(80, |(terminal_size::Width(w), _)| usize::from(w));
    let text = lock_frame(frame).render(width);
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(text.as_bytes());
    let _ = err.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(lines: &[(&str, &str)]) -> Frame {
        Frame {
            lines: lines
                .iter()
                .map(|(a, m)| (a.to_string(), m.to_string()))
                .collect(),
            ..Frame::default()
        }
    }

    #[test]
    fn the_first_frame_draws_one_line_per_agent_with_a_padded_name() {
        let mut f = frame(&[("odin", "activating (start)  1.0s"), ("loki", "")]);
        assert_eq!(
            f.render(80),
            "\r\x1b[2K⠁ odin             activating (start)  1.0s\n\r\x1b[2K⠁ loki\n"
        );
    }

    #[test]
    fn later_frames_move_up_over_the_previous_one_and_turn_the_spinner() {
        let mut f = frame(&[("odin", "a"), ("loki", "b")]);
        f.render(80);
        f.tick += 1;
        let second = f.render(80);
        assert!(second.starts_with("\x1b[2A\r\x1b[2K⠂ odin"), "{second:?}");
        assert_eq!(second.matches('\n').count(), 2);
    }

    #[test]
    fn no_line_is_wider_than_the_terminal() {
        let mut f = frame(&[("odin", &"x".repeat(200))]);
        let text = f.render(40);
        let line = text.trim_start_matches("\r\x1b[2K").trim_end_matches('\n');
        assert_eq!(line.chars().count(), 39);
    }

    #[test]
    fn the_final_frame_has_no_spinner_and_keeps_the_messages() {
        let mut f = frame(&[("odin", "active (running)  3.2s")]);
        f.render(80);
        f.finished = true;
        assert_eq!(
            f.render(80),
            "\x1b[1A\r\x1b[2K  odin             active (running)  3.2s\n"
        );
    }
}
