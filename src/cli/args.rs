//! The command line: the commands, flags and exit codes the README documents.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const ABOUT: &str = "Compile a local LLM stack (stack.kdl) into systemd and podman units, and switch between its profiles";

const LONG_ABOUT: &str = "\
strixc reads one declarative file, stack.kdl (agents, models, contexts, profiles, host \
tuning), checks it against the machine's unified-memory budget the way vLLM sizes memory, \
compiles it into a reviewable generated/ tree (podman quadlet units, one systemd target per \
profile, sysctl/swap/earlyoom/kernel settings, OpenCode client files) and activates a profile \
over D-Bus.

Typical use:
  strixc check                 # every problem in stack.kdl, at once
  strixc budget                # what each agent takes, per profile
  strixc build                 # write generated/ (commit it, review the diff)
  strixc apply --profile odin  # install, reload, switch, wait

Exit codes:
  0  done (a closed stdout or stderr does not change it: the switch finished or rolled back)
  1  the stack has errors; nothing was written (model import: the files are no usable model)
  2  usage error (bad flag, unknown profile, apply/rollback --system without root)
  3  a system or D-Bus call failed, the D-Bus connection dropped mid-switch, or the state
     folder is damaged (the message names the file)
  4  units failed to activate (after rollback), or the machine cannot run the profile
  5  nothing to act on: status, rollback or serve with nothing applied, rollback from the oldest";

#[derive(Debug, Parser)]
#[command(name = "strixc", version, about = ABOUT, long_about = LONG_ABOUT)]
pub struct Cli {
    /// The stack file.
    #[arg(
        short = 'f',
        long = "file",
        global = true,
        default_value = "stack.kdl",
        value_name = "PATH"
    )]
    pub file: PathBuf,

    /// When to colour diagnostics.
    #[arg(long, global = true, value_enum, default_value_t = Color::Auto, value_name = "WHEN")]
    pub color: Color,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Color {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Parse and check the stack; print every error and warning; write nothing.
    Check,

    /// Write the generated tree: quadlet units, profile targets, host tuning, OpenCode files.
    Build(BuildArgs),

    /// Show the memory budget: each agent's weights, KV cache, overhead and utilization, per profile.
    Budget(BudgetArgs),

    /// Show what `apply` would change: unified diffs of the installed files, and unit actions.
    #[command(mut_arg("root", |a| a.help(ROOT_DIFF)))]
    Diff(DiffArgs),

    /// Build, install, reload systemd and switch to a profile, waiting for every agent.
    ///
    /// Restarts only agents whose files changed; a second apply with nothing changed does
    /// nothing. If a unit fails or times out, the previous generation's files and profile
    /// come back (unless --no-rollback) and strixc exits 4.
    Apply(ApplyArgs),

    /// The active profile, each agent's unit state, health answer and memory.
    #[command(mut_arg("root", |a| a.help(ROOT_STATUS)))]
    Status(StatusArgs),

    /// Switch back to the previous generation (its files and its profile).
    #[command(mut_arg("root", |a| a.help(ROOT_ROLLBACK)))]
    Rollback(RollbackArgs),

    /// List the generations apply has recorded.
    #[command(mut_arg("root", |a| a.help(ROOT_GENERATIONS)))]
    Generations(SystemdArgs),

    /// Run the stack's gateway: one OpenAI-compatible address for every agent, switching
    /// profiles when a request needs an agent that is not running. Started by the
    /// generated `S-gateway.socket`; reads the installed generation, not stack.kdl.
    Serve(ServeArgs),

    /// Work with model definitions.
    #[command(subcommand)]
    Model(ModelCommand),

    /// Print shell completions (`--profile <TAB>` completes the stack's profile names).
    ///
    /// bash: `source <(strixc completions bash)`; zsh: `strixc completions zsh >
    /// ~/.zfunc/_strixc` (a folder in $fpath); fish: `strixc completions fish >
    /// ~/.config/fish/completions/strixc.fish`.
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },

    /// The profile names of the stack file, one a line (used by the completion scripts).
    #[command(name = "complete-profiles", hide = true)]
    CompleteProfiles,

    /// Print the man page (roff).
    Man,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Where to write the tree.
    #[arg(
        short = 'o',
        long = "out",
        default_value = "generated",
        value_name = "DIR"
    )]
    pub out: PathBuf,

    /// Write nothing; exit 1 and list the files that differ if DIR is not what a build would write.
    #[arg(long)]
    pub check: bool,
}

// What `--root DIR` (an offline prefix: an image being built; no D-Bus) means for each
// command but `apply`, whose meaning is the field's own doc below.
const ROOT_DIFF: &str =
    "Compare with the files installed under this prefix; no unit actions (nothing runs there)";
const ROOT_STATUS: &str = "Show the generation recorded under this prefix and its agents, \
                           without D-Bus: no live states (units, health, memory)";
const ROOT_ROLLBACK: &str = "Put the previous generation's files back under this prefix and \
                             make it current, but start nothing";
const ROOT_GENERATIONS: &str = "List the generations recorded under this prefix";

/// Where activation happens: which systemd, and an optional install prefix.
#[derive(Debug, Clone, Args)]
pub struct SystemdArgs {
    /// The user's systemd (session bus, ~/.config/containers/systemd, ~/.config/systemd/user).
    /// Default when not run as root.
    #[arg(long, conflicts_with = "system")]
    pub user: bool,

    /// The system's systemd (system bus, /etc/containers/systemd, /etc/systemd/system,
    /// sysctl.d, modprobe.d, earlyoom). Default when run as root.
    #[arg(long)]
    pub system: bool,

    /// Install into this prefix and record a generation, but start nothing (image builders).
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub systemd: SystemdArgs,

    /// The profile to switch to (default: the stack's default profile).
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,

    /// Print what would change (files and unit actions); change nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// On failure, leave the failed generation installed instead of restoring the previous one.
    #[arg(long)]
    pub no_rollback: bool,

    /// Deadline for all jobs, like "20m" or "90s" (default: the agents' start timeouts + 30s).
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<String>,

    /// Fail (exit 3) instead of waiting when another apply holds the lock.
    #[arg(long)]
    pub no_wait: bool,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Switch through the user manager (the default unless run as root).
    #[arg(long, conflicts_with = "system")]
    pub user: bool,

    /// Switch through the system manager (the default as root).
    #[arg(long)]
    pub system: bool,

    /// Where the generations are; default: the mode's own, as for `apply`.
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,

    /// Listen on ADDRESS (like 127.0.0.1:8000) instead of the socket systemd passes.
    #[arg(long, value_name = "ADDRESS")]
    pub listen: Option<std::net::SocketAddr>,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    #[command(flatten)]
    pub systemd: SystemdArgs,

    /// The profile apply would switch to (default: the stack's default profile).
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub systemd: SystemdArgs,

    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    #[command(flatten)]
    pub systemd: SystemdArgs,

    /// Deadline for all jobs, like "20m".
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<String>,

    /// Fail (exit 3) instead of waiting when another apply holds the lock.
    #[arg(long)]
    pub no_wait: bool,
}

#[derive(Debug, Args)]
pub struct BudgetArgs {
    /// Only this profile.
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,

    /// Machine-readable output (the schema is in the README, under "The budget").
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum ModelCommand {
    /// Read a local Hugging Face model folder (or its config.json) and print a ready `model` node.
    ///
    /// Reads config.json for the architecture and model.safetensors.index.json (or the
    /// .safetensors headers) for the weight size. Nothing is fetched from the network.
    Import {
        /// A model folder, an HF cache snapshot folder, or a config.json.
        path: PathBuf,
    },
}
