//! The D-Bus wire format: values marshalled by signature, in either byte order.
//!
//! Offsets (and so alignment) count from the start of the message, as the specification
//! says; the encoder and decoder are handed the whole message buffer for that reason.

pub use super::signature::WireError;
use super::signature::{ENTRY_CODE, MAX_DEPTH, Type, align_of, bad, parse_signature};

/// Longest array body the specification allows (64 MiB).
const MAX_ARRAY: usize = 1 << 26;
/// One D-Bus value of any type.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Byte(u8),
    Bool(bool),
    I16(i16),
    U16(u16),
    I32(i32),
    U32(u32),
    I64(i64),
    U64(u64),
    F64(f64),
    Str(String),
    Path(String),
    Sig(String),
    /// An index into the message's file descriptors (`h`).
    Fd(u32),
    Variant(Box<Value>),
    /// `a…`: the element signature is kept so an empty array still has its type.
    Array(String, Vec<Value>),
    Struct(Vec<Value>),
    /// `{kv}`: only inside an array.
    Entry(Box<Value>, Box<Value>),
}

impl Value {
    pub fn signature(&self) -> String {
        match self {
            Value::Array(elem, _) => format!("a{elem}"),
            Value::Struct(fields) => format!("({})", signature_of(fields)),
            Value::Entry(k, v) => format!("{{{}{}}}", k.signature(), v.signature()),
            other => (other.code() as char).to_string(),
        }
    }

    fn code(&self) -> u8 {
        match self {
            Value::Byte(_) => b'y',
            Value::Bool(_) => b'b',
            Value::I16(_) => b'n',
            Value::U16(_) => b'q',
            Value::I32(_) => b'i',
            Value::U32(_) => b'u',
            Value::I64(_) => b'x',
            Value::U64(_) => b't',
            Value::F64(_) => b'd',
            Value::Str(_) => b's',
            Value::Path(_) => b'o',
            Value::Sig(_) => b'g',
            Value::Fd(_) => b'h',
            Value::Variant(_) => b'v',
            Value::Array(..) => b'a',
            Value::Struct(_) => b'(',
            Value::Entry(..) => ENTRY_CODE,
        }
    }

    /// An array of strings (`as`).
    pub fn strings(items: &[&str]) -> Value {
        Value::Array(
            "s".into(),
            items.iter().map(|s| Value::Str(s.to_string())).collect(),
        )
    }

    /// The text of a string, object path or signature.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) | Value::Path(s) | Value::Sig(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_u32(&self) -> Option<u32> {
        match self {
            Value::U32(n) => Some(*n),
            _ => None,
        }
    }

    pub fn as_i32(&self) -> Option<i32> {
        match self {
            Value::I32(n) => Some(*n),
            _ => None,
        }
    }

    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Value::U64(n) => Some(*n),
            _ => None,
        }
    }

    /// The items of an array, the fields of a struct.
    pub fn items(&self) -> &[Value] {
        match self {
            Value::Array(_, items) | Value::Struct(items) => items,
            _ => &[],
        }
    }
}

/// The signature of a sequence of values (a message body).
pub fn signature_of(values: &[Value]) -> String {
    values.iter().map(Value::signature).collect()
}

/// Writes values into a message buffer.
pub struct Encoder {
    pub buf: Vec<u8>,
    big: bool,
}

macro_rules! put {
    ($self:ident, $v:expr) => {{
        let v = $v;
        $self.pad(std::mem::size_of_val(&v));
        let bytes = if $self.big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        };
        $self.buf.extend_from_slice(&bytes);
    }};
}

impl Encoder {
    pub fn new(big: bool) -> Self {
        Encoder {
            buf: Vec::new(),
            big,
        }
    }

    pub fn pad(&mut self, align: usize) {
        while !self.buf.len().is_multiple_of(align) {
            self.buf.push(0);
        }
    }

    pub fn u32(&mut self, n: u32) {
        put!(self, n);
    }

    fn text(&mut self, s: &str) {
        put!(self, s.len() as u32);
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.push(0);
    }

    pub fn value(&mut self, value: &Value) {
        match value {
            Value::Byte(b) => self.buf.push(*b),
            Value::Bool(b) => put!(self, u32::from(*b)),
            Value::I16(n) => put!(self, *n),
            Value::U16(n) => put!(self, *n),
            Value::I32(n) => put!(self, *n),
            Value::U32(n) | Value::Fd(n) => put!(self, *n),
            Value::I64(n) => put!(self, *n),
            Value::U64(n) => put!(self, *n),
            Value::F64(n) => put!(self, *n),
            Value::Str(s) | Value::Path(s) => self.text(s),
            Value::Sig(s) => {
                self.buf.push(s.len() as u8);
                self.buf.extend_from_slice(s.as_bytes());
                self.buf.push(0);
            }
            Value::Variant(inner) => {
                self.value(&Value::Sig(inner.signature()));
                self.value(inner);
            }
            Value::Array(elem, items) => {
                self.u32(0);
                let at = self.buf.len() - 4;
                self.pad(align_of(elem));
                let start = self.buf.len();
                items.iter().for_each(|v| self.value(v));
                let len = (self.buf.len() - start) as u32;
                let len = if self.big {
                    len.to_be_bytes()
                } else {
                    len.to_le_bytes()
                };
                self.buf[at..at + 4].copy_from_slice(&len);
            }
            Value::Struct(fields) => {
                self.pad(8);
                fields.iter().for_each(|v| self.value(v));
            }
            Value::Entry(k, v) => {
                self.pad(8);
                self.value(k);
                self.value(v);
            }
        }
    }
}

