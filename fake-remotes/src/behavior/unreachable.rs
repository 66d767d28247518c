//! `unreachable`: the client's `connect()` never completes — its SYN is never answered,
//! so it waits until its own connect timeout (the kernel alone retries for about two
//! minutes). What a client sees of a crashed MX behind a firewall that drops packets, or
//! of a host that is down on a network that does not answer with ICMP.
//!
//! Executed by the accept loop (`server/listener.rs`), on Linux loopback: while the fault
//! is in force the listening socket is replaced by one on the same address with the
//! smallest backlog, which is never accepted from, and whose accept queue the server fills
//! itself with a connection or two. A Linux listener whose accept queue is full drops
//! every further SYN without an answer (no RST, unlike `refuse`). When the fault ends the
//! jammed listener and its fillers are closed and a normal listener is bound again (same
//! address, SO_REUSEADDR); a client still retrying its SYN then gets through.
//!
//! Sessions already open when it begins go silent, as an unreachable host's do
//! (`open_sessions:` in `outage.rs`; `keep` leaves them served). A connection that was
//! accepted just before the switch is held silently, like a black hole: the host "went
//! away" under it.
//!
//! With `probability: p` the listener stays up and a picked connection (`chance.rs`) is
//! held silent from accept on, as a black hole (the client's connect() completes).

use super::AcceptAction;
use crate::Fault;

/// Whether the listener must be jammed now.
pub fn in_force(faults: &[Fault]) -> bool {
    faults
        .iter()
        .any(|f| matches!(f, Fault::Unreachable(o) if o.whole()))
}

/// A connection accepted while `unreachable` is in force (a race with the switch).
pub(super) fn on_accept() -> Option<AcceptAction> {
    Some(AcceptAction::Blackhole)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_force_only_with_an_unreachable_fault() {
        let table = [
            (vec![], false),
            (vec![Fault::REFUSE], false),
            (vec![Fault::BLACKHOLE, Fault::UNREACHABLE], true),
        ];
        for (faults, want) in table {
            assert_eq!(in_force(&faults), want, "{faults:?}");
        }
        assert_eq!(on_accept(), Some(AcceptAction::Blackhole));
    }
}
