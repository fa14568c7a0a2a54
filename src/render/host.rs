//! Host tuning, only for what the stack declares: swap (a `.swap` unit named by systemd's
//! path escaping plus a oneshot that creates the file), sysctl.d, modprobe.d, earlyoom and
//! the kernel arguments as text.

use serde::Serialize;

use super::{RenderError, render};
use crate::stack::unit_names::{swap_creator_name, swap_unit_name};
use crate::stack::{Stack, Text};

#[derive(Serialize)]
struct SwapContext<'a> {
    header: &'a str,
    stack: &'a str,
    path: &'a str,
    /// `None` without a size: nothing creates the file, it must already exist.
    creator: Option<String>,
    swap_unit: String,
    commands: Vec<Vec<String>>,
}

fn swap_context<'a>(
    stack: &'a Stack,
    path: &'a str,
    size: Option<u64>,
    header: &'a str,
) -> SwapContext<'a> {
    // Built under a temporary name and renamed into place, so an interrupted run leaves
    // nothing at `path` and the condition lets the next boot try again.
    let partial = format!("{path}.strixc-partial");
    let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    SwapContext {
        header,
        stack: &stack.name.value,
        path,
        creator: size.map(|_| swap_creator_name(stack)),
        swap_unit: swap_unit_name(path),
        commands: match size {
            None => Vec::new(),
            Some(size) => vec![
                words(&["rm", "-f", &partial]),
                words(&["fallocate", "-l", &size.to_string(), &partial]),
                words(&["chmod", "600", &partial]),
                words(&["mkswap", &partial]),
                words(&["mv", &partial, path]),
            ],
        },
    }
}

pub fn swap(
    stack: &Stack,
    path: &str,
    size: Option<u64>,
    header: &str,
) -> Result<String, RenderError> {
    render("swap", &swap_context(stack, path, size, header))
}

pub fn swap_creator(
    stack: &Stack,
    path: &str,
    size: u64,
    header: &str,
) -> Result<String, RenderError> {
    render("swapfile", &swap_context(stack, path, Some(size), header))
}

/// A template that lists `key value` pairs: sysctl's settings, modprobe's options.
#[derive(Serialize)]
struct PairsContext<'a> {
    header: &'a str,
    pairs: Vec<(&'a str, &'a str)>,
}

fn render_pairs(
    template: &'static str,
    pairs: &[(Text, Text)],
    header: &str,
) -> Result<String, RenderError> {
    let pairs = pairs
        .iter()
        .map(|(k, v)| (k.value.as_str(), v.value.as_str()))
        .collect();
    render(template, &PairsContext { header, pairs })
}

pub fn sysctl(stack: &Stack, header: &str) -> Result<String, RenderError> {
    render_pairs("sysctl", &stack.host.sysctl, header)
}

pub fn modprobe(stack: &Stack, header: &str) -> Result<String, RenderError> {
    render_pairs("modprobe", &stack.host.module_options, header)
}

#[derive(Serialize)]
struct TextContext<'a> {
    header: &'a str,
    args: String,
}

/// `/etc/default/earlyoom`: earlyoom's own default report interval plus the stack's
/// `--prefer`/`--avoid` regexes. `None` when the stack declares no earlyoom.
pub fn earlyoom(stack: &Stack, header: &str) -> Option<Result<String, RenderError>> {
    let settings = stack.host.earlyoom.as_ref()?;
    let mut args = String::from("-r 3600");
    for (flag, regex) in [("--prefer", &settings.prefer), ("--avoid", &settings.avoid)] {
        if let Some(regex) = regex {
            args.push_str(&format!(" {flag} {}", regex.value));
        }
    }
    Some(render("earlyoom", &TextContext { header, args }))
}

pub fn cmdline(stack: &Stack, header: &str) -> Result<String, RenderError> {
    let args: Vec<&str> = stack
        .host
        .kernel_args
        .iter()
        .map(|a| a.value.as_str())
        .collect();
    render(
        "cmdline",
        &TextContext {
            header,
            args: args.join(" "),
        },
    )
}
