//! `blackhole`: the TCP handshake completes, then not a single byte is ever sent and the
//! connection is never closed by the server; the client waits until its own timeout.
//!
//! The session executes it by reading and discarding whatever the client sends (so the
//! connection stays open and the client's writes do not block) until the client closes or
//! the server shuts down. The idle timeout does not apply: a black hole never answers.
//! A held connection costs only a socket and a small task, so thousands can be held.
//! Switched on while a session is open, the session goes silent at the next command.
//! With `probability: p` (`{ blackhole: { probability: 0.3 } }`) only the connections it
//! picks (`chance.rs`) are held; the others are served.

use super::{AcceptAction, StageAction};
use crate::Stage;

pub(super) fn on_accept() -> Option<AcceptAction> {
    Some(AcceptAction::Blackhole)
}

/// On an open session: silent from the next stage on (the banner is decided at accept).
pub(super) fn at_stage(stage: Stage) -> Option<StageAction> {
    (stage != Stage::Banner).then_some(StageAction::Blackhole)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_at_accept_and_goes_silent_later() {
        assert_eq!(on_accept(), Some(AcceptAction::Blackhole));
        let table = [
            (Stage::Banner, None),
            (Stage::Mail, Some(StageAction::Blackhole)),
            (Stage::Dot, Some(StageAction::Blackhole)),
        ];
        for (stage, want) in table {
            assert_eq!(at_stage(stage), want, "{stage:?}");
        }
    }
}
