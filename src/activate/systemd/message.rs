//! D-Bus messages: the fixed header, the header fields and the body, read from and written
//! to a byte stream.

use std::io::Read;

use super::wire::{Decoder, Encoder, Value, WireError, signature_of};

/// Largest message the specification allows (128 MiB), header and body.
const MAX_MESSAGE: usize = 1 << 27;

/// The four message types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Call = 1,
    Return = 2,
    Error = 3,
    Signal = 4,
}

/// Flag: the sender wants no reply.
pub const NO_REPLY_EXPECTED: u8 = 1;

/// One message, with the header fields strixc reads or writes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Message {
    pub kind: Option<Kind>,
    pub flags: u8,
    pub serial: u32,
    pub path: Option<String>,
    pub interface: Option<String>,
    pub member: Option<String>,
    pub error_name: Option<String>,
    pub reply_serial: Option<u32>,
    pub destination: Option<String>,
    pub sender: Option<String>,
    pub body: Vec<Value>,
}

impl Message {
    /// A method call to `destination`.
    pub fn call(destination: &str, path: &str, interface: &str, member: &str) -> Self {
        Message {
            kind: Some(Kind::Call),
            destination: Some(destination.into()),
            path: Some(path.into()),
            interface: Some(interface.into()),
            member: Some(member.into()),
            ..Message::default()
        }
    }

    pub fn with_body(mut self, body: Vec<Value>) -> Self {
        self.body = body;
        self
    }

    pub fn signature(&self) -> String {
        signature_of(&self.body)
    }

    /// The whole message in the given byte order, with `serial`.
    pub fn encode(&self, serial: u32, big: bool) -> Vec<u8> {
        let mut e = Encoder::new(big);
        e.buf.push(if big { b'B' } else { b'l' });
        e.buf
            .extend([self.kind.map_or(0, |k| k as u8), self.flags, 1]);
        e.u32(0); // body length, patched below
        e.u32(serial);
        let text = |code, s: &Option<String>, wrap: fn(String) -> Value| {
            s.clone().map(|s| (code, wrap(s)))
        };
        let fields: Vec<(u8, Value)> = [
            text(1, &self.path, Value::Path),
            text(2, &self.interface, Value::Str),
            text(3, &self.member, Value::Str),
            text(4, &self.error_name, Value::Str),
            self.reply_serial.map(|n| (5, Value::U32(n))),
            text(6, &self.destination, Value::Str),
            text(7, &self.sender, Value::Str),
            (!self.body.is_empty()).then(|| (8, Value::Sig(self.signature()))),
        ]
        .into_iter()
        .flatten()
        .collect();
        let fields = fields
            .into_iter()
            .map(|(code, v)| Value::Struct(vec![Value::Byte(code), Value::Variant(Box::new(v))]));
        e.value(&Value::Array("(yv)".into(), fields.collect()));
        e.pad(8);
        let body_start = e.buf.len();
        self.body.iter().for_each(|v| e.value(v));
        let len = (e.buf.len() - body_start) as u32;
        let len = if big {
            len.to_be_bytes()
        } else {
            len.to_le_bytes()
        };
        e.buf[4..8].copy_from_slice(&len);
        e.buf
    }

    /// Reads one whole message; an I/O error (the connection closed or broke) is kept apart
    /// from a malformed message.
    pub fn read(from: &mut impl Read) -> Result<Result<Message, WireError>, std::io::Error> {
        let mut fixed = [0u8; 16];
        from.read_exact(&mut fixed)?;
        let big = match fixed[0] {
            b'l' => false,
            b'B' => true,
            _ => return Ok(Err(WireError("unknown byte order mark".into()))),
        };
        let word = |at: usize| {
            let bytes: [u8; 4] = fixed[at..at + 4].try_into().expect("4 bytes");
            if big {
                u32::from_be_bytes(bytes)
            } else {
                u32::from_le_bytes(bytes)
            }
        };
        let (body_len, fields_len) = (word(4) as usize, word(12) as usize);
        let header_len = (16 + fields_len).next_multiple_of(8);
        let total = header_len.saturating_add(body_len);
        if total > MAX_MESSAGE {
            return Ok(Err(WireError(format!(
                "message of {total} bytes, over the 128 MiB limit"
            ))));
        }
        let mut buf = vec![0u8; total];
        buf[..16].copy_from_slice(&fixed);
        from.read_exact(&mut buf[16..])?;
        Ok(Message::decode(&buf, big))
    }

