//! Exit codes and how errors become them.

use std::fmt;

/// Completed, status < 400.
pub(crate) const OK: u8 = 0;
/// Failed: network, timeout, protocol.
pub(crate) const FAILED: u8 = 1;
/// Bad usage or bad input.
pub(crate) const BAD_INPUT: u8 = 2;
/// Completed, status >= 400 (as curl's `--fail`).
pub(crate) const HTTP_ERROR: u8 = 22;
/// Aborted by Ctrl-C.
pub(crate) const ABORTED: u8 = 130;

/// An input the user can fix; exits 2 with one line naming it.
#[derive(Debug)]
pub(crate) struct BadInput(pub(crate) String);

impl fmt::Display for BadInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadInput {}

/// An error already reported on stdout/stderr, carrying only its exit code.
#[derive(Debug)]
pub(crate) struct Reported(pub(crate) u8);

impl fmt::Display for Reported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "exit {}", self.0)
    }
}

impl std::error::Error for Reported {}

pub(crate) fn bad(message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(BadInput(message.into()))
}

pub(crate) fn code_of(err: &anyhow::Error) -> u8 {
    if let Some(Reported(code)) = err.downcast_ref() {
        *code
    } else if err.downcast_ref::<BadInput>().is_some() {
        BAD_INPUT
    } else {
        FAILED
    }
}

#[expect(
    clippy::print_stderr,
    reason = "the binary's one place that reports errors"
)]
pub(crate) fn report(err: &anyhow::Error) {
    if err.downcast_ref::<Reported>().is_none() {
        eprintln!("uptask: {err:#}");
    }
}
