//! The names of units a stack generates that `check` must know before anything is planned
//! (to find two things generating one file) and `render` writes.

use crate::stack::Stack;

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
    fn paths() {
        assert_eq!(path_escape("/swap.img"), "swap.img");
        assert_eq!(path_escape("/var/lib/swap file"), "var-lib-swap\\x20file");
        assert_eq!(path_escape("//a//b/"), "a-b");
        assert_eq!(path_escape("/.hidden"), "\\x2ehidden");
        assert_eq!(path_escape("/"), "-");
        assert_eq!(path_escape("/a-b"), "a\\x2db");
    }
}
