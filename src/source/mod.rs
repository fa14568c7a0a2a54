//! The stack file, read once and kept as a named source for every report.

pub mod parse;
pub mod problems;

use std::path::Path;
use std::sync::Arc;

use crate::error::Error;

/// The text of `stack.kdl` and the name reports show for it.
///
/// Bytes that are not UTF-8 are kept as the lossy text plus the offset of the first bad
/// byte, so the parse stage can point at it instead of failing without a location.
#[derive(Debug, Clone)]
pub struct Source {
    name: Arc<str>,
    text: Arc<str>,
    invalid_utf8_at: Option<usize>,
}

impl Source {
    pub fn new(name: impl Into<Arc<str>>, text: impl Into<Arc<str>>) -> Self {
        Source {
            name: name.into(),
            text: text.into(),
            invalid_utf8_at: None,
        }
    }

    pub fn from_bytes(name: impl Into<Arc<str>>, bytes: &[u8]) -> Self {
        match std::str::from_utf8(bytes) {
            Ok(text) => Source::new(name, text),
            Err(err) => Source {
                name: name.into(),
                text: String::from_utf8_lossy(bytes).into(),
                invalid_utf8_at: Some(err.valid_up_to()),
            },
        }
    }

    pub fn read(path: &Path) -> Result<Self, Error> {
        let bytes = std::fs::read(path).map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => Error::NoStack {
                path: path.to_owned(),
                source,
            },
            _ => Error::Read {
                path: path.to_owned(),
                source,
            },
        })?;
        Ok(Source::from_bytes(path.display().to_string(), &bytes))
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// Byte offset of the first invalid UTF-8 sequence, if the file had one.
    pub fn invalid_utf8_at(&self) -> Option<usize> {
        self.invalid_utf8_at
    }
}

impl crate::diagnostic::SourceFile for Source {
    fn name(&self) -> &str {
        Source::name(self)
    }

    fn text(&self) -> &str {
        Source::text(self)
    }
}
