//! Which bus (`Bus`) and its server address (`unix:path=/run/bus;unix:abstract=x,guid=…`):
//! which socket to connect to.

use std::path::PathBuf;

/// Which bus to reach the manager on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bus {
    /// The user's session bus (`--user`), from `DBUS_SESSION_BUS_ADDRESS`.
    Session,
    /// The system bus (`--system`).
    System,
    /// An explicit address (`unix:path=...`): tests and sandboxes.
    Address(String),
}

impl Bus {
    /// The address to connect to: the environment's, else the usual socket.
    pub(super) fn address(&self) -> String {
        let (variable, fallback) = match self {
            Bus::Address(address) => return address.clone(),
            Bus::Session => {
                let runtime = std::env::var_os("XDG_RUNTIME_DIR").map_or_else(
                    || format!("/run/user/{}", nix::unistd::Uid::effective()).into(),
                    std::path::PathBuf::from,
                );
                ("DBUS_SESSION_BUS_ADDRESS", runtime.join("bus"))
            }
            Bus::System => (
                "DBUS_SYSTEM_BUS_ADDRESS",
                "/var/run/dbus/system_bus_socket".into(),
            ),
        };
        std::env::var(variable).unwrap_or_else(|_| unix_path(&fallback))
    }
}

/// A socket a client can connect to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Socket {
    /// `unix:path=`
    Path(PathBuf),
    /// `unix:abstract=` (Linux's abstract namespace)
    Abstract(Vec<u8>),
}

/// The sockets of an address list, in order; an error names what cannot be used.
pub fn parse(address: &str) -> Result<Vec<Socket>, String> {
    let mut sockets = Vec::new();
    let mut refused = Vec::new();
    for entry in address.split(';').filter(|e| !e.is_empty()) {
        match parse_one(entry) {
            Ok(socket) => sockets.push(socket),
            Err(why) => refused.push(why),
        }
    }
    if sockets.is_empty() {
        return Err(if refused.is_empty() {
            format!("empty D-Bus address {address:?}")
        } else {
            refused.join("; ")
        });
    }
    Ok(sockets)
}

fn parse_one(entry: &str) -> Result<Socket, String> {
    let Some((transport, params)) = entry.split_once(':') else {
        return Err(format!("D-Bus address {entry:?} has no transport"));
    };
    if transport != "unix" {
        return Err(format!("D-Bus transport {transport:?} is not supported"));
    }
    let mut socket = None;
    for pair in params.split(',').filter(|p| !p.is_empty()) {
        let Some((key, value)) = pair.split_once('=') else {
            return Err(format!(
                "D-Bus address {entry:?}: {pair:?} is not key=value"
            ));
        };
        let value = unescape(value).ok_or_else(|| format!("bad escape in {entry:?}"))?;
        match key {
            "path" => socket = Some(Socket::Path(PathBuf::from(os_string(value)))),
            "abstract" => socket = Some(Socket::Abstract(value)),
            // Verified by nothing: the server's guid is only a hint for connection sharing.
            "guid" => {}
            other => {
                return Err(format!(
                    "D-Bus address {entry:?}: {other}= is not supported"
                ));
            }
        }
    }
    socket.ok_or_else(|| format!("D-Bus address {entry:?} names no path= or abstract="))
}

/// The address of a socket path, escaped as the specification asks.
pub fn unix_path(path: &std::path::Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let mut out = String::from("unix:path=");
    for &b in path.as_os_str().as_bytes() {
        if b.is_ascii_alphanumeric() || b"-_/.\\*".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02x}"));
        }
    }
    out
}

fn os_string(bytes: Vec<u8>) -> std::ffi::OsString {
    use std::os::unix::ffi::OsStringExt;
    std::ffi::OsString::from_vec(bytes)
}

/// Undoes the `%XX` escapes of an address value.
fn unescape(value: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(value.len());
    let mut bytes = value.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let hex = [bytes.next()?, bytes.next()?];
            out.push(u8::from_str_radix(std::str::from_utf8(&hex).ok()?, 16).ok()?);
        } else {
            out.push(b);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_abstract_names_escapes_and_lists() {
        assert_eq!(
            parse("unix:path=/run/user/0/bus").unwrap(),
            [Socket::Path("/run/user/0/bus".into())]
        );
        assert_eq!(
            parse("unix:abstract=/tmp/dbus-x%2c1,guid=0123abcd;unix:path=/a%20b").unwrap(),
            [
                Socket::Abstract(b"/tmp/dbus-x,1".to_vec()),
                Socket::Path("/a b".into())
            ]
        );
        assert_eq!(
            parse("tcp:host=h,port=1;unix:path=/b").unwrap(),
            [Socket::Path("/b".into())],
            "unusable entries are skipped"
        );
    }

    #[test]
    fn a_path_with_odd_bytes_survives_escaping() {
        let path = std::path::Path::new("/run/a b,c;d%/bus");
        let address = unix_path(path);
        assert_eq!(address, "unix:path=/run/a%20b%2cc%3bd%25/bus");
        assert_eq!(parse(&address).unwrap(), [Socket::Path(path.into())]);
    }

    #[test]
    fn unusable_addresses_say_why() {
        assert!(parse("").unwrap_err().contains("empty"));
        assert!(parse("tcp:host=h").unwrap_err().contains("\"tcp\""));
        assert!(parse("unix:guid=00").unwrap_err().contains("no path="));
        assert!(parse("unix:path=/a%2").unwrap_err().contains("escape"));
        assert!(parse("unix:tmpdir=/tmp").unwrap_err().contains("tmpdir="));
        assert!(parse("nocolon").unwrap_err().contains("no transport"));
    }
}
