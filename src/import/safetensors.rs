//! The size of a `.safetensors` file's tensor data, from its header alone.
//!
//! Format: 8 bytes little-endian header length N, then N bytes of UTF-8 JSON mapping each
//! tensor name to `{dtype, shape, data_offsets: [start, end]}` (offsets relative to the data
//! section) plus an optional `__metadata__`, then the data. The data size is the largest
//! `end`. The data itself is never read.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use serde_json::Value;

use super::ImportError;

/// Refuse headers longer than this (100 MB; real ones are a few MB at most), so a damaged
/// or hostile file cannot make strixc allocate gigabytes.
pub const MAX_HEADER_BYTES: u64 = 100_000_000;

/// The tensor data size of the file at `path`, checked against the file's length.
pub fn data_size(path: &Path) -> Result<u64, ImportError> {
    let read_err = |source| ImportError::Read {
        path: path.to_path_buf(),
        source,
    };
    let truncated = |detail: String| ImportError::Truncated {
        path: path.to_path_buf(),
        detail,
    };
    let mut file = File::open(path).map_err(read_err)?;
    let file_len = file.metadata().map_err(read_err)?.len();
    if file_len < 8 {
        return Err(truncated(format!(
            "{file_len} bytes, shorter than the 8-byte header length"
        )));
    }
    let mut len = [0u8; 8];
    file.read_exact(&mut len).map_err(read_err)?;
    let header_len = u64::from_le_bytes(len);
    if header_len > MAX_HEADER_BYTES {
        return Err(ImportError::HeaderTooLarge {
            path: path.to_path_buf(),
            len: header_len,
            limit: MAX_HEADER_BYTES,
        });
    }
    let data_start = 8 + header_len;
    if data_start > file_len {
        return Err(truncated(format!(
            "its header needs {header_len} bytes, the file has {}",
            file_len - 8
        )));
    }
    // Bounded by MAX_HEADER_BYTES and by the file's length, checked above.
    let mut header = Vec::with_capacity(usize::try_from(header_len).unwrap_or(0));
    file.take(header_len)
        .read_to_end(&mut header)
        .map_err(read_err)?;
    if header.len() as u64 != header_len {
        return Err(truncated("the file shrank while it was read".to_owned()));
    }
    let size = header_data_size(&header).map_err(|detail| ImportError::BadHeader {
        path: path.to_path_buf(),
        detail,
    })?;
    if size > file_len - data_start {
        return Err(truncated(format!(
            "its tensors need {size} bytes of data, the file has {}",
            file_len - data_start
        )));
    }
    Ok(size)
}

