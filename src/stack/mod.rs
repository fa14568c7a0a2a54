//! The typed stack: what `stack.kdl` says, every value with the span it came from.
//!
//! Decoding fills this in even when parts are wrong (missing values are `None`), so the
//! checks can still run and report everything at once. Defaults live in `defaults`.

pub mod placeholder;
pub mod quantity;
pub mod unit_names;
mod words;

use miette::SourceSpan;

use words::string_enum;

#[derive(Debug, Clone, PartialEq)]
pub struct Spanned<T> {
    pub value: T,
    pub span: SourceSpan,
}

impl<T> Spanned<T> {
    pub fn new(value: T, span: SourceSpan) -> Self {
        Spanned { value, span }
    }
}

/// A value not decoded yet, placed at the start of the file.
impl<T: Default> Default for Spanned<T> {
    fn default() -> Self {
        Spanned::new(T::default(), SourceSpan::new(0.into(), 0))
    }
}

impl<T> std::ops::Deref for Spanned<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

pub type Name = Spanned<String>;
pub type Text = Spanned<String>;

/// Every implicit default of the language, in one place.
pub mod defaults {
    /// Cap on one instance's `--gpu-memory-utilization`, as a fraction in hundredths.
    pub const MAX_UTILIZATION_HUNDREDTHS: u16 = 90;
    /// vLLM's own default `--max-num-seqs` is 256 (multi-user); one person needs a few.
    pub const MAX_SEQS: u32 = 4;
    /// The podman version assumed when `host` names none (Debian 13, Fedora 41).
    pub const PODMAN: super::PodmanVersion = super::PodmanVersion::new(5, 4);
    /// Memory never given to an agent when `host` sets no `reserve`: OS, desktop, browser.
    pub const RESERVE_BYTES: u64 = 8 << 30;
    pub const HEALTH_INTERVAL_MS: u64 = 30_000;
    pub const HEALTH_START_PERIOD_MS: u64 = 15 * 60_000;
    /// The gateway: back to the default profile after this long without a request for a
    /// summoned agent.
    pub const GATEWAY_IDLE_MS: u64 = 15 * 60_000;
    /// The gateway: a summoned profile stays at least this long (no thrash).
    pub const GATEWAY_HOLD_MS: u64 = 2 * 60_000;
    /// The gateway: requests waiting for a switch, at most.
    pub const GATEWAY_QUEUE: u64 = 64;
    /// The gateway: how long a request may wait for its agent before a 503.
    pub const GATEWAY_WAIT_MS: u64 = 10 * 60_000;
    /// The gateway: how long requests in flight on an agent that a switch stops may run on.
    pub const GATEWAY_GRACE_MS: u64 = 2 * 60_000;
    /// The gateway's `strixc` binary, found in systemd's fixed search path.
    pub const GATEWAY_STRIXC: &str = "strixc";
    /// Tokens of OpenCode's first request before the user's own words (its system prompt
    /// and tool definitions), measured with OpenCode 1.18.33 against llama-server. Every
    /// OpenCode request is at least this long, so an agent's context must hold it plus the
    /// output cap. `stack { opencode prompt-tokens=N }` overrides it.
    pub const OPENCODE_PROMPT_TOKENS: u64 = 7769;
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Stack {
    pub name: Name,
    pub description: Option<Text>,
    /// `stack { opencode prompt-tokens=N }`: the size of OpenCode's smallest request.
    pub opencode_prompt_tokens: Option<Spanned<u64>>,
    pub host: Host,
    pub runtimes: Vec<Runtime>,
    pub models: Vec<Model>,
    pub agents: Vec<Agent>,
    pub profiles: Vec<Profile>,
    pub gateway: Option<Gateway>,
}

/// `gateway { port 8000 ... }`: one OpenAI-compatible address for every agent, switching
/// profiles when a request needs an agent that is not running.
#[derive(Debug, Clone, PartialEq)]
pub struct Gateway {
    /// The `gateway` node's name.
    pub span: SourceSpan,
    pub port: Option<Spanned<u16>>,
    pub bind: Option<Spanned<std::net::IpAddr>>,
    pub idle_ms: Option<Spanned<u64>>,
    pub hold_ms: Option<Spanned<u64>>,
    pub queue: Option<Spanned<u64>>,
    pub wait_ms: Option<Spanned<u64>>,
    pub grace_ms: Option<Spanned<u64>>,
    /// The `strixc` binary its service runs (default: `strixc` from systemd's search path).
    pub strixc: Option<Text>,
}

/// A gateway with nothing set, at the start of the file.
impl Default for Gateway {
    fn default() -> Self {
        Gateway {
            span: SourceSpan::new(0.into(), 0),
            port: None,
            bind: None,
            idle_ms: None,
            hold_ms: None,
            queue: None,
            wait_ms: None,
            grace_ms: None,
            strixc: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Host {
    /// The `host` node's name, for labels about the host as a whole.
    pub span: SourceSpan,
    pub memory: Option<Spanned<u64>>,
    pub gpu: Option<Gpu>,
    pub reserve: Option<Spanned<u64>>,
    pub max_utilization: Option<Spanned<u16>>,
    pub podman: Option<Spanned<PodmanVersion>>,
    pub swap: Option<Swap>,
    pub sysctl: Vec<(Text, Text)>,
    pub earlyoom: Option<Earlyoom>,
    pub kernel_args: Vec<Text>,
    pub module_options: Vec<(Text, Text)>,
}

/// No `host` node: its span is empty, at the start of the file.
impl Default for Host {
    fn default() -> Self {
        Host {
            span: SourceSpan::new(0.into(), 0),
            memory: None,
            gpu: None,
            reserve: None,
            max_utilization: None,
            podman: None,
            swap: None,
            sysctl: Vec::new(),
            earlyoom: None,
            kernel_args: Vec::new(),
            module_options: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Gpu {
    pub arch: Text,
    pub memory: Option<Spanned<u64>>,
    pub unified: bool,
}

/// A podman release, `major.minor`; ordered by release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct PodmanVersion {
    pub major: u32,
    pub minor: u32,
}

impl PodmanVersion {
    pub const fn new(major: u32, minor: u32) -> Self {
        PodmanVersion { major, minor }
    }
}

impl std::fmt::Display for PodmanVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Swap {
    pub path: Text,
    pub size: Option<Spanned<u64>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Earlyoom {
    pub span: SourceSpan,
    pub prefer: Option<Text>,
    pub avoid: Option<Text>,
}

string_enum! {
    /// The server program a runtime runs.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
    pub enum Engine {
        #[default]
        Vllm = "vllm",
        LlamaCpp = "llama.cpp",
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Launch {
    Container { image: Text },
    Native { command: Vec<Text> },
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Runtime {
    pub name: Name,
    pub engine: Spanned<Engine>,
    /// `None` only when the node is broken (neither or both of image and command).
    pub launch: Option<Launch>,
    pub devices: Vec<Text>,
    pub env: Vec<(Text, Text)>,
    /// The `env` names marked `secret=#false`: their values are no credentials.
    pub env_not_secret: Vec<String>,
    pub secrets: Vec<Secret>,
    pub volumes: Vec<(Text, Text)>,
    pub health: Option<HealthCheck>,
    pub quadlet: Vec<QuadletEntry>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Secret {
    pub name: Text,
    /// The environment variable it is exposed as (default: the name upper-cased).
    pub env: Option<Text>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct HealthCheck {
    pub path: Text,
    pub interval_ms: Option<Spanned<u64>>,
    pub start_period_ms: Option<Spanned<u64>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct QuadletEntry {
    pub section: Text,
    pub key: Text,
    pub value: Text,
    /// Marked `secret=#false`: the value is no credential, whatever it looks like.
    pub not_secret: bool,
}

string_enum! {
    /// The weights' format (`quant`); `model import` maps config.json's quantisation to it.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum Quant {
        Awq = "awq",
        Gptq = "gptq",
        Marlin = "marlin",
        Fp8 = "fp8",
        Bf16 = "bf16",
        Fp16 = "fp16",
        Fp32 = "fp32",
        Gguf = "gguf",
    }
}

string_enum! {
    /// `--kv-cache-dtype`: `auto` stores keys and values in the model dtype (fp16/bf16,
    /// 2 bytes), `fp8` in one byte.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub enum KvDtype {
        #[default]
        Auto = "auto",
        Fp8 = "fp8",
    }
}

impl KvDtype {
    /// Bytes per stored key or value element.
    pub const fn bytes(self) -> u64 {
        match self {
            KvDtype::Auto => 2,
            KvDtype::Fp8 => 1,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Model {
    pub name: Name,
    pub repo: Option<Text>,
    pub path: Option<Text>,
    pub quant: Option<Spanned<Quant>>,
    pub weights: Option<Spanned<u64>>,
    pub layers: Option<Spanned<u64>>,
    pub kv_heads: Option<Spanned<u64>>,
    pub head_dim: Option<Spanned<u64>>,
    pub max_context: Option<Spanned<u64>>,
}

impl Model {
    pub fn quant(&self) -> Option<Quant> {
        self.quant.as_ref().map(|q| q.value)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct OpencodeCap {
    pub name: Text,
    pub max_tokens: Option<Spanned<u64>>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Agent {
    pub name: Name,
    pub role: Option<Text>,
    pub model: Option<Name>,
    pub runtime: Option<Name>,
    pub port: Option<Spanned<u16>>,
    pub bind: Option<Spanned<std::net::IpAddr>>,
    pub context: Option<Spanned<u64>>,
    pub max_seqs: Option<Spanned<u64>>,
    pub kv_tokens: Option<Spanned<u64>>,
    pub gpu_memory_utilization: Option<Spanned<u16>>,
    pub overhead: Option<Spanned<u64>>,
    pub kv_cache_dtype: Option<Spanned<KvDtype>>,
    pub tool_parser: Option<Text>,
    pub opencode: Vec<OpencodeCap>,
    pub after: Vec<Name>,
    pub quadlet: Vec<QuadletEntry>,
    /// The profile a gateway request for this agent switches to.
    pub summon: Option<Name>,
    pub cpu_weight: Option<Spanned<u64>>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Profile {
    pub name: Name,
    pub default: Option<Spanned<bool>>,
    pub extends: Option<Name>,
    pub agents: Vec<Name>,
}

impl Profile {
    pub fn is_default(&self) -> bool {
        self.default.as_ref().is_some_and(|d| d.value)
    }
}

impl Stack {
    pub fn agent(&self, name: &str) -> Option<&Agent> {
        self.agents.iter().find(|a| a.name.value == name)
    }
    pub fn model(&self, name: &str) -> Option<&Model> {
        self.models.iter().find(|m| m.name.value == name)
    }
    pub fn runtime(&self, name: &str) -> Option<&Runtime> {
        self.runtimes.iter().find(|r| r.name.value == name)
    }
    /// The agent's runtime: the one it names, or the stack's only one.
    pub fn runtime_of(&self, agent: &Agent) -> Option<&Runtime> {
        match &agent.runtime {
            Some(name) => self.runtime(name),
            None if self.runtimes.len() == 1 => self.runtimes.first(),
            None => None,
        }
    }
    pub fn profile(&self, name: &str) -> Option<&Profile> {
        self.profiles.iter().find(|p| p.name.value == name)
    }
    /// Tokens of OpenCode's first request before the user's message: the stack's
    /// `opencode prompt-tokens=` or the measured default.
    pub fn opencode_prompt_tokens(&self) -> u64 {
        self.opencode_prompt_tokens
            .as_ref()
            .map_or(defaults::OPENCODE_PROMPT_TOKENS, |p| p.value)
    }
}

impl Stack {
    /// `profile` and the profiles it extends, nearest first. A cycle or an unknown name
    /// ends the walk quietly (the checks report them).
    pub fn profile_chain<'s>(&'s self, profile: &'s Profile) -> Vec<&'s Profile> {
        let mut chain = vec![profile];
        while let Some(next) = chain
            .last()
            .and_then(|p| p.extends.as_ref())
            .and_then(|e| self.profile(e))
        {
            if chain.iter().any(|p| p.name.value == next.name.value) {
                break;
            }
            chain.push(next);
        }
        chain
    }

    /// The agents profile `name` runs: those of the profiles it extends first, then its
    /// own, each once, in that order. Cycles and unknown names stop the walk quietly
    /// (the checks report them).
    pub fn profile_agents(&self, name: &str) -> Vec<&str> {
        self.profile(name)
            .map_or_else(Vec::new, |p| chain_agents(&self.profile_chain(p)))
    }
}

/// The agents a profile chain (`Stack::profile_chain`) runs: the farthest profile's first,
/// each once.
pub fn chain_agents<'s>(chain: &[&'s Profile]) -> Vec<&'s str> {
    let mut agents: Vec<&str> = Vec::new();
    for profile in chain.iter().rev() {
        for agent in &profile.agents {
            if !agents.contains(&agent.as_str()) {
                agents.push(agent.as_str());
            }
        }
    }
    agents
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(name: &str, extends: Option<&str>, agents: &[&str]) -> Profile {
        let name_of = |n: &str| Name {
            value: n.to_owned(),
            ..Name::default()
        };
        Profile {
            name: name_of(name),
            extends: extends.map(name_of),
            agents: agents.iter().map(|a| name_of(a)).collect(),
            ..Profile::default()
        }
    }

    #[test]
    fn a_profile_chain_runs_the_farthest_profiles_agents_first_and_stops_at_a_cycle() {
        let stack = Stack {
            profiles: vec![
                profile("a", Some("b"), &["x", "y"]),
                profile("b", Some("c"), &["y"]),
                profile("c", Some("a"), &["z"]),
                profile("d", Some("unknown"), &["w"]),
            ],
            ..Stack::default()
        };
        let names = |chain: Vec<&Profile>| -> Vec<String> {
            chain.iter().map(|p| p.name.value.clone()).collect()
        };
        assert_eq!(
            names(stack.profile_chain(&stack.profiles[0])),
            ["a", "b", "c"]
        );
        assert_eq!(stack.profile_agents("a"), ["z", "y", "x"]);
        assert_eq!(names(stack.profile_chain(&stack.profiles[3])), ["d"]);
        assert_eq!(stack.profile_agents("d"), ["w"]);
        assert!(stack.profile_agents("none").is_empty());
    }
}
