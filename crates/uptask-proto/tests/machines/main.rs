//! The protocol machines without sockets: each scenario drives a machine through the exact
//! requests it must make, answering as a server (or the store) would, and checks what it asks
//! for, reports and ends with. The rows of the tus and S3 fault tables in docs/RELIABILITY.md
//! are here at the protocol level; the loopback tests keep what needs a socket.

#![allow(
    missing_docs,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::panic,
    reason = "test code: a scenario that goes off its script stops loudly"
)]

mod direct;
mod multipart;
mod s3;
mod scenario;
mod tus;
