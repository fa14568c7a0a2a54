//! Security: credentials kept out of unit files, addresses other machines can reach.

use crate::diagnostic::problem;

problem! {
    SecretInEnvironment { key: String },
    code: "strixc::security::secret_in_env",
    message: |Self { key }| {
        format!("`{key}` looks like a secret and would be written into a unit file")
    },
    label: |_| "a credential's name",
    help: |_| "pass it by name instead: `secret \"NAME\"` (a podman secret or systemd credential created on the host); if it is no credential, mark the line `secret=#false`",
}

problem! {
    SecretValue { key: String, shape: &'static str },
    code: "strixc::security::secret_value",
    message: |Self { key, shape }| {
        format!("the value of `{key}` looks like {shape} and would be written into a unit file")
    },
    label: |_| "a credential's value",
    help: |_| "pass it by name instead: `secret \"NAME\"`; if it is no credential, mark the line `secret=#false`",
}

problem! {
    SecretEnvNative { secret: String, env: String },
    code: "strixc::security::secret_env_native",
    message: |Self { secret, env }| format!(
        "secret `{secret}` asks for the variable `{env}`, but a native runtime gets secrets as files, not variables"
    ),
    label: |_| "not set for a native program",
    help: |_| "a native program reads it from $CREDENTIALS_DIRECTORY/NAME (systemd's LoadCredential=); drop `env=`, or run the agent in a container",
}

problem! {
    ExposedBind { agent: String, address: String },
    code: "strixc::security::exposed_bind",
    severity: Warning,
    message: |Self { agent, address }| {
        format!("agent `{agent}` listens on {address}, reachable from other machines")
    },
    label: |_| "not loopback",
    help: |_| "use \"127.0.0.1\" unless other machines must reach it",
}

problem! {
    UnknownPlaceholder { placeholder: String },
    code: "strixc::runtime::unknown_placeholder",
    message: |Self { placeholder }| {
        format!("unknown placeholder `{{{placeholder}}}` in a command")
    },
    label: |_| "unknown placeholder",
    help: |_| "placeholders are {port}, {host}, {model} and {context}",
}