/// Reads values out of a message buffer, from `pos` on.
pub struct Decoder<'a> {
    buf: &'a [u8],
    pub pos: usize,
    big: bool,
}

macro_rules! get {
    ($self:ident, $t:ty) => {{
        const N: usize = std::mem::size_of::<$t>();
        $self.align(N)?;
        let bytes: [u8; N] = $self.take(N)?.try_into().expect("N bytes");
        if $self.big {
            <$t>::from_be_bytes(bytes)
        } else {
            <$t>::from_le_bytes(bytes)
        }
    }};
}

impl<'a> Decoder<'a> {
    pub fn new(buf: &'a [u8], pos: usize, big: bool) -> Self {
        Decoder { buf, pos, big }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        let Some(end) = end else {
            return bad("message ends inside a value");
        };
        let bytes = &self.buf[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }

    /// Skips the padding up to `n`-byte alignment, which must be zeros.
    pub fn align(&mut self, n: usize) -> Result<(), WireError> {
        let pad = (n - self.pos % n) % n;
        if self.take(pad)?.iter().any(|&b| b != 0) {
            return bad("non-zero padding");
        }
        Ok(())
    }

    pub fn u32(&mut self) -> Result<u32, WireError> {
        Ok(get!(self, u32))
    }

    fn text(&mut self, len: usize) -> Result<String, WireError> {
        let bytes = self.take(len)?;
        if self.take(1)? != [0] {
            return bad("string without its terminating nul");
        }
        match std::str::from_utf8(bytes) {
            Ok(s) if !s.contains('\0') => Ok(s.to_string()),
            _ => bad("string is not valid UTF-8"),
        }
    }

    /// Reads the values of a signature (a message body).
    pub fn values(&mut self, signature: &str) -> Result<Vec<Value>, WireError> {
        parse_signature(signature)?
            .iter()
            .map(|t| self.value(t, 0))
            .collect()
    }

    fn value(&mut self, t: &Type, depth: usize) -> Result<Value, WireError> {
        if depth > MAX_DEPTH {
            return bad("values nested too deeply");
        }
        Ok(match t {
            Type::Basic(c) => self.basic(*c)?,
            Type::Variant => {
                let sig = self.sig()?;
                let types = parse_signature(&sig)?;
                let [inner] = types.as_slice() else {
                    return bad("variant signature is not one complete type");
                };
                Value::Variant(Box::new(self.value(inner, depth + 1)?))
            }
            Type::Array(elem) => {
                let len = self.u32()? as usize;
                if len > MAX_ARRAY {
                    return bad("array longer than 64 MiB");
                }
                self.align(elem.align())?;
                let end = self.pos + len;
                let mut items = Vec::new();
                while self.pos < end {
                    items.push(self.value(elem, depth + 1)?);
                }
                if self.pos != end {
                    return bad("array items overrun the array's length");
                }
                let mut sig = String::new();
                elem.write(&mut sig);
                Value::Array(sig, items)
            }
            Type::Struct(fields) => {
                self.align(8)?;
                let values = fields.iter().map(|f| self.value(f, depth + 1));
                Value::Struct(values.collect::<Result<_, _>>()?)
            }
            Type::Entry(k, v) => {
                self.align(8)?;
                let key = self.value(k, depth + 1)?;
                Value::Entry(Box::new(key), Box::new(self.value(v, depth + 1)?))
            }
        })
    }

    fn sig(&mut self) -> Result<String, WireError> {
        let len = self.take(1)?[0] as usize;
        self.text(len)
    }

    fn basic(&mut self, code: u8) -> Result<Value, WireError> {
        Ok(match code {
            b'y' => Value::Byte(self.take(1)?[0]),
            b'b' => match self.u32()? {
                0 => Value::Bool(false),
                1 => Value::Bool(true),
                _ => return bad("boolean other than 0 or 1"),
            },
            b'n' => Value::I16(get!(self, i16)),
            b'q' => Value::U16(get!(self, u16)),
            b'i' => Value::I32(get!(self, i32)),
            b'u' => Value::U32(self.u32()?),
            b'x' => Value::I64(get!(self, i64)),
            b't' => Value::U64(get!(self, u64)),
            b'd' => Value::F64(get!(self, f64)),
            b'h' => Value::Fd(self.u32()?),
            b's' | b'o' => {
                let len = self.u32()? as usize;
                let text = self.text(len)?;
                if code == b's' {
                    Value::Str(text)
                } else {
                    Value::Path(text)
                }
            }
            _ => Value::Sig(self.sig()?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(values: &[Value], big: bool) -> Vec<u8> {
        let mut e = Encoder::new(big);
        values.iter().for_each(|v| e.value(v));
        e.buf
    }

    fn decode(bytes: &[u8], sig: &str, big: bool) -> Result<Vec<Value>, WireError> {
        let mut d = Decoder::new(bytes, 0, big);
        let values = d.values(sig)?;
        assert_eq!(d.pos, bytes.len(), "whole buffer read");
        Ok(values)
    }

    #[test]
    fn basic_types_in_both_byte_orders() {
        let values = [
            Value::Byte(7),
            Value::U32(0x0102_0304),
            Value::Bool(true),
            Value::U64(0x0102_0304_0506_0708),
        ];
        let le = [
            7, 0, 0, 0, 4, 3, 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 8, 7, 6, 5, 4, 3, 2, 1,
        ];
        let be = [
            7, 0, 0, 0, 1, 2, 3, 4, 0, 0, 0, 1, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8,
        ];
        assert_eq!(encode(&values, false), le);
        assert_eq!(encode(&values, true), be);
        assert_eq!(decode(&le, "yubt", false).unwrap(), values);
        assert_eq!(decode(&be, "yubt", true).unwrap(), values);
    }

    #[test]
    fn strings_paths_signatures() {
        let values = [
            Value::Str("ab".into()),
            Value::Path("/o".into()),
            Value::Sig("as".into()),
        ];
        let le = b"\x02\0\0\0ab\0\0\x02\0\0\0/o\0\x02as\0";
        assert_eq!(encode(&values, false), le);
        assert_eq!(decode(le, "sog", false).unwrap(), values);
    }

    #[test]
    fn array_length_excludes_the_padding_before_its_first_item() {
        // at: u32 length 8, then padding to 8 (not counted), then one u64.
        let values = [Value::Array("t".into(), vec![Value::U64(1)])];
        let le = [8, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(encode(&values, false), le);
        assert_eq!(decode(&le, "at", false).unwrap(), values);
        // An empty array of structs is still padded to 8.
        let empty = [Value::Array("(us)".into(), vec![])];
        assert_eq!(encode(&empty, false), [0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(decode(&[0; 8], "a(us)", false).unwrap(), empty);
    }

    #[test]
    fn dict_of_variants_as_get_all_returns_it() {
        // a{sv} {"A": <u32 5>}: a systemd GetAll reply, byte for byte.
        let le = [
            16, 0, 0, 0, 0, 0, 0, 0, // length, pad to 8
            1, 0, 0, 0, b'A', 0, // key "A"
            1, b'u', 0, 0, 0, 0, // variant signature "u", pad to 4
            5, 0, 0, 0, // 5
        ];
        let entry = Value::Entry(
            Box::new(Value::Str("A".into())),
            Box::new(Value::Variant(Box::new(Value::U32(5)))),
        );
        let values = [Value::Array("{sv}".into(), vec![entry])];
        assert_eq!(decode(&le, "a{sv}", false).unwrap(), values);
        assert_eq!(encode(&values, false), le);
        assert_eq!(values[0].signature(), "a{sv}");
    }

    #[test]
    fn struct_alignment_counts_from_the_message_start() {
        let values = [Value::Byte(1), Value::Struct(vec![Value::I32(-1)])];
        let le = [1, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff];
        assert_eq!(encode(&values, false), le);
        assert_eq!(decode(&le, "y(i)", false).unwrap(), values);
        assert_eq!(signature_of(&values), "y(i)");
    }

    #[test]
    fn every_type_round_trips_in_both_byte_orders() {
        let values = vec![
            Value::I16(-2),
            Value::U16(3),
            Value::I64(-4),
            Value::F64(0.5),
            Value::Fd(0),
            Value::Variant(Box::new(Value::strings(&["x", "yz"]))),
            Value::Struct(vec![Value::Bool(false), Value::Path("/".into())]),
            Value::Array("y".into(), vec![Value::Byte(1), Value::Byte(2)]),
        ];
        let sig = signature_of(&values);
        assert_eq!(sig, "nqxdhv(bo)ay");
        for big in [false, true] {
            let bytes = encode(&values, big);
            assert_eq!(decode(&bytes, &sig, big).unwrap(), values);
        }
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        assert!(decode(&[1, 0, 0], "u", false).is_err());
        assert!(decode(&[2, 0, 0, 0], "b", false).is_err());
        assert!(decode(&[1, 0, 0, 0, b'a', 1], "s", false).is_err());
        assert!(decode(&[1, 0, 0, 0, 0xff, 0], "s", false).is_err());
        assert!(decode(&[0xff, 0xff, 0xff, 0x7f], "ay", false).is_err());
        // The array claims 1 byte, its u32 item needs 4.
        assert!(decode(&[1, 0, 0, 0, 0, 0, 0, 0], "au", false).is_err());
        assert!(
            decode(&[1, 1, 0, 0], "yu", false).is_err(),
            "padding not zero"
        );
        assert!(decode(&[0], "a{vs}", false).is_err(), "bad signature");
    }
}
