//! Every problem strixc can find in a stack: its stable code, message, label and help.
//! All user-facing wording of diagnostics lives in this one file.

use std::fmt::Write as _;

use super::Severity;

/// What kind of thing a name refers to, for messages about names and references.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Thing {
    Stack,
    Agent,
    Model,
    Runtime,
    Profile,
    Secret,
}

impl Thing {
    pub fn noun(self) -> &'static str {
        match self {
            Thing::Stack => "stack",
            Thing::Agent => "agent",
            Thing::Model => "model",
            Thing::Runtime => "runtime",
            Thing::Profile => "profile",
            Thing::Secret => "secret",
        }
    }

    /// "a model", "an agent".
    pub fn with_article(self) -> String {
        match self {
            Thing::Agent => "an agent".into(),
            other => format!("a {}", other.noun()),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    // ── the source text ──
    Syntax {
        message: String,
        label: Option<String>,
        help: Option<String>,
    },
    NotUtf8 {
        /// The file's name as given (`-f other.kdl`), for the help line.
        file: String,
    },
    TooLarge {
        bytes: usize,
        limit: usize,
    },
    TooDeep {
        limit: usize,
    },

    // ── decoding nodes into the model ──
    UnknownNode {
        name: String,
        parent: String,
        suggestion: Option<String>,
        known: Vec<&'static str>,
    },
    UnknownProperty {
        name: String,
        node: String,
        suggestion: Option<String>,
        known: Vec<&'static str>,
    },
    UnexpectedArgument {
        node: String,
        expected: usize,
    },
    MissingArgument {
        node: String,
        what: &'static str,
    },
    MissingField {
        node: String,
        field: &'static str,
    },
    MissingNode {
        name: &'static str,
    },
    DuplicateField {
        node: String,
        field: String,
    },
    WrongType {
        what: String,
        expected: &'static str,
        found: &'static str,
    },
    InvalidValue {
        what: String,
        value: String,
        expected: Vec<&'static str>,
        suggestion: Option<String>,
    },
    InvalidSize {
        what: String,
        value: String,
    },
    InvalidDuration {
        what: String,
        value: String,
    },
    NotPositive {
        what: String,
    },
    OutOfRange {
        what: String,
        min: String,
        max: String,
    },
    PortOutOfRange {
        port: i128,
    },
    InvalidName {
        thing: Thing,
        name: String,
    },
    ControlCharacter {
        what: String,
        character: char,
    },
    InvalidQuadletSection {
        section: String,
        suggestion: Option<String>,
    },
    InvalidQuadletKey {
        key: String,
    },
    InvalidPodmanVersion {
        value: String,
    },
    RuntimeKindAmbiguous {
        runtime: String,
    },
    RuntimeKindMissing {
        runtime: String,
    },
    HostAddressInvalid {
        value: String,
    },

    // ── references, names, structure ──
    Duplicate {
        thing: Thing,
        name: String,
    },
    UnknownReference {
        thing: Thing,
        name: String,
        suggestion: Option<String>,
    },
    Cycle {
        relation: &'static str,
        path: Vec<String>,
    },
    NoDefaultProfile,
    SeveralDefaultProfiles {
        names: Vec<String>,
    },
    NoProfiles,
    PortConflict {
        port: u16,
        first: String,
        second: String,
    },
    RuntimeRequired {
        agent: String,
        runtimes: usize,
    },
    ModelLocationMissing {
        model: String,
        engine: &'static str,
        field: &'static str,
    },
    EngineModelMismatch {
        agent: String,
        engine: &'static str,
        model: String,
        format: &'static str,
    },
    GpuRequired {
        agent: String,
    },
    OpencodeNameTaken {
        name: String,
        first: String,
    },
    AgentInNoProfile {
        agent: String,
    },
    SecretInEnvironment {
        key: String,
    },
    ExposedBind {
        agent: String,
        address: String,
    },
    UnknownPlaceholder {
        placeholder: String,
    },
    GatewayPortTaken {
        port: u16,
        agent: String,
    },
    GatewayExposedBind {
        address: String,
    },
    GatewayIdleBelowHold {
        idle: String,
        hold: String,
    },
    GatewayNameTaken {
        unit: String,
    },
    SummonWithoutAgent {
        agent: String,
        profile: String,
        suggestion: Option<String>,
    },

    // ── numbers ──
    ContextAboveModelMax {
        context: u64,
        max: u64,
        model: String,
    },
    MaxTokensNotBelowContext {
        max_tokens: u64,
        context: u64,
    },
    /// OpenCode's first request (its prompt) plus the output cap exceed the context.
    OpencodePromptDoesNotFit {
        agent: String,
        served: Vec<String>,
        context: u64,
        prompt_tokens: u64,
        max_tokens: u64,
    },
    KvTokensBelowContext {
        kv_tokens: u64,
        context: u64,
    },
    UtilizationTooSmall {
        agent: String,
        pinned: String,
        needed: String,
        context: u64,
    },
    UtilizationAboveCap {
        agent: String,
        utilization: String,
        cap: String,
        pinned: bool,
        largest_context: Option<u64>,
    },
    ProfileOverBudget {
        profile: String,
        total: String,
        budget: String,
        over: String,
        largest_context: Option<u64>,
    },
    ProfileOverGpu {
        profile: String,
        sum: String,
    },
    ReserveAboveMemory {
        reserve: String,
        memory: String,
    },
    GpuMemoryAboveHost {
        gpu: String,
        memory: String,
    },

    // ── what the hardware and tools can do ──
    Fp8Weights {
        model: String,
        gpu: String,
    },
    GptqOnRocm {
        model: String,
        quant: &'static str,
    },
    Fp8KvCache {
        agent: String,
    },
    PodmanTooOld {
        feature: &'static str,
        needs: &'static str,
        declared: String,
    },

    // ── the complete gate: what build, quadlet, systemd or the runtime would refuse ──
    EarlyoomRegex {
        which: &'static str,
        value: String,
    },
    GeneratedNameClash {
        file: String,
        first: String,
        second: String,
    },
    UnknownQuadletKey {
        section: String,
        key: String,
        podman: String,
        /// The first podman that accepts it, when a later one does.
        since: Option<String>,
        suggestion: Option<String>,
    },
    UnsafeUnitValue {
        what: String,
        reason: &'static str,
    },
    InvalidPath {
        what: String,
        value: String,
        reason: &'static str,
        help: &'static str,
    },
    DuplicateKey {
        what: &'static str,
        key: String,
    },
    SecretValue {
        key: String,
        shape: &'static str,
    },
    SecretEnvNative {
        secret: String,
        env: String,
    },
    SizeTooLarge {
        what: String,
        value: String,
    },
    GttsizeDeprecated {
        pages_limit: u64,
        page_pool_size: u64,
    },
    TooManyLines {
        lines: usize,
        limit: usize,
    },
    /// More agents or profiles than the generated units can list one another.
    StackTooLarge {
        what: &'static str,
        count: usize,
        limit: usize,
    },

    /// A bug in strixc, reported instead of panicking.
    Internal {
        message: String,
    },
}

impl Kind {
    pub fn severity(&self) -> Severity {
        match self {
            Kind::Fp8KvCache { .. }
            | Kind::AgentInNoProfile { .. }
            | Kind::ExposedBind { .. }
            | Kind::GatewayExposedBind { .. }
            | Kind::GttsizeDeprecated { .. } => Severity::Warning,
            _ => Severity::Error,
        }
    }

    /// The stable code: scripts and docs may rely on it, so never rename one.
    pub fn code(&self) -> &'static str {
        match self {
            Kind::Syntax { .. } => "strixc::syntax",
            Kind::NotUtf8 { .. } => "strixc::source::not_utf8",
            Kind::TooLarge { .. } => "strixc::source::too_large",
            Kind::TooDeep { .. } => "strixc::source::too_deep",
            Kind::UnknownNode { .. } => "strixc::decode::unknown_node",
            Kind::UnknownProperty { .. } => "strixc::decode::unknown_property",
            Kind::UnexpectedArgument { .. } => "strixc::decode::unexpected_argument",
            Kind::MissingArgument { .. } => "strixc::decode::missing_argument",
            Kind::MissingField { .. } => "strixc::decode::missing_field",
            Kind::MissingNode { .. } => "strixc::decode::missing_node",
            Kind::DuplicateField { .. } => "strixc::decode::duplicate_field",
            Kind::WrongType { .. } => "strixc::decode::wrong_type",
            Kind::InvalidValue { .. } => "strixc::decode::invalid_value",
            Kind::InvalidSize { .. } => "strixc::decode::invalid_size",
            Kind::InvalidDuration { .. } => "strixc::decode::invalid_duration",
            Kind::NotPositive { .. } => "strixc::decode::not_positive",
            Kind::OutOfRange { .. } => "strixc::decode::out_of_range",
            Kind::PortOutOfRange { .. } => "strixc::agent::port_out_of_range",
            Kind::InvalidName { .. } => "strixc::name::invalid",
            Kind::ControlCharacter { .. } => "strixc::security::control_character",
            Kind::InvalidQuadletSection { .. } => "strixc::quadlet::unknown_section",
            Kind::InvalidQuadletKey { .. } => "strixc::quadlet::invalid_key",
            Kind::InvalidPodmanVersion { .. } => "strixc::host::invalid_podman_version",
            Kind::RuntimeKindAmbiguous { .. } => "strixc::runtime::image_and_command",
            Kind::RuntimeKindMissing { .. } => "strixc::runtime::image_or_command",
            Kind::HostAddressInvalid { .. } => "strixc::agent::invalid_bind",
            Kind::Duplicate { .. } => "strixc::name::duplicate",
            Kind::UnknownReference { .. } => "strixc::reference::unknown",
            Kind::Cycle { .. } => "strixc::reference::cycle",
            Kind::NoDefaultProfile => "strixc::profile::no_default",
            Kind::SeveralDefaultProfiles { .. } => "strixc::profile::several_defaults",
            Kind::NoProfiles => "strixc::profile::none",
            Kind::PortConflict { .. } => "strixc::agent::port_conflict",
            Kind::RuntimeRequired { .. } => "strixc::agent::runtime_required",
            Kind::ModelLocationMissing { .. } => "strixc::model::location_missing",
            Kind::EngineModelMismatch { .. } => "strixc::agent::engine_model_mismatch",
            Kind::GpuRequired { .. } => "strixc::host::gpu_required",
            Kind::OpencodeNameTaken { .. } => "strixc::opencode::duplicate",
            Kind::AgentInNoProfile { .. } => "strixc::profile::agent_unused",
            Kind::SecretInEnvironment { .. } => "strixc::security::secret_in_env",
            Kind::ExposedBind { .. } => "strixc::security::exposed_bind",
            Kind::UnknownPlaceholder { .. } => "strixc::runtime::unknown_placeholder",
            Kind::GatewayPortTaken { .. } => "strixc::gateway::port_conflict",
            Kind::GatewayExposedBind { .. } => "strixc::security::exposed_gateway",
            Kind::GatewayIdleBelowHold { .. } => "strixc::gateway::idle_below_hold",
            Kind::GatewayNameTaken { .. } => "strixc::gateway::name_taken",
            Kind::SummonWithoutAgent { .. } => "strixc::gateway::summon_without_agent",
            Kind::ContextAboveModelMax { .. } => "strixc::agent::context_above_model_max",
            Kind::MaxTokensNotBelowContext { .. } => {
                "strixc::opencode::max_tokens_not_below_context"
            }
            Kind::OpencodePromptDoesNotFit { .. } => "strixc::opencode::prompt_does_not_fit",
            Kind::KvTokensBelowContext { .. } => "strixc::budget::kv_tokens_below_context",
            Kind::UtilizationTooSmall { .. } => "strixc::budget::utilization_too_small",
            Kind::UtilizationAboveCap { .. } => "strixc::budget::above_max_utilization",
            Kind::ProfileOverBudget { .. } => "strixc::budget::over_budget",
            Kind::ProfileOverGpu { .. } => "strixc::budget::over_gpu",
            Kind::ReserveAboveMemory { .. } => "strixc::host::reserve_above_memory",
            Kind::GpuMemoryAboveHost { .. } => "strixc::host::gpu_memory_above_host",
            Kind::Fp8Weights { .. } => "strixc::hardware::fp8_weights",
            Kind::GptqOnRocm { .. } => "strixc::hardware::cuda_only_quant",
            Kind::Fp8KvCache { .. } => "strixc::hardware::fp8_kv_cache",
            Kind::PodmanTooOld { .. } => "strixc::host::podman_too_old",
            Kind::EarlyoomRegex { .. } => "strixc::host::earlyoom_regex",
            Kind::GeneratedNameClash { .. } => "strixc::name::generated_clash",
            Kind::UnknownQuadletKey { .. } => "strixc::quadlet::unknown_key",
            Kind::UnsafeUnitValue { .. } => "strixc::security::value_not_carried",
            Kind::InvalidPath { .. } => "strixc::runtime::invalid_path",
            Kind::DuplicateKey { .. } => "strixc::name::duplicate_key",
            Kind::SecretValue { .. } => "strixc::security::secret_value",
            Kind::SecretEnvNative { .. } => "strixc::security::secret_env_native",
            Kind::SizeTooLarge { .. } => "strixc::decode::size_too_large",
            Kind::GttsizeDeprecated { .. } => "strixc::host::gttsize_deprecated",
            Kind::TooManyLines { .. } => "strixc::source::too_many_lines",
            Kind::StackTooLarge { .. } => "strixc::stack::too_large",
            Kind::Internal { .. } => "strixc::internal",
        }
    }

    pub fn message(&self) -> String {
        match self {
            Kind::Syntax { message, .. } => format!("KDL syntax error: {message}"),
            Kind::NotUtf8 { .. } => "the file is not valid UTF-8".into(),
            Kind::TooLarge { bytes, limit } => {
                format!("the file is {bytes} bytes; strixc reads stacks of at most {limit} bytes")
            }
            Kind::TooDeep { limit } => format!("blocks are nested more than {limit} levels deep"),
            Kind::UnknownNode { name, parent, .. } => format!("unknown node `{name}` in {parent}"),
            Kind::UnknownProperty { name, node, .. } => {
                format!("unknown property `{name}` on `{node}`")
            }
            Kind::UnexpectedArgument { node, expected } => match expected {
                0 => format!("`{node}` takes no arguments"),
                1 => format!("`{node}` takes one argument"),
                n => format!("`{node}` takes {n} arguments"),
            },
            Kind::MissingArgument { node, what } => format!("`{node}` needs {what}"),
            Kind::MissingField { node, field } => format!("{node} has no `{field}`"),
            Kind::MissingNode { name } => format!("the stack has no `{name}` node"),
            Kind::DuplicateField { node, field } => format!("`{field}` is set twice in {node}"),
            Kind::WrongType {
                what,
                expected,
                found,
            } => {
                format!("{what} must be {expected}, not {found}")
            }
            Kind::InvalidValue { what, value, .. } => format!("`{value}` is not a valid {what}"),
            Kind::InvalidSize { what, value } => format!("{what} `{value}` is not a size"),
            Kind::InvalidDuration { what, value } => {
                format!("{what} `{value}` is not a duration")
            }
            Kind::NotPositive { what } => format!("{what} must be greater than zero"),
            Kind::OutOfRange { what, min, max } => {
                format!("{what} must be between {min} and {max}")
            }
            Kind::PortOutOfRange { port } => format!("port {port} is out of range"),
            Kind::InvalidName { thing, name } => {
                format!("`{name}` is not a valid {} name", thing.noun())
            }
            Kind::ControlCharacter { what, character } => {
                format!("{what} contains {}", describe_control(*character))
            }
            Kind::InvalidQuadletSection { section, .. } => {
                format!("`{section}` is not a quadlet section strixc can write")
            }
            Kind::InvalidQuadletKey { key } => format!("`{key}` is not a valid unit-file key"),
            Kind::InvalidPodmanVersion { value } => {
                format!("`{value}` is not a podman version")
            }
            Kind::RuntimeKindAmbiguous { runtime } => {
                format!("runtime `{runtime}` has both `image` and `command`")
            }
            Kind::RuntimeKindMissing { runtime } => {
                format!("runtime `{runtime}` has neither `image` nor `command`")
            }
            Kind::HostAddressInvalid { value } => format!("`{value}` is not an IP address"),
            Kind::Duplicate { thing, name } => {
                format!("{} `{name}` is defined twice", thing.noun())
            }
            Kind::UnknownReference { thing, name, .. } => {
                format!("there is no {} named `{name}`", thing.noun())
            }
            Kind::Cycle { relation, path } => {
                format!("`{relation}` forms a cycle: {}", path.join(" → "))
            }
            Kind::NoDefaultProfile => "no profile is marked default=#true".into(),
            Kind::SeveralDefaultProfiles { names } => {
                format!(
                    "{} profiles are marked default: {}",
                    names.len(),
                    names.join(", ")
                )
            }
            Kind::NoProfiles => "the stack defines no profile".into(),
            Kind::PortConflict {
                port,
                first,
                second,
            } => {
                format!("agents `{first}` and `{second}` both listen on port {port}")
            }
            Kind::RuntimeRequired { agent, .. } => format!("agent `{agent}` names no runtime"),
            Kind::ModelLocationMissing { model, field, .. } => {
                format!("model `{model}` has no `{field}`")
            }
            Kind::EngineModelMismatch {
                agent,
                engine,
                model,
                format,
            } => format!(
                "agent `{agent}` runs {}, which cannot load model `{model}` ({format})",
                if *engine == "vllm" { "vLLM" } else { engine }
            ),
            Kind::GpuRequired { agent } => {
                format!("agent `{agent}` runs vLLM, but the host declares no GPU")
            }
            Kind::OpencodeNameTaken { name, first } => {
                format!("oh-my-opencode agent `{name}` is already served by `{first}`")
            }
            Kind::AgentInNoProfile { agent } => {
                format!("agent `{agent}` is in no profile and will never start")
            }
            Kind::SecretInEnvironment { key } => {
                format!("`{key}` looks like a secret and would be written into a unit file")
            }
            Kind::ExposedBind { agent, address } => {
                format!("agent `{agent}` listens on {address}, reachable from other machines")
            }
            Kind::UnknownPlaceholder { placeholder } => {
                format!("unknown placeholder `{{{placeholder}}}` in a command")
            }
            Kind::GatewayPortTaken { port, agent } => {
                format!("the gateway and agent `{agent}` both listen on port {port}")
            }
            Kind::GatewayExposedBind { address } => {
                format!("the gateway listens on {address}, reachable from other machines")
            }
            Kind::GatewayNameTaken { unit } => {
                format!("agent `gateway` would run as {unit}, the gateway's own unit")
            }
            Kind::GatewayIdleBelowHold { idle, hold } => {
                format!("the gateway's idle ({idle}) is shorter than its hold ({hold})")
            }
            Kind::SummonWithoutAgent { agent, profile, .. } => {
                format!("agent `{agent}` summons profile `{profile}`, which does not run it")
            }
            Kind::ContextAboveModelMax {
                context,
                max,
                model,
            } => format!("context {context} is above model `{model}`'s max-context of {max}"),
            Kind::MaxTokensNotBelowContext {
                max_tokens,
                context,
            } => format!(
                "max-tokens {max_tokens} leaves no room for input in a context of {context}"
            ),
            Kind::OpencodePromptDoesNotFit {
                agent,
                served,
                context,
                prompt_tokens,
                max_tokens,
            } => format!(
                "agent `{agent}` refuses every OpenCode request of {}: its context of {context} tokens cannot hold OpenCode's prompt ({prompt_tokens} tokens) plus max-tokens {max_tokens}",
                served
                    .iter()
                    .map(|s| format!("`{s}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Kind::KvTokensBelowContext { kv_tokens, context } => {
                format!("kv-tokens {kv_tokens} cannot hold one full context of {context} tokens")
            }
            Kind::UtilizationTooSmall {
                agent,
                pinned,
                needed,
                context,
            } => format!(
                "agent `{agent}`'s gpu-memory-utilization {pinned} is too small for one \
                 {context}-token context (needs at least {needed})"
            ),
            Kind::UtilizationAboveCap {
                agent,
                utilization,
                cap,
                pinned: true,
                ..
            } => format!(
                "agent `{agent}` pins gpu-memory-utilization {utilization}, above the host's \
                 max-utilization {cap}"
            ),
            Kind::UtilizationAboveCap {
                agent,
                utilization,
                cap,
                pinned: false,
                ..
            } => format!(
                "agent `{agent}` needs gpu-memory-utilization {utilization}, above the host's \
                 max-utilization {cap}"
            ),
            Kind::ProfileOverBudget {
                profile,
                total,
                budget,
                over,
                ..
            } => {
                format!("profile `{profile}` needs {total} but the host has {budget} ({over} over)")
            }
            Kind::ProfileOverGpu { profile, sum } => {
                format!("profile `{profile}` asks the GPU for {sum} of its memory (more than 1.00)")
            }
            Kind::ReserveAboveMemory { reserve, memory } => {
                format!("reserve {reserve} is not below the host's memory {memory}")
            }
            Kind::GpuMemoryAboveHost { gpu, memory } => {
                format!("a unified GPU cannot have {gpu} when the host has {memory} in all")
            }
            Kind::Fp8Weights { model, gpu } => {
                format!("model `{model}` uses fp8 weights, which crash on {gpu}")
            }
            Kind::GptqOnRocm { model, quant } => {
                format!("model `{model}` uses {quant}, whose kernels are CUDA-only")
            }
            Kind::Fp8KvCache { agent } => {
                format!("agent `{agent}` uses an fp8 KV cache, which loses accuracy on this GPU")
            }
            Kind::PodmanTooOld {
                feature,
                needs,
                declared,
            } => format!("{feature} needs podman {needs}, but the host declares podman {declared}"),
            Kind::EarlyoomRegex { which, value } => {
                format!("earlyoom's {which} regex `{value}` cannot be passed to earlyoom")
            }
            Kind::GeneratedNameClash {
                file,
                first,
                second,
            } => {
                format!("{first} and {second} would both generate `{file}`")
            }
            Kind::UnknownQuadletKey {
                section,
                key,
                podman,
                since: Some(since),
                ..
            } => format!(
                "`{key}` in [{section}] needs podman {since}, but the host declares podman {podman}"
            ),
            Kind::UnknownQuadletKey {
                section,
                key,
                podman,
                since: None,
                ..
            } => format!("podman {podman}'s quadlet has no key `{key}` in [{section}]"),
            Kind::UnsafeUnitValue { what, reason } => {
                format!("{what} {reason}, which a unit file cannot carry")
            }
            Kind::InvalidPath {
                what,
                value,
                reason,
                ..
            } => format!("{what} `{value}` {reason}"),
            Kind::DuplicateKey { what, key } => format!("{what} `{key}` is set twice"),
            Kind::SecretValue { key, shape } => {
                format!(
                    "the value of `{key}` looks like {shape} and would be written into a unit file"
                )
            }
            Kind::SecretEnvNative { secret, env } => format!(
                "secret `{secret}` asks for the variable `{env}`, but a native runtime gets secrets as files, not variables"
            ),
            Kind::SizeTooLarge { what, value } => {
                format!("{what} `{value}` is too large (more than 16 EiB)")
            }
            Kind::GttsizeDeprecated { .. } => {
                "`amdgpu.gttsize` is deprecated in favour of `ttm.pages_limit`".into()
            }
            Kind::TooManyLines { lines, limit } => format!(
                "the file has {lines} lines (or `;`-separated nodes); strixc reads stacks of at most {limit}"
            ),
            Kind::StackTooLarge { what, count, limit } => format!(
                "the stack declares {count} {what}; strixc builds stacks of at most {limit}"
            ),
            Kind::Internal { message } => format!("internal error: {message}"),
        }
    }

    /// The text on the primary label.
    pub fn label(&self) -> String {
        match self {
            Kind::Syntax { label, .. } => label.clone().unwrap_or_else(|| "here".into()),
            Kind::NotUtf8 { .. } => "first invalid byte".into(),
            Kind::TooLarge { .. } => "file starts here".into(),
            Kind::TooDeep { .. } => "too deep".into(),
            Kind::UnknownNode { .. } => "unknown node".into(),
            Kind::UnknownProperty { .. } => "unknown property".into(),
            Kind::UnexpectedArgument { .. } => "unexpected argument".into(),
            Kind::MissingArgument { .. } => "defined here".into(),
            Kind::MissingField { field, .. } => format!("needs `{field}`"),
            Kind::MissingNode { .. } => "file starts here".into(),
            Kind::DuplicateField { .. } => "set again here".into(),
            Kind::WrongType { expected, .. } => format!("expected {expected}"),
            Kind::InvalidValue { .. } => "not allowed".into(),
            Kind::InvalidSize { .. } => "expected a size like \"9.98GB\" or \"512MiB\"".into(),
            Kind::InvalidDuration { .. } => "expected a duration like \"30s\" or \"15m\"".into(),
            Kind::NotPositive { .. } => "must be > 0".into(),
            Kind::OutOfRange { .. } => "out of range".into(),
            Kind::PortOutOfRange { .. } => "not in 1..=65535".into(),
            Kind::InvalidName { .. } => "invalid name".into(),
            Kind::ControlCharacter { .. } => "control character in here".into(),
            Kind::InvalidQuadletSection { .. } => "unknown section".into(),
            Kind::InvalidQuadletKey { .. } => "invalid key".into(),
            Kind::InvalidPodmanVersion { .. } => "expected MAJOR.MINOR".into(),
            Kind::RuntimeKindAmbiguous { .. } => "second kind here".into(),
            Kind::RuntimeKindMissing { .. } => "defined here".into(),
            Kind::HostAddressInvalid { .. } => "expected an IPv4 or IPv6 address".into(),
            Kind::Duplicate { .. } => "defined again here".into(),
            Kind::UnknownReference { thing, .. } => format!("unknown {}", thing.noun()),
            Kind::Cycle { .. } => "cycle starts here".into(),
            Kind::NoDefaultProfile => "not marked default".into(),
            Kind::NoProfiles => "in this stack".into(),
            Kind::SeveralDefaultProfiles { .. } => "marked default".into(),
            Kind::PortConflict { .. } => "port taken".into(),
            Kind::RuntimeRequired { .. } => "needs `runtime`".into(),
            Kind::ModelLocationMissing { .. } => "defined here".into(),
            Kind::EngineModelMismatch { .. } => "model chosen here".into(),
            Kind::GpuRequired { .. } => "GPU agent".into(),
            Kind::OpencodeNameTaken { .. } => "already taken".into(),
            Kind::AgentInNoProfile { .. } => "never started".into(),
            Kind::SecretInEnvironment { .. } => "a credential's name".into(),
            Kind::ExposedBind { .. } => "not loopback".into(),
            Kind::UnknownPlaceholder { .. } => "unknown placeholder".into(),
            Kind::GatewayPortTaken { .. } => "port taken".into(),
            Kind::GatewayExposedBind { .. } => "not loopback".into(),
            Kind::GatewayIdleBelowHold { .. } => "shorter than hold".into(),
            Kind::GatewayNameTaken { .. } => "taken by the gateway".into(),
            Kind::SummonWithoutAgent { .. } => "lacks this agent".into(),
            Kind::ContextAboveModelMax { .. } => "too long for this model".into(),
            Kind::MaxTokensNotBelowContext { .. } => "must be below the context".into(),
            Kind::OpencodePromptDoesNotFit {
                prompt_tokens,
                max_tokens,
                ..
            } => format!(
                "{prompt_tokens} + {max_tokens} = {} tokens",
                prompt_tokens + max_tokens
            ),
            Kind::KvTokensBelowContext { .. } => "below one context".into(),
            Kind::UtilizationTooSmall { .. } => "too small".into(),
            Kind::UtilizationAboveCap { .. } => "above the cap".into(),
            Kind::ProfileOverBudget { .. } => "over budget".into(),
            Kind::ProfileOverGpu { .. } => "over the GPU".into(),
            Kind::ReserveAboveMemory { .. } => "too large".into(),
            Kind::GpuMemoryAboveHost { .. } => "larger than the host".into(),
            Kind::Fp8Weights { .. } => "fp8 weights".into(),
            Kind::GptqOnRocm { .. } => "CUDA-only quantization".into(),
            Kind::Fp8KvCache { .. } => "uncalibrated fp8 scales".into(),
            Kind::PodmanTooOld { .. } => "needs a newer podman".into(),
            Kind::EarlyoomRegex { .. } => "no spaces, quotes or control characters".into(),
            Kind::GeneratedNameClash { .. } => "generates the same file".into(),
            Kind::UnknownQuadletKey { since: Some(_), .. } => {
                "too new for the declared podman".into()
            }
            Kind::UnknownQuadletKey { since: None, .. } => "unknown key".into(),
            Kind::UnsafeUnitValue { .. } => "cannot be carried".into(),
            Kind::InvalidPath { .. } => "not usable here".into(),
            Kind::DuplicateKey { .. } => "set again here".into(),
            Kind::SecretValue { .. } => "a credential's value".into(),
            Kind::SecretEnvNative { .. } => "not set for a native program".into(),
            Kind::SizeTooLarge { .. } => "too large".into(),
            Kind::GttsizeDeprecated { .. } => "deprecated".into(),
            Kind::TooManyLines { .. } => "file starts here".into(),
            Kind::StackTooLarge { limit, .. } => format!("number {} starts here", limit + 1),
            Kind::Internal { .. } => "here".into(),
        }
    }

    pub fn help(&self) -> Option<String> {
        let text = match self {
            Kind::Syntax { help, .. } => return help.clone(),
            Kind::NotUtf8 { file } => {
                let name = file.rsplit('/').next().unwrap_or(file);
                format!("save {name} as UTF-8")
            }
            Kind::TooLarge { .. } => "a stack is a few kilobytes; is this the right file?".into(),
            Kind::TooDeep { .. } => "a stack nests blocks two levels deep at most".into(),
            Kind::UnknownNode { suggestion, known, .. } => return Some(suggest_or_list(suggestion, known)),
            Kind::UnknownProperty { suggestion, known, .. } => {
                return Some(if known.is_empty() {
                    match suggestion {
                        Some(s) => format!("did you mean `{s}`?"),
                        None => "this node takes no properties".into(),
                    }
                } else {
                    suggest_or_list(suggestion, known)
                });
            }
            Kind::UnexpectedArgument { .. } => "remove the extra argument".into(),
            Kind::MissingArgument { node, what } => format!("write {what} after `{node}`"),
            Kind::MissingField { field, .. } => format!("add a `{field}` line to it"),
            Kind::MissingNode { name } => format!("add a `{name}` node at the top level"),
            Kind::DuplicateField { .. } => "keep one of them".into(),
            Kind::WrongType { expected, found, .. } => wrong_type_help(expected, found),
            Kind::InvalidValue { expected, suggestion, .. } => {
                let mut help = String::new();
                if let Some(s) = suggestion {
                    let _ = write!(help, "did you mean `{s}`? ");
                }
                let _ = write!(help, "expected one of: {}", expected.join(", "));
                help
            }
            Kind::InvalidSize { .. } => {
                "write a number and a unit: B, KB, MB, GB, TB (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024)".into()
            }
            Kind::InvalidDuration { .. } => "write a number and a unit: ms, s, m or h".into(),
            Kind::NotPositive { .. } => "write a value greater than zero".into(),
            Kind::OutOfRange { max, .. } if max.contains("steps of 0.01") => {
                "write a fraction of the GPU's memory with at most two decimals, like 0.45".into()
            }
            Kind::OutOfRange { min, max, .. } => format!("write a value from {min} to {max}"),
            Kind::PortOutOfRange { .. } => "use a port between 1 and 65535; ports above 1023 need no root".into(),
            Kind::InvalidName { thing: Thing::Model, .. } => {
                "model names start with a lowercase letter and use only a-z, 0-9, '.' and '-'".into()
            }
            Kind::InvalidName { .. } => {
                "names start with a lowercase letter and use only a-z, 0-9 and '-': they become unit and file names".into()
            }
            Kind::ControlCharacter { .. } => {
                "unit files are line-based: a line break or control character could inject keys; remove it".into()
            }
            Kind::InvalidQuadletSection { suggestion, .. } => suggest_or_list(
                suggestion,
                &["Unit", "Container", "Service", "Install", "Quadlet"],
            ),
            Kind::InvalidQuadletKey { .. } => {
                "a key starts with a letter and uses only letters, digits, '-' and '_', like `ShmSize`".into()
            }
            Kind::InvalidPodmanVersion { .. } => "write it as `podman \"5.4\"`".into(),
            Kind::RuntimeKindAmbiguous { .. } => {
                "a runtime is a container (`image`) or a native program (`command`): keep one".into()
            }
            Kind::RuntimeKindMissing { .. } => {
                "add `image \"REGISTRY/NAME:TAG\"` for a container, or `command \"/path\" ...` for a native program".into()
            }
            Kind::HostAddressInvalid { .. } => "for example \"127.0.0.1\" or \"::1\"".into(),
            Kind::Duplicate { thing, .. } => format!("rename one of the two {}s", thing.noun()),
            Kind::UnknownReference { thing, suggestion, .. } => match suggestion {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!("define {} with this name, or fix the reference", thing.with_article()),
            },
            Kind::Cycle { relation, .. } => format!("remove one `{relation}` in the cycle"),
            Kind::NoDefaultProfile => "mark the profile to start at boot: `profile \"standard\" default=#true { ... }`".into(),
            Kind::SeveralDefaultProfiles { .. } => "keep default=#true on exactly one profile".into(),
            Kind::NoProfiles => "add `profile \"standard\" default=#true { agents \"...\" }`".into(),
            Kind::PortConflict { .. } => "give one of them another `port`".into(),
            Kind::RuntimeRequired { runtimes, .. } => {
                if *runtimes == 0 {
                    "define a `runtime` node and name it in the agent".into()
                } else {
                    format!("the stack has {runtimes} runtimes: add `runtime \"NAME\"` to the agent")
                }
            }
            Kind::ModelLocationMissing { engine, field, .. } => {
                format!("{engine} loads a model from its `{field}`; add one")
            }
            Kind::EngineModelMismatch { engine, .. } => match *engine {
                "llama.cpp" => "llama.cpp loads GGUF files: give the model `quant \"gguf\"` and a `path`, or run the agent on vLLM".into(),
                _ => "vLLM loads Hugging Face checkpoints (AWQ, BF16): choose such a model, or run the agent on a llama.cpp runtime".into(),
            },
            Kind::GpuRequired { .. } => "add `gpu \"gfx1151\" memory=\"124GiB\" unified=#true` to `host`".into(),
            Kind::OpencodeNameTaken { .. } => "each oh-my-opencode agent is served by one agent: remove one".into(),
            Kind::AgentInNoProfile { .. } => "add it to a profile's `agents`, or remove it".into(),
            Kind::SecretInEnvironment { .. } => {
                "pass it by name instead: `secret \"NAME\"` (a podman secret or systemd credential created on the host); if it is no credential, mark the line `secret=#false`".into()
            }
            Kind::ExposedBind { .. } => "use \"127.0.0.1\" unless other machines must reach it".into(),
            Kind::UnknownPlaceholder { .. } => {
                "placeholders are {port}, {host}, {model} and {context}".into()
            }
            Kind::GatewayPortTaken { .. } => "give the gateway or the agent another `port`".into(),
            Kind::GatewayExposedBind { .. } => {
                "the gateway switches profiles for whoever asks: use \"127.0.0.1\" unless other machines must reach it".into()
            }
            Kind::GatewayIdleBelowHold { .. } => {
                "a summoned profile stays at least `hold`: make `idle` at least as long".into()
            }
            Kind::GatewayNameTaken { .. } => "rename the agent".into(),
            Kind::SummonWithoutAgent { agent, suggestion, .. } => match suggestion {
                Some(p) => format!("did you mean profile `{p}`, which runs `{agent}`?"),
                None => format!("name a profile whose `agents` include `{agent}`, or add it there"),
            },
            Kind::ContextAboveModelMax { max, .. } => {
                format!("lower `context` to at most {max}")
            }
            Kind::MaxTokensNotBelowContext { context, .. } => {
                format!("set max-tokens below {context}; half the context ({}) is the default", context / 2)
            }
            Kind::OpencodePromptDoesNotFit {
                context,
                prompt_tokens,
                max_tokens,
                ..
            } => {
                let context_fix = format!("raise the agent's context to at least {}", prompt_tokens + max_tokens);
                let fix = match context.checked_sub(*prompt_tokens) {
                    Some(room) if room > 0 => format!("set max-tokens={room} (context {context} − prompt {prompt_tokens}), or {context_fix}"),
                    _ => context_fix,
                };
                format!(
                    "{fix}; OpenCode's prompt size is `opencode prompt-tokens=N` in `stack` (default {}, measured with OpenCode 1.18.33)",
                    crate::stack::defaults::OPENCODE_PROMPT_TOKENS
                )
            }
            Kind::KvTokensBelowContext { context, .. } => {
                format!("vLLM refuses to start unless one full sequence fits: set kv-tokens to at least {context}")
            }
            Kind::UtilizationTooSmall { needed, .. } => {
                format!("raise gpu-memory-utilization to {needed}, or remove it and let strixc compute it")
            }
            Kind::UtilizationAboveCap { pinned: true, cap, .. } => format!(
                "lower gpu-memory-utilization to {cap} or less (or remove it and let strixc compute it), or raise the host's max-utilization"
            ),
            Kind::UtilizationAboveCap { largest_context: Some(c), .. } => format!(
                "the agent fits under the cap with a context (and kv-tokens) of {c} or less; or choose a smaller model, or raise the host's max-utilization"
            ),
            Kind::UtilizationAboveCap { largest_context: None, .. } => {
                "no context fits under the cap: choose a smaller model, or raise the host's max-utilization".into()
            }
            Kind::ProfileOverBudget { largest_context, .. } => match largest_context {
                Some(c) => format!(
                    "the profile fits with every agent's context at {c} or less; or stop an agent in it, or choose smaller models"
                ),
                None => "no context makes it fit: stop an agent in this profile or choose smaller models".into(),
            },
            Kind::ProfileOverGpu { .. } => "lower contexts or pinned utilizations of its agents".into(),
            Kind::ReserveAboveMemory { .. } => "lower `reserve`".into(),
            Kind::GpuMemoryAboveHost { .. } => "a unified GPU's memory is part of the host's: lower it".into(),
            Kind::Fp8Weights { .. } => {
                "torch._scaled_mm needs MI300 or CUDA sm_89+: use an AWQ build of the model (`quant \"awq\"`)".into()
            }
            Kind::GptqOnRocm { .. } => "GPTQ/Marlin kernels are CUDA-only: use an AWQ build of the model".into(),
            Kind::Fp8KvCache { .. } => {
                "gfx1151's attention uses uncalibrated fp8 scales (1.0): use `kv-cache-dtype \"auto\"` unless you measured the loss".into()
            }
            Kind::PodmanTooOld { needs, .. } => {
                format!("upgrade podman to {needs} or later and declare it with `podman \"{needs}\"`")
            }
            Kind::EarlyoomRegex { .. } => {
                "earlyoom reads its arguments split at whitespace: use `\\s` or `.` for a space, and no quotes".into()
            }
            Kind::GeneratedNameClash { .. } => "rename one of them".into(),
            Kind::UnknownQuadletKey { since: Some(since), .. } => {
                format!("declare `podman \"{since}\"` (or later) in `host` if the host has it, or remove this line")
            }
            Kind::UnknownQuadletKey { suggestion: Some(s), .. } => format!("did you mean `{s}`?"),
            Kind::UnknownQuadletKey { section, .. } => format!(
                "quadlet refuses the whole unit on an unknown key; see podman-systemd.unit(5) for the keys of [{section}], or pass a podman flag with `quadlet \"Container\" \"PodmanArgs\" \"...\"`"
            ),
            Kind::UnsafeUnitValue { .. } => {
                "unit files have no quoting for it: remove the trailing backslash and the spaces around the value".into()
            }
            Kind::InvalidPath { help, .. } => (*help).into(),
            Kind::DuplicateKey { .. } => "the last one would silently win: keep one of them".into(),
            Kind::SecretValue { .. } => {
                "pass it by name instead: `secret \"NAME\"`; if it is no credential, mark the line `secret=#false`".into()
            }
            Kind::SecretEnvNative { .. } => {
                "a native program reads it from $CREDENTIALS_DIRECTORY/NAME (systemd's LoadCredential=); drop `env=`, or run the agent in a container".into()
            }
            Kind::SizeTooLarge { .. } => "write a size below 16 EiB, such as \"124GiB\"".into(),
            Kind::TooManyLines { .. } => "a stack is a few hundred lines; is this the right file?".into(),
            Kind::StackTooLarge { .. } => "each agent's unit names every agent before it and each profile's target every agent it stops, so the units grow with the square of the stack: split it into stacks of fewer agents and profiles".into(),
            Kind::GttsizeDeprecated {
                pages_limit,
                page_pool_size,
            } => format!(
                "the kernel warns and plans to remove gttsize, and with it alone ROCm may see only about half the memory: write `module-option \"ttm\" \"pages_limit={pages_limit}\"` and `module-option \"ttm\" \"page_pool_size={page_pool_size}\"` (the same size in 4 KiB pages) instead"
            ),
            Kind::Internal { .. } => "this is a bug in strixc: please report it with the stack that caused it".into(),
        };
        Some(text)
    }
}

/// "a line break (\\n)", "the control character U+0007".
fn describe_control(c: char) -> String {
    match c {
        '\n' => "a line break (\\n)".into(),
        '\r' => "a carriage return (\\r)".into(),
        '\t' => "a tab (\\t)".into(),
        c => format!("the control character U+{:04X}", u32::from(c)),
    }
}

/// How to write a value of the expected type, given the type that was found.
fn wrong_type_help(expected: &str, found: &str) -> String {
    match (expected, found) {
        ("a whole number" | "a fraction like 0.45", "a string") => {
            "remove the quotes: KDL numbers are written bare, like `port 8001`".into()
        }
        ("a whole number", _) => "write a whole number, like `context 32768`".into(),
        ("a string", _) => "put the value in double quotes".into(),
        ("#true or #false", _) => "write #true or #false (KDL 2 keywords start with `#`)".into(),
        (e, _) if e.starts_with("a size") => {
            "write the size as a quoted string with a unit, like \"9.98GB\" or \"512MiB\"".into()
        }
        (e, _) if e.starts_with("a duration") => {
            "write the duration as a quoted string with a unit, like \"30s\" or \"15m\"".into()
        }
        (e, _) => format!("write {e}"),
    }
}

fn suggest_or_list(suggestion: &Option<String>, known: &[&'static str]) -> String {
    match suggestion {
        Some(s) => format!("did you mean `{s}`?"),
        None if known.is_empty() => "remove it".into(),
        None => format!("expected one of: {}", known.join(", ")),
    }
}
