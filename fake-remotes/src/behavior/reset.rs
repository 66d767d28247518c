//! `reset`: the TCP handshake completes, then the connection is reset (RST) before a single
//! byte is sent; the client's next read or write fails with "connection reset by peer".
//!
//! The session executes it by setting SO_LINGER to 0 and closing, so the kernel sends RST
//! instead of FIN. Switched on while a session is open, it resets that session when the
//! next command arrives (the stage it arrived at is reported).

use super::{AcceptAction, StageAction};
use crate::Stage;

pub(super) fn on_accept() -> Option<AcceptAction> {
    Some(AcceptAction::Reset)
}

/// On an open session: every stage after the banner resets (the banner stage itself is
/// decided at accept).
pub(super) fn at_stage(stage: Stage) -> Option<StageAction> {
    (stage != Stage::Banner).then_some(StageAction::Reset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resets_at_accept_and_at_every_later_stage() {
        assert_eq!(on_accept(), Some(AcceptAction::Reset));
        let table = [
            (Stage::Banner, None),
            (Stage::Ehlo, Some(StageAction::Reset)),
            (Stage::Dot, Some(StageAction::Reset)),
            (Stage::Quit, Some(StageAction::Reset)),
        ];
        for (stage, want) in table {
            assert_eq!(at_stage(stage), want, "{stage:?}");
        }
    }
}
