//! Security: credentials kept out of unit files, addresses other machines can reach.

use crate::diagnostic::problem;
use crate::stack::placeholder::Placeholder;

problem! {
    SecretInEnvironment { key: String },
    code: "strixc::security::secret_in_env",
    message: "`{key}` looks like a secret and would be written into a unit file",
    label: "a credential's name",
    help: "pass it by name instead: `secret \"NAME\"` (a podman secret or systemd credential created on the host); if it is no credential, mark the line `secret=#false`",
}

problem! {
    SecretValue { key: String, shape: &'static str },
    code: "strixc::security::secret_value",
    message: "the value of `{key}` looks like {shape} and would be written into a unit file",
    label: "a credential's value",
    help: "pass it by name instead: `secret \"NAME\"`; if it is no credential, mark the line `secret=#false`",
}

problem! {
    SecretEnvNative { secret: String, env: String },
    code: "strixc::security::secret_env_native",
    message: "secret `{secret}` asks for the variable `{env}`, but a native runtime gets secrets as files, not variables",
    label: "not set for a native program",
    help: "a native program reads it from $CREDENTIALS_DIRECTORY/NAME (systemd's LoadCredential=); drop `env=`, or run the agent in a container",
}

problem! {
    ExposedBind { agent: String, address: String },
    code: "strixc::security::exposed_bind",
    severity: Warning,
    message: "agent `{agent}` listens on {address}, reachable from other machines",
    label: "not loopback",
    help: "use \"127.0.0.1\" unless other machines must reach it",
}

problem! {
    UnknownPlaceholder { placeholder: String },
    code: "strixc::runtime::unknown_placeholder",
    message: "unknown placeholder `{{{placeholder}}}` in a command",
    label: "unknown placeholder",
    help: {
        // `{port}, {host}, {model} and {context}`, from the one list.
        let mut braced: Vec<String> = Placeholder::NAMES.iter().map(|n| format!("{{{n}}}")).collect();
        let last = braced.pop().unwrap_or_default();
        format!("placeholders are {} and {last}", braced.join(", "))
    },
}
