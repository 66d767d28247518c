//! A `refuse` or `unreachable` that begins while this session is open: the server
//! cancels the session's outage token, and the session ends as the outage's
//! `open_sessions` says (`behavior/outage.rs`): reset (a crashed server) or silent (an
//! unreachable host). Only a session waiting for the client's next bytes notices at
//! once; one busy writing notices at its next read.

use std::pin::Pin;

use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

use super::{End, Session};
use crate::behavior::{listener_state, outage, ListenerState, OpenSessions};
use crate::MessageSink;

/// The pinned wait for the server's outage signal (created once per session).
pub(crate) type OutageSignal = Option<Pin<Box<WaitForCancellationFutureOwned>>>;

/// Resolves when the outage token is cancelled; never without one (or once seen).
pub(super) async fn begun(signal: &mut OutageSignal) {
    match signal {
        Some(wait) => wait.as_mut().await,
        None => std::future::pending().await,
    }
}

impl<T: super::Transport, K: MessageSink> Session<T, K> {
    /// Follows `token`: cancelled by the server when an outage that ends open sessions
    /// begins.
    pub(crate) fn with_outage(mut self, token: &CancellationToken) -> Self {
        self.outage = Some(Box::pin(token.clone().cancelled_owned()));
        self
    }

    /// The outage signal came: how this session ends, reported as the fault firing;
    /// `None` if the faults in force by now leave open sessions alone.
    pub(super) async fn outage_end(&mut self) -> Option<End> {
        self.outage = None;
        let faults = self.faults.borrow_and_update().clone();
        self.plan.set_faults(faults);
        let end = match outage::open_sessions(self.plan.faults())? {
            OpenSessions::Reset => End::Reset,
            OpenSessions::Silent => End::Blackhole,
            OpenSessions::Keep => return None,
        };
        let fault = match listener_state(self.plan.faults()) {
            ListenerState::Jammed => "unreachable",
            _ => "refuse",
        };
        self.fired(fault, self.stage).await;
        Some(end)
    }
}
