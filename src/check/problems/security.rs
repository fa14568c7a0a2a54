//! Security: credentials kept out of unit files, addresses other machines can reach.

use crate::diagnostic::problem;

#[derive(Debug)]
pub struct SecretInEnvironment {
    pub key: String,
}

problem! {
    SecretInEnvironment,
    code: "strixc::security::secret_in_env",
    message: |Self { key }| {
        format!("`{key}` looks like a secret and would be written into a unit file")
    },
    label: |_| "a credential's name",
    help: |_| "pass it by name instead: `secret \"NAME\"` (a podman secret or systemd credential created on the host); if it is no credential, mark the line `secret=#false`",
}

#[derive(Debug)]
pub struct SecretValue {
    pub key: String,
    pub shape: &'static str,
}

problem! {
    SecretValue,
    code: "strixc::security::secret_value",
    message: |Self { key, shape }| {
        format!("the value of `{key}` looks like {shape} and would be written into a unit file")
    },
    label: |_| "a credential's value",
    help: |_| "pass it by name instead: `secret \"NAME\"`; if it is no credential, mark the line `secret=#false`",
}

#[derive(Debug)]
pub struct SecretEnvNative {
    pub secret: String,
    pub env: String,
}

problem! {
    SecretEnvNative,
    code: "strixc::security::secret_env_native",
    message: |Self { secret, env }| format!(
        "secret `{secret}` asks for the variable `{env}`, but a native runtime gets secrets as files, not variables"
    ),
    label: |_| "not set for a native program",
    help: |_| "a native program reads it from $CREDENTIALS_DIRECTORY/NAME (systemd's LoadCredential=); drop `env=`, or run the agent in a container",
}

#[derive(Debug)]
pub struct ExposedBind {
    pub agent: String,
    pub address: String,
}

problem! {
    ExposedBind,
    code: "strixc::security::exposed_bind",
    severity: Warning,
    message: |Self { agent, address }| {
        format!("agent `{agent}` listens on {address}, reachable from other machines")
    },
    label: |_| "not loopback",
    help: |_| "use \"127.0.0.1\" unless other machines must reach it",
}

#[derive(Debug)]
pub struct UnknownPlaceholder {
    pub placeholder: String,
}

problem! {
    UnknownPlaceholder,
    code: "strixc::runtime::unknown_placeholder",
    message: |Self { placeholder }| {
        format!("unknown placeholder `{{{placeholder}}}` in a command")
    },
    label: |_| "unknown placeholder",
    help: |_| "placeholders are {port}, {host}, {model} and {context}",
}
