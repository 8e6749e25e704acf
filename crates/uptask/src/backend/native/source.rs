//! Reading a file's bytes in chunks, one chunk ahead of the socket (used where `sendfile`
//! cannot be: TLS, and platforms without it).
//!
//! Disk reads run on the blocking pool while the previous chunk is being written, so a slow
//! disk and a fast socket overlap. Memory is two chunk buffers per upload, whatever the size.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use tokio::task::JoinHandle;

use crate::backend::Fingerprint;
use crate::{ErrorKind, UploadError};

/// Bytes per chunk read from the source and handed to the socket.
pub(super) const CHUNK: usize = 256 * 1024;

type ReadDone = (File, Vec<u8>, std::io::Result<usize>);

/// A file's bytes from an offset on, as a sequence of chunks.
#[derive(Debug)]
pub(super) struct Chunks {
    path: PathBuf,
    planned: Fingerprint,
    remaining: u64,
    file: Option<File>,
    inflight: Option<JoinHandle<ReadDone>>,
    spare: Vec<u8>,
}

impl Chunks {
    /// The file at `path` from `offset`, for `len` bytes.
    pub(super) fn open(
        path: &std::path::Path,
        planned: Fingerprint,
        offset: u64,
        len: u64,
    ) -> Result<Self, UploadError> {
        let file = open_at(path, offset)?;
        Ok(Self {
            path: path.to_path_buf(),
            planned,
            remaining: len,
            file: Some(file),
            inflight: None,
            spare: Vec::with_capacity(CHUNK),
        })
    }

    /// Replaces `buf`'s contents with the next chunk; `false` when the file range is exhausted.
    pub(super) async fn next(&mut self, buf: &mut Vec<u8>) -> Result<bool, UploadError> {
        let Self {
            path,
            planned,
            remaining,
            file,
            inflight,
            spare,
        } = self;
        if *remaining == 0 && inflight.is_none() {
            return Ok(false);
        }
        if inflight.is_none() {
            *inflight = start_read(file, std::mem::take(spare), *remaining);
        }
        let Some(job) = inflight.take() else {
            return Err(lost(path));
        };
        let (f, mut data, res) = job.await.map_err(|_| lost(path))?;
        let n = res.map_err(|e| {
            UploadError::new(ErrorKind::Io, format!("cannot read {}", path.display()))
                .with_source(e)
        })?;
        if n == 0 {
            return Err(changed(path, planned.len));
        }
        data.truncate(n);
        *remaining -= n as u64;
        if *remaining == 0 && !unchanged(planned, path, &f) {
            // Every byte promised in Content-Length is read, but the file changed meanwhile:
            // what went out may mix two versions.
            return Err(changed(path, planned.len));
        }
        *file = Some(f);
        std::mem::swap(buf, &mut data);
        *spare = data;
        if *remaining > 0 {
            *inflight = start_read(file, std::mem::take(spare), *remaining);
        }
        Ok(true)
    }
}

/// Opens the source file (or stream) at `path`.
pub(super) fn open_source(path: &std::path::Path) -> Result<File, UploadError> {
    File::open(path).map_err(|e| {
        UploadError::new(ErrorKind::Io, format!("cannot open {}", path.display())).with_source(e)
    })
}

/// Opens the source file at `path`, positioned at `offset`.
pub(super) fn open_at(path: &std::path::Path, offset: u64) -> Result<File, UploadError> {
    let mut file = open_source(path)?;
    file.seek(SeekFrom::Start(offset)).map_err(|e| {
        UploadError::new(ErrorKind::Io, format!("cannot seek in {}", path.display())).with_source(e)
    })?;
    Ok(file)
}

fn start_read(
    file: &mut Option<File>,
    mut buf: Vec<u8>,
    remaining: u64,
) -> Option<JoinHandle<ReadDone>> {
    let mut f = file.take()?;
    let want = usize::try_from(remaining).unwrap_or(usize::MAX).min(CHUNK);
    Some(tokio::task::spawn_blocking(move || {
        buf.clear();
        buf.resize(want, 0);
        let mut filled = 0;
        let res = loop {
            if filled == want {
                break Ok(filled);
            }
            match f.read(&mut buf[filled..]) {
                Ok(0) => break Ok(filled),
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        (f, buf, res)
    }))
}

fn lost(path: &std::path::Path) -> UploadError {
    UploadError::new(
        ErrorKind::Internal,
        format!("a read of {} was lost", path.display()),
    )
}

fn changed(path: &std::path::Path, planned: u64) -> UploadError {
    UploadError::new(
        ErrorKind::Io,
        format!(
            "{} changed during the upload (it had {planned} bytes when the upload started); \
             the server did not get a complete body",
            path.display()
        ),
    )
}

/// A file range handed to the socket by the kernel (`sendfile`), with no buffer in between.
#[derive(Debug)]
pub(super) struct SendFile {
    file: File,
    path: PathBuf,
    planned: Fingerprint,
    offset: u64,
    end: u64,
}

impl SendFile {
    pub(super) fn open(
        path: &std::path::Path,
        planned: Fingerprint,
        offset: u64,
        len: u64,
    ) -> Result<Self, UploadError> {
        let file = open_source(path)?;
        Ok(Self {
            file,
            path: path.to_path_buf(),
            planned,
            offset,
            end: offset.saturating_add(len),
        })
    }

    pub(super) fn out(&self) -> super::transport::Out<'_> {
        super::transport::Out::File {
            file: &self.file,
            offset: self.offset,
            len: self.end - self.offset,
        }
    }

    pub(super) fn advance(&mut self, n: u64) {
        self.offset = (self.offset + n).min(self.end);
    }

    /// Whether bytes remain; at the end, checks that the file did not change while it was sent
    /// (what went out could otherwise mix two versions).
    pub(super) fn ready(&self) -> Result<bool, UploadError> {
        if self.offset < self.end {
            Ok(true)
        } else if unchanged(&self.planned, &self.path, &self.file) {
            Ok(false)
        } else {
            Err(changed(&self.path, self.planned.len))
        }
    }

    /// The error for a `sendfile` that found no more bytes: the file shrank.
    pub(super) fn shrank(&self) -> UploadError {
        changed(&self.path, self.planned.len)
    }
}

/// Whether the file is still as planned: both the open file and whatever the path names now
/// (a file renamed over it).
fn unchanged(planned: &Fingerprint, path: &Path, open: &std::fs::File) -> bool {
    let same =
        |m: std::io::Result<std::fs::Metadata>| m.is_ok_and(|m| Fingerprint::of(&m) == *planned);
    same(open.metadata()) && same(std::fs::metadata(path))
}
