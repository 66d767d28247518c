//! The stateful faults as a session executes them: it asks the server's `clients` task
//! for the facts (connections open, message windows, greylisted triples) only while a
//! `rate_limit` or `greylist` is in force, and answers with the behaviour's reply. Each
//! is asked after the stateless faults of its stage (see `behavior`).

use super::Session;
use crate::behavior::{greylist, rate_limit};
use crate::{MessageSink, RemoteReply, Stage};

impl<T: super::Transport, K: MessageSink> Session<T, K> {
    /// The 421 banner if this connection is over a connection limit in force.
    pub(super) async fn over_connection_limit(&mut self) -> Option<RemoteReply> {
        let limit = self.plan.connection_limit()?;
        let ip = self.peer.ip().to_canonical();
        let open = self.shared.clients.open_connections(ip).await;
        if !rate_limit::over_connection_limit(open, limit) {
            return None;
        }
        self.fired("rate_limit", Stage::Banner).await;
        Some(rate_limit::too_many_connections(ip))
    }

    /// The 421 at MAIL if this message is over a message limit in force.
    pub(super) async fn over_message_limit(&mut self) -> Option<RemoteReply> {
        let windows = self.plan.message_windows();
        if windows.is_empty() {
            return None;
        }
        let ip = self.peer.ip().to_canonical();
        if self.shared.clients.admit_message(ip, windows).await {
            return None;
        }
        self.fired("rate_limit", Stage::Mail).await;
        Some(rate_limit::too_much_mail(ip))
    }

    /// The 451 at RCPT if the last recipient's triple is greylisted.
    pub(super) async fn greylisted(&mut self) -> Option<RemoteReply> {
        let retry_after = self.plan.greylist()?;
        let ip = self.peer.ip().to_canonical();
        let sender = self.mail_from.as_deref().unwrap_or_default();
        let rcpt = self.rcpts.last().map(String::as_str).unwrap_or_default();
        let clients = &self.shared.clients;
        if clients.greylist_passes(ip, sender, rcpt, retry_after).await {
            return None;
        }
        self.fired("greylist", Stage::Rcpt).await;
        Some(greylist::reply())
    }
}
