//! A blocking D-Bus connection to a message bus: connect, authenticate (SASL EXTERNAL),
//! `Hello`, then method calls whose replies a reader thread matches by serial, and signals
//! handed to a callback as they arrive.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use super::address::{self, Socket};
use super::message::{Kind, Message, NO_REPLY_EXPECTED};
use super::wire::Value;

/// The name of each connection's reader thread (one per connection, gone with it).
pub const READER_THREAD: &str = "strixc-dbus";

/// Why a D-Bus exchange failed.
#[derive(Debug)]
pub enum DbusError {
    /// The socket could not be opened, or it closed or broke: the connection is gone.
    Io(std::io::Error),
    /// The address or the authentication did not work out.
    Connect(String),
    /// The peer answered with a D-Bus error.
    Method { name: String, message: String },
    /// A message that breaks the protocol, or a reply of another type than expected.
    Protocol(String),
}

impl fmt::Display for DbusError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DbusError::Io(e) => write!(f, "I/O error: {e}"),
            DbusError::Connect(why) => f.write_str(why),
            DbusError::Method { name, message } => write!(f, "{name}: {message}"),
            DbusError::Protocol(why) => write!(f, "D-Bus protocol error: {why}"),
        }
    }
}

impl std::error::Error for DbusError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DbusError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl DbusError {
    /// Whether the connection is gone (as opposed to the peer answering with an error).
    pub fn is_disconnect(&self) -> bool {
        matches!(self, DbusError::Io(_))
    }
}

/// What the reader thread hands on: a signal, or the end of the connection.
pub enum Event {
    Signal(Message),
    Closed,
}

/// Replies waited for, and whether the connection still stands.
#[derive(Default)]
struct State {
    waiting: HashSet<u32>,
    replies: HashMap<u32, Message>,
    /// Why the connection ended, once it did.
    closed: Option<String>,
}

struct Shared {
    state: Mutex<State>,
    arrived: Condvar,
    /// One writer at a time, so messages never interleave on the socket.
    stream: Mutex<UnixStream>,
    serial: AtomicU32,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sends a message with the next serial, and returns that serial.
    fn send(&self, message: &Message) -> std::io::Result<u32> {
        let mut stream = self.stream.lock().unwrap_or_else(|e| e.into_inner());
        let serial = self.serial.fetch_add(1, Ordering::Relaxed);
        stream.write_all(&message.encode(serial, cfg!(target_endian = "big")))?;
        Ok(serial)
    }
}

pub struct Connection {
    shared: Arc<Shared>,
}

const BUS: &str = "org.freedesktop.DBus";

impl Connection {
    /// Connects to the first reachable socket of `address`, authenticates, starts the reader
    /// thread (which hands every signal to `on_event`, then `Event::Closed`) and says `Hello`.
    pub fn open(
        address: &str,
        on_event: impl FnMut(Event) + Send + 'static,
    ) -> Result<Connection, DbusError> {
        let sockets = address::parse(address).map_err(DbusError::Connect)?;
        let mut last = None;
        let stream = sockets.iter().find_map(|s| match connect(s) {
            Ok(stream) => Some(stream),
            Err(e) => {
                last = Some(e);
                None
            }
        });
        let stream = stream.ok_or_else(|| DbusError::Io(last.expect("one socket tried")))?;
        let mut reader = BufReader::new(stream.try_clone().map_err(DbusError::Io)?);
        authenticate(&stream, &mut reader)?;
        let connection = Connection {
            shared: Arc::new(Shared {
                state: Mutex::new(State::default()),
                arrived: Condvar::new(),
                stream: Mutex::new(stream),
                serial: AtomicU32::new(1),
            }),
        };
        let shared = Arc::clone(&connection.shared);
        std::thread::Builder::new()
            .name(READER_THREAD.into())
            .spawn(move || read_loop(reader, shared, on_event))
            .map_err(DbusError::Io)?;
        connection.call(Message::call(BUS, "/org/freedesktop/DBus", BUS, "Hello"))?;
        Ok(connection)
    }

    /// Asks the bus to route the signals of a match rule to this connection.
    pub fn add_match(&self, rule: &str) -> Result<(), DbusError> {
        let call = Message::call(BUS, "/org/freedesktop/DBus", BUS, "AddMatch");
        self.call(call.with_body(vec![Value::Str(rule.into())]))
            .map(drop)
    }

    /// Sends a method call and waits for its reply: the reply's body, or the D-Bus error as
    /// `DbusError::Method`, or `DbusError::Io` when the connection ends first.
    pub fn call(&self, message: Message) -> Result<Vec<Value>, DbusError> {
        // The state lock is held while sending, so the reply cannot arrive unregistered.
        let mut state = self.shared.lock();
        if let Some(why) = &state.closed {
            return Err(gone(why));
        }
        let serial = self.shared.send(&message).map_err(DbusError::Io)?;
        state.waiting.insert(serial);
        let reply = loop {
            if let Some(reply) = state.replies.remove(&serial) {
                break reply;
            }
            if let Some(why) = state.closed.clone() {
                state.waiting.remove(&serial);
                return Err(gone(&why));
            }
            state = self
                .shared
                .arrived
                .wait(state)
                .unwrap_or_else(|e| e.into_inner());
        };
        if reply.kind == Some(Kind::Error) {
            let message = match reply.body.first() {
                Some(Value::Str(text)) => text.clone(),
                _ => "no details".into(),
            };
            let name = reply.error_name.unwrap_or_default();
            return Err(DbusError::Method { name, message });
        }
        Ok(reply.body)
    }