/// The largest `data_offsets` end in a header (the N bytes after the length). Pure; the
/// error says what is wrong, for [`ImportError::BadHeader`].
pub fn header_data_size(header: &[u8]) -> Result<u64, String> {
    let text = std::str::from_utf8(header)
        .map_err(|e| format!("not UTF-8 at byte {}", e.valid_up_to()))?;
    let json: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let Value::Object(tensors) = json else {
        return Err("not a JSON object".to_owned());
    };
    let mut size = 0;
    for (name, tensor) in &tensors {
        if name == "__metadata__" {
            continue;
        }
        let offsets = tensor
            .get("data_offsets")
            .and_then(Value::as_array)
            .map(|a| a.iter().map(Value::as_u64).collect::<Vec<_>>());
        let end = match offsets.as_deref() {
            Some([Some(start), Some(end)]) if start <= end => *end,
            _ => {
                return Err(format!(
                    "tensor `{name}` has no valid data_offsets [start, end]"
                ));
            }
        };
        size = size.max(end);
    }
    Ok(size)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::io::Write;

    proptest! {
        #[test]
        fn arbitrary_headers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = header_data_size(&bytes);
        }

        #[test]
        fn arbitrary_offsets_never_panic(start: u64, end: u64) {
            let h = format!(r#"{{"t":{{"data_offsets":[{start},{end}]}}}}"#);
            prop_assert_eq!(header_data_size(h.as_bytes()).is_ok(), start <= end);
        }
    }

    /// A real (tiny) safetensors file: `tensors` are (name, dtype, shape, byte length).
    pub(crate) fn write(path: &Path, tensors: &[(&str, &str, &[u64], u64)]) {
        let mut header = serde_json::Map::new();
        header.insert(
            "__metadata__".to_owned(),
            serde_json::json!({"format": "pt"}),
        );
        let mut offset = 0;
        for (name, dtype, shape, len) in tensors {
            header.insert(
                (*name).to_owned(),
                serde_json::json!({"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len]}),
            );
            offset += len;
        }
        let header = serde_json::to_vec(&Value::Object(header)).expect("json");
        let mut file = File::create(path).expect("create");
        file.write_all(&(header.len() as u64).to_le_bytes())
            .expect("write");
        file.write_all(&header).expect("write");
        file.write_all(&vec![0u8; usize::try_from(offset).expect("small")])
            .expect("write");
    }

    #[test]
    fn header_data_size_is_the_largest_end() {
        let h = br#"{"__metadata__":{"format":"pt"},
            "b":{"dtype":"F16","shape":[2],"data_offsets":[8,12]},
            "a":{"dtype":"F16","shape":[4],"data_offsets":[0,8]}}"#;
        assert_eq!(header_data_size(h), Ok(12));
        assert_eq!(header_data_size(b"{}"), Ok(0));
    }

    #[test]
    fn malformed_headers_are_explained() {
        assert_eq!(
            header_data_size(b"{\"a\":\xff}"),
            Err("not UTF-8 at byte 5".to_owned())
        );
        assert!(
            header_data_size(b"{")
                .expect_err("bad")
                .starts_with("not JSON: ")
        );
        assert_eq!(header_data_size(b"[]"), Err("not a JSON object".to_owned()));
        let bad = [
            r#"{"t":{}}"#,
            r#"{"t":{"data_offsets":[8,4]}}"#,
            r#"{"t":{"data_offsets":[0]}}"#,
            r#"{"t":{"data_offsets":[0,-1]}}"#,
            r#"{"t":{"data_offsets":"0-4"}}"#,
        ];
        for h in bad {
            assert_eq!(
                header_data_size(h.as_bytes()),
                Err("tensor `t` has no valid data_offsets [start, end]".to_owned()),
                "{h}"
            );
        }
    }

    #[test]
    fn reads_a_real_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("model.safetensors");
        write(&path, &[("w", "F16", &[3, 4], 24), ("b", "F32", &[5], 20)]);
        assert_eq!(data_size(&path).expect("valid"), 44);
    }

    fn raw(bytes: &[u8]) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("x.safetensors");
        std::fs::write(&path, bytes).expect("write");
        (dir, path)
    }

    /// The error reading a file of `len` as its header length, then `rest`.
    fn error_of(len: u64, rest: &[u8]) -> ImportError {
        let mut bytes = len.to_le_bytes().to_vec();
        bytes.extend_from_slice(rest);
        let (_d, p) = raw(&bytes);
        data_size(&p).expect_err("fails")
    }

    #[test]
    fn truncated_and_absurd_files() {
        let (_d, p) = raw(&[1, 2, 3]);
        let e = data_size(&p).expect_err("short");
        assert!(matches!(e, ImportError::Truncated { .. }));
        assert!(e.to_string().ends_with(
            "is truncated (3 bytes, shorter than the 8-byte header length): the download is \
             incomplete; download it again"
        ));

        let e = error_of(100, b"{\"a\":").to_string();
        assert!(
            e.contains("(its header needs 100 bytes, the file has 5)"),
            "{e}"
        );

        let e = error_of(u64::MAX, b"{}");
        assert!(matches!(
            e,
            ImportError::HeaderTooLarge { len: u64::MAX, .. }
        ));
        assert!(e.to_string().ends_with(
            "declares a 18446744073709551615-byte safetensors header, over the 100000000-byte \
             limit: it is not a safetensors file, or it is damaged; download it again"
        ));

        // A complete header whose tensors run past the end of the file.
        let h = br#"{"t":{"dtype":"U8","shape":[64],"data_offsets":[0,64]}}"#;
        let e = error_of(h.len() as u64, &[&h[..], &[0; 10]].concat()).to_string();
        assert!(
            e.contains("(its tensors need 64 bytes of data, the file has 10)"),
            "{e}"
        );

        assert!(matches!(error_of(2, b"[]"), ImportError::BadHeader { .. }));
    }
}
