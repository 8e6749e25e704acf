//! The source of an upload as it was planned, in the form the transports read it: a file with
//! its fingerprint, bytes, a page's `Blob`, or a stream.

use std::path::PathBuf;

use bytes::Bytes;

/// The file's bytes, with the length fixed at planning time.
#[derive(Debug, Clone)]
pub(crate) enum PlannedSource {
    Path {
        path: PathBuf,
        fingerprint: Fingerprint,
    },
    Bytes(Bytes),
    /// A browser `Blob` or `File`.
    Blob(crate::Blob),
    /// A FIFO, socket or device: read once, front to back; its length is known at the end.
    Stream {
        path: PathBuf,
    },
}

/// `len` bytes of `bytes` from `offset`, if they are all there.
pub(crate) fn range_of(bytes: &[u8], offset: u64, len: u64) -> Option<&[u8]> {
    let start = usize::try_from(offset).ok()?;
    let end = usize::try_from(offset.checked_add(len)?).ok()?;
    bytes.get(start..end)
}

impl PlannedSource {
    /// The length, or 0 for a stream (unknown until its end).
    pub(crate) fn len(&self) -> u64 {
        match self {
            PlannedSource::Path { fingerprint, .. } => fingerprint.len,
            PlannedSource::Bytes(b) => b.len() as u64,
            PlannedSource::Blob(b) => b.size(),
            PlannedSource::Stream { .. } => 0,
        }
    }

    pub(crate) fn is_stream(&self) -> bool {
        matches!(self, PlannedSource::Stream { .. })
    }
}

/// What a file looked like when the upload was planned. A file whose length or modification
/// time differs by the end of the upload changed under it: the bytes sent may mix two versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fingerprint {
    pub(crate) len: u64,
    modified: Option<std::time::SystemTime>,
}

impl Fingerprint {
    pub(crate) fn of(meta: &std::fs::Metadata) -> Self {
        Self {
            len: meta.len(),
            modified: meta.modified().ok(),
        }
    }

    /// Size and modification time as text, for keys that must change when the file does.
    pub(crate) fn stamp(&self) -> String {
        let mtime = self
            .modified
            .and_then(|m| m.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        format!("{}:{mtime}", self.len)
    }
}