    /// Closes the socket: the reader thread sees the end, reports `Event::Closed` and exits.
    pub fn close(&self) {
        let stream = self.shared.stream.lock().unwrap_or_else(|e| e.into_inner());
        let _ = stream.shutdown(Shutdown::Both);
    }
}

impl Drop for Connection {
    /// Ends the reader thread, which would otherwise keep the socket (and itself) alive.
    fn drop(&mut self) {
        self.close();
    }
}

fn gone(why: &str) -> DbusError {
    DbusError::Io(std::io::Error::new(
        std::io::ErrorKind::ConnectionAborted,
        why.to_string(),
    ))
}

fn connect(socket: &Socket) -> std::io::Result<UnixStream> {
    match socket {
        Socket::Path(path) => UnixStream::connect(path),
        Socket::Abstract(name) => {
            use std::os::linux::net::SocketAddrExt;
            let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
            UnixStream::connect_addr(&addr)
        }
    }
}

/// SASL EXTERNAL with the effective uid: the kernel vouches for it on a unix socket.
fn authenticate(mut stream: &UnixStream, reader: &mut impl BufRead) -> Result<(), DbusError> {
    let uid = nix::unistd::Uid::effective().as_raw().to_string();
    let hex: String = uid.bytes().map(|b| format!("{b:02x}")).collect();
    let io = DbusError::Io;
    stream
        .write_all(format!("\0AUTH EXTERNAL {hex}\r\n").as_bytes())
        .map_err(io)?;
    let mut line = String::new();
    // A server's line is short; a longer one is not a D-Bus server.
    reader.by_ref().take(512).read_line(&mut line).map_err(io)?;
    if !line.starts_with("OK ") || !line.ends_with("\r\n") {
        return Err(DbusError::Connect(format!(
            "D-Bus authentication refused: {:?}",
            line.trim_end()
        )));
    }
    stream.write_all(b"BEGIN\r\n").map_err(io)
}

/// Reads messages until the connection ends: replies to their callers, signals to
/// `on_event`, calls answered with an error (strixc serves no interface).
fn read_loop(
    mut reader: BufReader<UnixStream>,
    shared: Arc<Shared>,
    mut on_event: impl FnMut(Event),
) {
    let why = loop {
        let message = match Message::read(&mut reader) {
            Ok(Ok(message)) => message,
            Ok(Err(malformed)) => break format!("malformed message from the bus: {malformed}"),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                break "the bus closed the connection".to_string();
            }
            Err(e) => break e.to_string(),
        };
        match message.kind {
            Some(Kind::Return | Kind::Error) => {
                let mut state = shared.lock();
                let serial = message.reply_serial.unwrap_or(0);
                if state.waiting.remove(&serial) {
                    state.replies.insert(serial, message);
                    shared.arrived.notify_all();
                }
            }
            Some(Kind::Signal) => on_event(Event::Signal(message)),
            Some(Kind::Call) if message.flags & NO_REPLY_EXPECTED == 0 => {
                let _ = shared.send(&unknown_method(&message));
            }
            _ => {}
        }
    };
    shared.lock().closed = Some(why);
    shared.arrived.notify_all();
    on_event(Event::Closed);
}

fn unknown_method(call: &Message) -> Message {
    Message {
        kind: Some(Kind::Error),
        flags: NO_REPLY_EXPECTED,
        error_name: Some("org.freedesktop.DBus.Error.UnknownMethod".into()),
        reply_serial: Some(call.serial),
        destination: call.sender.clone(),
        body: vec![Value::Str(format!(
            "strixc serves no method {}",
            call.member.as_deref().unwrap_or("")
        ))],
        ..Message::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authentication_sends_external_with_the_hex_uid_then_begin() {
        let (ours, theirs) = UnixStream::pair().unwrap();
        let server = std::thread::spawn(move || {
            let mut reader = BufReader::new(theirs.try_clone().unwrap());
            let mut line = Vec::new();
            reader.read_until(b'\n', &mut line).unwrap();
            (&theirs).write_all(b"OK 1234deadbeef\r\n").unwrap();
            let mut begin = String::new();
            reader.read_line(&mut begin).unwrap();
            (line, begin)
        });
        let mut reader = BufReader::new(ours.try_clone().unwrap());
        authenticate(&ours, &mut reader).unwrap();
        let (auth, begin) = server.join().unwrap();
        let uid = nix::unistd::Uid::effective().as_raw().to_string();
        let hex: String = uid.bytes().map(|b| format!("{b:02x}")).collect();
        assert_eq!(auth, format!("\0AUTH EXTERNAL {hex}\r\n").into_bytes());
        assert_eq!(begin, "BEGIN\r\n");
    }

    #[test]
    fn a_refusal_is_an_error() {
        let (ours, theirs) = UnixStream::pair().unwrap();
        (&theirs).write_all(b"REJECTED EXTERNAL\r\n").unwrap();
        let mut reader = BufReader::new(ours.try_clone().unwrap());
        let e = authenticate(&ours, &mut reader).unwrap_err();
        assert!(e.to_string().contains("REJECTED"), "{e}");
    }
}
