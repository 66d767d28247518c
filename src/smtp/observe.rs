//! What a client connection reports as it goes: how long each phase took, each reply
//! code, each failure. The generator's sessions record these into their own buffers
//! (no lock on the hot path); the embedded cluster's relay passes `()` and pays nothing.

use tokio::time::Instant;

use super::client::{FailureKind, Phase};

/// Receives the observations of one connection, in wire order.
pub trait Observer: Send {
    /// The server introduced itself in its banner: what follows (including the connect
    /// and banner timings, reported right after) belongs to this host name.
    fn server(&mut self, _name: &str) {}
    /// `phase` ran from `start` to `end` (see [`Phase`] for where each one starts and ends).
    fn timed(&mut self, _phase: Phase, _start: Instant, _end: Instant) {}
    /// The server answered `code` at `phase`.
    fn replied(&mut self, _phase: Phase, _code: u16) {}
    /// `phase` ended without a reply (refused, timeout, closed, TLS, not offered…).
    fn failed(&mut self, _phase: Phase, _kind: &FailureKind) {}
}

/// Observes nothing.
impl Observer for () {}

/// Pseudo reply codes for failures without a reply, so they can be tallied with the real
/// codes (real codes are 200..=599; these stay below 100).
pub mod no_reply {
    use super::FailureKind;

    pub const REFUSED: u16 = 1;
    pub const TIMEOUT: u16 = 2;
    pub const CLOSED: u16 = 3;
    pub const GARBAGE: u16 = 4;
    pub const IO: u16 = 5;
    pub const TLS: u16 = 6;
    pub const NOT_OFFERED: u16 = 7;

    /// The pseudo code of a failure, or the reply's code for [`FailureKind::Reply`].
    pub fn code(kind: &FailureKind) -> u16 {
        match kind {
            FailureKind::Refused => REFUSED,
            FailureKind::Timeout => TIMEOUT,
            FailureKind::Closed => CLOSED,
            FailureKind::Garbage(_) => GARBAGE,
            FailureKind::Io(_) => IO,
            FailureKind::Tls(_) => TLS,
            FailureKind::NotOffered(_) => NOT_OFFERED,
            FailureKind::Reply(r) => r.code,
        }
    }

    /// How a code reads in reports: `"250"`, or `"timeout"` for a pseudo code.
    pub fn label(code: u16) -> String {
        match code {
            REFUSED => "refused".into(),
            TIMEOUT => "timeout".into(),
            CLOSED => "closed".into(),
            GARBAGE => "garbage".into(),
            IO => "io_error".into(),
            TLS => "tls_error".into(),
            NOT_OFFERED => "not_offered".into(),
            c => c.to_string(),
        }
    }
}
