use crate::ProtoError;

/// Decodes a `Transfer-Encoding: chunked` body fed in arbitrary slices.
///
/// ```
/// use uptask_proto::http1::ChunkedDecoder;
/// let mut dec = ChunkedDecoder::new();
/// let mut out = Vec::new();
/// let wire = b"4\r\nWiki\r\n5;ext=1\r\npedia\r\n0\r\nTrailer: x\r\n\r\nEXTRA";
/// let mut used = 0;
/// for piece in wire.chunks(3) {
///     if dec.is_done() { break; }
///     used += dec.feed(piece, &mut out)?;
/// }
/// assert!(dec.is_done());
/// assert_eq!(out, b"Wikipedia");
/// assert_eq!(&wire[used..], b"EXTRA");
/// # Ok::<(), uptask_proto::ProtoError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct ChunkedDecoder {
    state: State,
    size: u64,
    size_digits: u8,
    line_len: usize,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum State {
    #[default]
    Size,
    Extension,
    SizeLf,
    Data,
    DataCr,
    DataLf,
    TrailerStart,
    TrailerLine,
    TrailerLf,
    FinalLf,
    Done,
}

/// Lines (sizes, extensions, trailers) longer than this are refused.
const MAX_LINE: usize = 8 * 1024;

impl ChunkedDecoder {
    /// A decoder at the start of a body.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the terminating chunk and trailers have been read.
    #[must_use]
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Decodes from `input`, appending body bytes to `out`. Returns how many input bytes were
    /// used; fewer than `input.len()` only once the body is done.
    ///
    /// # Errors
    /// [`ProtoError::Chunked`] for malformed framing.
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<usize, ProtoError> {
        let mut i = 0;
        while i < input.len() && self.state != State::Done {
            let b = input[i];
            match self.state {
                State::Size => {
                    if let Some(d) = (b as char).to_digit(16) {
                        self.size_digits += 1;
                        if self.size_digits > 15 {
                            return Err(ProtoError::Chunked("chunk size too large"));
                        }
                        self.size = self.size * 16 + u64::from(d);
                    } else if self.size_digits == 0 {
                        return Err(ProtoError::Chunked("missing chunk size"));
                    } else if b == b'\r' {
                        self.state = State::SizeLf;
                    } else if b == b';' || b == b' ' || b == b'\t' {
                        self.state = State::Extension;
                        self.line_len = 0;
                    } else {
                        return Err(ProtoError::Chunked("bad chunk size"));
                    }
                    i += 1;
                }
                State::Extension => {
                    if b == b'\r' {
                        self.state = State::SizeLf;
                    } else {
                        self.bump_line()?;
                    }
                    i += 1;
                }
                State::SizeLf => {
                    expect(b, b'\n')?;
                    i += 1;
                    self.size_digits = 0;
                    self.state = if self.size == 0 {
                        State::TrailerStart
                    } else {
                        State::Data
                    };
                }
                State::Data => {
                    let avail = input.len() - i;
                    let take = usize::try_from(self.size).map_or(avail, |s| s.min(avail));
                    out.extend_from_slice(&input[i..i + take]);
                    i += take;
                    self.size -= take as u64;
                    if self.size == 0 {
                        self.state = State::DataCr;
                    }
                }
                State::DataCr => {
                    expect(b, b'\r')?;
                    i += 1;
                    self.state = State::DataLf;
                }
                State::DataLf => {
                    expect(b, b'\n')?;
                    i += 1;
                    self.state = State::Size;
                }
                State::TrailerStart => {
                    i += 1;
                    if b == b'\r' {
                        self.state = State::FinalLf;
                    } else {
                        self.line_len = 1;
                        self.state = State::TrailerLine;
                    }
                }
                State::TrailerLine => {
                    if b == b'\r' {
                        self.state = State::TrailerLf;
                    } else {
                        self.bump_line()?;
                    }
                    i += 1;
                }
                State::TrailerLf => {
                    expect(b, b'\n')?;
                    i += 1;
                    self.state = State::TrailerStart;
                }
                State::FinalLf => {
                    expect(b, b'\n')?;
                    i += 1;
                    self.state = State::Done;
                }
                State::Done => {}
            }
        }
        Ok(i)
    }

    fn bump_line(&mut self) -> Result<(), ProtoError> {
        self.line_len += 1;
        if self.line_len > MAX_LINE {
            Err(ProtoError::Chunked("line too long"))
        } else {
            Ok(())
        }
    }
}

fn expect(got: u8, want: u8) -> Result<(), ProtoError> {
    if got == want {
        Ok(())
    } else {
        Err(ProtoError::Chunked("missing CRLF"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn encode(chunks: &[Vec<u8>]) -> Vec<u8> {
        let mut w = Vec::new();
        for c in chunks.iter().filter(|c| !c.is_empty()) {
            w.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
            w.extend_from_slice(c);
            w.extend_from_slice(b"\r\n");
        }
        w.extend_from_slice(b"0\r\n\r\n");
        w
    }

    #[test]
    fn malformed_bodies_are_errors() {
        for bad in [
            &b"zz\r\n"[..],
            b"\r\n",
            b"4\r\nabcdX",
            b"4\nabcd",
            b"ffffffffffffffff\r\n",
        ] {
            let mut out = Vec::new();
            assert!(
                ChunkedDecoder::new().feed(bad, &mut out).is_err(),
                "{bad:?}"
            );
        }
    }

    proptest! {
        #[test]
        fn any_split_decodes(chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..8), cut in 1usize..50) {
            let wire = encode(&chunks);
            let mut dec = ChunkedDecoder::new();
            let mut out = Vec::new();
            let mut used = 0;
            for piece in wire.chunks(cut) {
                used += dec.feed(piece, &mut out).unwrap();
            }
            prop_assert!(dec.is_done());
            prop_assert_eq!(used, wire.len());
            prop_assert_eq!(out, chunks.concat());
        }
    }
}
