//! The names of units a stack generates that `check` must know before anything is planned
//! (to find two things generating one file) and `render` writes.

use crate::stack::Stack;

/// `norse.slice`: every agent and the gateway run in it.
pub fn slice_name(stack: &Stack) -> String {
    format!("{}.slice", stack.name.value)
}

/// `norse-thor`: agent `thor`'s unit name without its suffix, also its container's name.
pub fn agent_stem(stack: &Stack, agent: &str) -> String {
    format!("{}-{agent}", stack.name.value)
}

/// `norse-thor.service`: the unit agent `thor` runs as, whether systemd reads it from a
/// `.service` file (native) or quadlet generates it from a `.container`.
pub fn agent_unit_name(stack: &Stack, agent: &str) -> String {
    format!("{}.service", agent_stem(stack, agent))
}

/// The file agent `thor`'s unit is written to: `norse-thor.service` (native) or
/// `norse-thor.container` (quadlet).
pub fn agent_file_name(stack: &Stack, agent: &str, native: bool) -> String {
    if native {
        agent_unit_name(stack, agent)
    } else {
        format!("{}.container", agent_stem(stack, agent))
    }
}

/// `norse-standard.target`: profile `standard`'s target.
pub fn profile_target_name(stack: &Stack, profile: &str) -> String {
    format!("{}-{profile}.target", stack.name.value)
}

/// `norse-gateway.socket`: the gateway's listening socket.
pub fn gateway_socket_name(stack: &Stack) -> String {
    format!("{}-gateway.socket", stack.name.value)
}

/// `norse-gateway.service`: `strixc serve`, started by the socket.
pub fn gateway_service_name(stack: &Stack) -> String {
    format!("{}-gateway.service", stack.name.value)
}

/// `swap.img.swap` for `/swap.img` (what `systemd-escape --path --suffix=swap` prints).
pub fn swap_unit_name(path: &str) -> String {
    format!("{}.swap", path_escape(path))
}

/// `norse-swapfile.service`.
pub fn swap_creator_name(stack: &Stack) -> String {
    format!("{}-swapfile.service", stack.name.value)
}

/// `systemd-escape --path`: the unit name stem for a file system path (`/swap.img` →
/// `swap.img`, `/var/lib/swap file` → `var-lib-swap\x20file`).
pub fn path_escape(path: &str) -> String {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    if parts.is_empty() {
        return "-".into();
    }
    let joined = parts.join("/");
    let mut escaped = String::with_capacity(joined.len());
    for (i, byte) in joined.bytes().enumerate() {
        match byte {
            b'/' => escaped.push('-'),
            b'.' if i == 0 => escaped.push_str("\\x2e"),
            b if b.is_ascii_alphanumeric() || b == b':' || b == b'_' || b == b'.' => {
                escaped.push(char::from(b))
            }
            b => escaped.push_str(&format!("\\x{b:02x}")),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let mut stack = Stack::default();
        stack.name.value = "norse".into();
        assert_eq!(slice_name(&stack), "norse.slice");
        assert_eq!(agent_stem(&stack, "thor"), "norse-thor");
        assert_eq!(agent_unit_name(&stack, "thor"), "norse-thor.service");
        assert_eq!(agent_file_name(&stack, "thor", true), "norse-thor.service");
        assert_eq!(
            agent_file_name(&stack, "thor", false),
            "norse-thor.container"
        );
        assert_eq!(
            profile_target_name(&stack, "standard"),
            "norse-standard.target"
        );
        assert_eq!(gateway_socket_name(&stack), "norse-gateway.socket");
        assert_eq!(gateway_service_name(&stack), "norse-gateway.service");
        assert_eq!(swap_creator_name(&stack), "norse-swapfile.service");
    }

    #[test]
    fn paths() {
        assert_eq!(path_escape("/swap.img"), "swap.img");
        assert_eq!(path_escape("/var/lib/swap file"), "var-lib-swap\\x20file");
        assert_eq!(path_escape("//a//b/"), "a-b");
        assert_eq!(path_escape("/.hidden"), "\\x2ehidden");
        assert_eq!(path_escape("/"), "-");
        assert_eq!(path_escape("/a-b"), "a\\x2db");
    }
}
