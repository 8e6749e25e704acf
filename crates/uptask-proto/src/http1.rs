//! HTTP/1.1 framing: request heads out, response heads and bodies in.
//!
//! Only what an upload needs: one request with a body of known length, one response. The
//! response side is a small state machine fed with whatever bytes the socket produced, so it
//! works the same over TCP, TLS or a test buffer.

mod chunked;
mod request;
mod response;

pub use chunked::ChunkedDecoder;
pub use request::RequestHead;
pub use response::{BodyFraming, MAX_HEAD_BYTES, ResponseHead, header_map, parse_response_head};
