//! The connection as the exchange sees it: read, write, or both at once.
//!
//! Plain TCP is kept as a concrete `TcpStream` so a file can go to the socket with `sendfile`
//! (no copy through user space, no buffer per upload); TLS streams are split into halves.
//! Either way one step waits for whichever comes first: bytes from the server (an early
//! response) or room in the socket for more of the body.

use std::io;

use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::net::TcpStream;

use super::conn::{Connected, Io};

/// What to send next.
pub(super) enum Out<'a> {
    Bytes(&'a [u8]),
    /// `len` bytes of `file` from `offset` (plain TCP on Linux only).
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    File {
        file: &'a std::fs::File,
        offset: u64,
        len: u64,
    },
}

impl Out<'_> {
    /// How many bytes this write offers.
    pub(super) fn len(&self) -> u64 {
        match self {
            Out::Bytes(b) => b.len() as u64,
            Out::File { len, .. } => *len,
        }
    }

    /// The same write, offering at most `max` bytes.
    pub(super) fn capped(self, max: u64) -> Self {
        match self {
            Out::Bytes(b) => {
                Out::Bytes(&b[..b.len().min(usize::try_from(max).unwrap_or(usize::MAX))])
            }
            Out::File { file, offset, len } => Out::File {
                file,
                offset,
                len: len.min(max),
            },
        }
    }
}

pub(super) enum Step {
    Read(io::Result<usize>),
    Wrote(io::Result<usize>),
}

pub(super) enum Transport {
    Plain(TcpStream),
    Split {
        rd: ReadHalf<Box<dyn Io>>,
        wr: WriteHalf<Box<dyn Io>>,
    },
}

/// The most one `sendfile` call is asked to move; the socket takes what fits anyway.
#[cfg(target_os = "linux")]
const SENDFILE_MAX: u64 = 16 * 1024 * 1024;

impl Transport {
    pub(super) fn new(conn: Connected) -> Self {
        match conn {
            Connected::Plain(tcp) => Transport::Plain(tcp),
            Connected::Tls { io, .. } => {
                let (rd, wr) = tokio::io::split(io);
                Transport::Split { rd, wr }
            }
        }
    }

    /// Whether a file can be handed to the kernel with `sendfile`.
    pub(super) fn can_sendfile(&self) -> bool {
        cfg!(target_os = "linux") && matches!(self, Transport::Plain(_))
    }

    pub(super) async fn read_buf(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        match self {
            Transport::Plain(s) => s.read_buf(buf).await,
            Transport::Split { rd, .. } => rd.read_buf(buf).await,
        }
    }

    pub(super) async fn flush(&mut self) -> io::Result<()> {
        match self {
            Transport::Plain(s) => s.flush().await,
            Transport::Split { wr, .. } => wr.flush().await,
        }
    }

    /// Sends some of `out`, unless the server speaks first. Reads go to `inbuf`.
    pub(super) async fn step(&mut self, inbuf: &mut Vec<u8>, out: Out<'_>) -> Step {
        match self {
            Transport::Plain(s) => loop {
                tokio::select! {
                    biased;
                    r = s.readable() => {
                        if let Err(e) = r {
                            return Step::Read(Err(e));
                        }
                        match s.try_read_buf(inbuf) {
                            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                            r => return Step::Read(r),
                        }
                    }
                    r = s.writable() => {
                        if let Err(e) = r {
                            return Step::Wrote(Err(e));
                        }
                        match try_send(s, &out) {
                            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                            r => return Step::Wrote(r),
                        }
                    }
                }
            },
            Transport::Split { rd, wr } => {
                let Out::Bytes(bytes) = out else {
                    return Step::Wrote(Err(io::Error::other("sendfile on a TLS stream")));
                };
                tokio::select! {
                    biased;
                    r = rd.read_buf(inbuf) => Step::Read(r),
                    r = wr.write(bytes) => Step::Wrote(r),
                }
            }
        }
    }
}

fn try_send(s: &TcpStream, out: &Out<'_>) -> io::Result<usize> {
    match out {
        Out::Bytes(b) => s.try_write(b),
        #[cfg(target_os = "linux")]
        Out::File { file, offset, len } => s.try_io(tokio::io::Interest::WRITABLE, || {
            let mut at = *offset;
            let count = usize::try_from((*len).min(SENDFILE_MAX)).unwrap_or(usize::MAX);
            rustix::fs::sendfile(s, file, Some(&mut at), count).map_err(io::Error::from)
        }),
        #[cfg(not(target_os = "linux"))]
        Out::File { .. } => Err(io::Error::other("sendfile is only used on Linux")),
    }
}
