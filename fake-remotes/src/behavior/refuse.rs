//! `refuse`: the client's `connect()` fails at once with ECONNREFUSED — nothing listens.
//!
//! Executed by the accept loop in `server.rs`: while a `refuse` fault is in force the
//! listening socket is closed, and when the fault ends the same local address is bound
//! again (SO_REUSEADDR, backlog 1024). Sessions already open when it begins are reset,
//! as a crashed MTA's are (`open_sessions:` in `outage.rs`; `keep` leaves them served,
//! an outage of the listener alone). A connection that got into the accept
//! queue just before the switch is reset, which is what the kernel does to the queue of
//! a listener that closes.
//!
//! With `probability: p` (`{ refuse: { probability: 0.3 } }`) the listener stays up: no
//! listener can refuse some connect()s and not others, so a picked connection
//! (`chance.rs`) is reset at accept, before any byte — the client's connect() succeeds
//! and its first read gets ECONNRESET, where a whole `refuse` gets ECONNREFUSED.

use super::AcceptAction;
use crate::Fault;

/// Whether the listener must be closed now.
pub fn in_force(faults: &[Fault]) -> bool {
    faults
        .iter()
        .any(|f| matches!(f, Fault::Refuse(o) if o.whole()))
}

/// A connection accepted while `refuse` is in force (a race with the switch).
pub(super) fn on_accept() -> Option<AcceptAction> {
    Some(AcceptAction::Reset)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::behavior::Tarpit;

    #[test]
    fn in_force_only_with_a_refuse_fault() {
        let table = [
            (vec![], false),
            (vec![Fault::Reset], false),
            (vec![Fault::Tarpit(Tarpit::default()), Fault::REFUSE], true),
        ];
        for (faults, want) in table {
            assert_eq!(in_force(&faults), want, "{faults:?}");
        }
    }
}