    fn decode(buf: &[u8], big: bool) -> Result<Message, WireError> {
        if buf[3] != 1 {
            return Err(WireError(format!("protocol version {}", buf[3])));
        }
        let kind = match buf[1] {
            1 => Some(Kind::Call),
            2 => Some(Kind::Return),
            3 => Some(Kind::Error),
            4 => Some(Kind::Signal),
            _ => None,
        };
        let mut d = Decoder::new(buf, 8, big);
        let serial = d.u32()?;
        let fields = d.values("a(yv)")?;
        let fields = fields.first().map_or(&[][..], Value::items);
        let mut m = Message {
            kind,
            flags: buf[2],
            serial,
            ..Message::default()
        };
        let mut signature = String::new();
        for field in fields {
            let [Value::Byte(code), Value::Variant(v)] = field.items() else {
                continue;
            };
            let text = v.as_str().map(str::to_string);
            match code {
                1 => m.path = text,
                2 => m.interface = text,
                3 => m.member = text,
                4 => m.error_name = text,
                5 => m.reply_serial = v.as_u32(),
                6 => m.destination = text,
                7 => m.sender = text,
                8 => signature = text.unwrap_or_default(),
                _ => {}
            }
        }
        d.align(8)?;
        m.body = d.values(&signature)?;
        if d.pos != buf.len() {
            return Err(WireError("message body longer than its signature".into()));
        }
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `Hello` as dbus-send writes it (little-endian, serial 1).
    const HELLO: &[u8] = b"l\x01\x00\x01\x00\x00\x00\x00\x01\x00\x00\x00\x6e\x00\x00\x00\
        \x01\x01o\x00\x15\x00\x00\x00/org/freedesktop/DBus\x00\x00\x00\
        \x06\x01s\x00\x14\x00\x00\x00org.freedesktop.DBus\x00\x00\x00\x00\
        \x02\x01s\x00\x14\x00\x00\x00org.freedesktop.DBus\x00\x00\x00\x00\
        \x03\x01s\x00\x05\x00\x00\x00Hello\x00\x00\x00";

    fn hello() -> Message {
        Message::call(
            "org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus",
            "Hello",
        )
    }

    #[test]
    fn hello_matches_the_reference_bytes() {
        // Field order differs between writers; compare decoded, and our own bytes' length.
        let ours = hello().encode(1, false);
        assert_eq!(ours.len(), HELLO.len());
        let theirs = Message::read(&mut &HELLO[..]).unwrap().unwrap();
        assert_eq!(
            theirs,
            Message {
                serial: 1,
                ..hello()
            }
        );
        let back = Message::read(&mut &ours[..]).unwrap().unwrap();
        assert_eq!(back, theirs);
    }

    #[test]
    fn a_big_endian_signal_is_read() {
        let signal = Message {
            kind: Some(Kind::Signal),
            path: Some("/org/freedesktop/systemd1".into()),
            interface: Some("org.freedesktop.systemd1.Manager".into()),
            member: Some("JobRemoved".into()),
            sender: Some(":1.0".into()),
            body: vec![
                Value::U32(42),
                Value::Path("/org/freedesktop/systemd1/job/42".into()),
                Value::Str("a.service".into()),
                Value::Str("done".into()),
            ],
            ..Message::default()
        };
        let bytes = signal.encode(9, true);
        assert_eq!(&bytes[..4], b"B\x04\x00\x01");
        assert_eq!(&bytes[8..12], &[0, 0, 0, 9], "serial, big-endian");
        let read = Message::read(&mut &bytes[..]).unwrap().unwrap();
        assert_eq!(
            read,
            Message {
                serial: 9,
                ..signal
            }
        );
        assert_eq!(read.signature(), "uoss");
    }

    #[test]
    fn an_error_reply_keeps_its_name_and_serial() {
        let error = Message {
            kind: Some(Kind::Error),
            error_name: Some("org.freedesktop.systemd1.NoSuchUnit".into()),
            reply_serial: Some(3),
            body: vec![Value::Str("Unit x.service not loaded.".into())],
            ..Message::default()
        };
        let read = Message::read(&mut &error.encode(4, false)[..])
            .unwrap()
            .unwrap();
        assert_eq!(read.reply_serial, Some(3));
        assert_eq!(read.error_name, error.error_name);
        assert_eq!(read.body, error.body);
    }

    #[test]
    fn oversized_truncated_and_foreign_messages() {
        let mut huge = hello().encode(1, false);
        huge[4..8].copy_from_slice(&(200u32 << 20).to_le_bytes());
        assert!(
            Message::read(&mut &huge[..]).unwrap().is_err(),
            "over 128 MiB"
        );
        let whole = hello().encode(1, false);
        let cut = &whole[..whole.len() - 3];
        assert!(
            Message::read(&mut &cut[..]).is_err(),
            "closed mid-message: I/O"
        );
        let mut foreign = whole.clone();
        foreign[0] = b'x';
        assert!(Message::read(&mut &foreign[..]).unwrap().is_err());
        let mut v2 = whole;
        v2[3] = 2;
        assert!(Message::read(&mut &v2[..]).unwrap().is_err());
    }
}
