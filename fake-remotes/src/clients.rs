//! What one server remembers about its clients across connections: open connections per
//! IP, message windows per IP (`rate_limit`) and greylisted triples (`greylist`).
//!
//! One task owns it all (an actor); sessions talk to it through a channel, never through
//! a lock. The behaviours own the data structures and the decisions
//! ([`rate_limit::Connections`], [`rate_limit::MessageWindows`],
//! [`greylist::GreylistTable`]); this task only hosts them and keeps the clock. A healthy
//! session sends two notes that nobody waits for (opened, closed); it waits for an answer
//! only while a fault that needs one is in force. The task ends when the server and all
//! its sessions are gone.

use std::net::IpAddr;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::behavior::greylist::GreylistTable;
use crate::behavior::rate_limit::{Connections, MessageWindows};

enum Request {
    Opened(IpAddr),
    Closed(IpAddr),
    OpenConnections {
        ip: IpAddr,
        reply: oneshot::Sender<u32>,
    },
    AdmitMessage {
        ip: IpAddr,
        windows: Vec<(u32, Duration)>,
        reply: oneshot::Sender<bool>,
    },
    Greylist {
        ip: IpAddr,
        sender: String,
        rcpt: String,
        retry_after: Duration,
        reply: oneshot::Sender<bool>,
    },
}

/// A handle on one server's client memory.
#[derive(Clone, Debug)]
pub(crate) struct Clients {
    tx: mpsc::UnboundedSender<Request>,
}

/// One open connection, counted until it is dropped.
#[derive(Debug)]
pub(crate) struct ConnectionSlot {
    ip: IpAddr,
    tx: mpsc::UnboundedSender<Request>,
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let _ = self.tx.send(Request::Closed(self.ip));
    }
}

impl Clients {
    /// Starts the owning task; call inside a Tokio runtime.
    pub(crate) fn spawn() -> Clients {
        // Unbounded, but bounded by construction: a session has at most one request in
        // flight that it waits for, plus its opened and closed notes (the closed note is
        // sent from `Drop`, which cannot wait, hence no bound on the channel type). Each
        // request is a map update here, so the queue holds about one note per connection
        // opened or closed since this task last ran.
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(rx));
        Clients { tx }
    }

    /// Counts a connection from `ip` until the slot is dropped.
    pub(crate) fn opened(&self, ip: IpAddr) -> ConnectionSlot {
        let _ = self.tx.send(Request::Opened(ip));
        ConnectionSlot {
            ip,
            tx: self.tx.clone(),
        }
    }

    /// Connections open from `ip` now (notes sent before this one included).
    pub(crate) async fn open_connections(&self, ip: IpAddr) -> u32 {
        let (reply, answer) = oneshot::channel();
        let _ = self.tx.send(Request::OpenConnections { ip, reply });
        answer.await.unwrap_or(0)
    }

    /// Whether one more message from `ip` is within every window (then it is counted).
    pub(crate) async fn admit_message(&self, ip: IpAddr, windows: Vec<(u32, Duration)>) -> bool {
        let (reply, answer) = oneshot::channel();
        let _ = self.tx.send(Request::AdmitMessage { ip, windows, reply });
        answer.await.unwrap_or(true)
    }

    /// Whether this RCPT passes the greylist (its triple recorded if new).
    pub(crate) async fn greylist_passes(
        &self,
        ip: IpAddr,
        sender: &str,
        rcpt: &str,
        retry_after: Duration,
    ) -> bool {
        let (reply, answer) = oneshot::channel();
        let _ = self.tx.send(Request::Greylist {
            ip,
            sender: sender.to_string(),
            rcpt: rcpt.to_string(),
            retry_after,
            reply,
        });
        answer.await.unwrap_or(true)
    }
}

async fn run(mut rx: mpsc::UnboundedReceiver<Request>) {
    let start = Instant::now();
    let mut connections = Connections::default();
    let mut windows = MessageWindows::default();
    let mut greylist = GreylistTable::default();
    while let Some(request) = rx.recv().await {
        match request {
            Request::Opened(ip) => connections.opened(ip),
            Request::Closed(ip) => connections.closed(ip),
            Request::OpenConnections { ip, reply } => {
                let _ = reply.send(connections.open(ip));
            }
            Request::AdmitMessage {
                ip,
                windows: limits,
                reply,
            } => {
                let _ = reply.send(windows.admit(ip, &limits, start.elapsed()));
            }
            Request::Greylist {
                ip,
                sender,
                rcpt,
                retry_after,
                reply,
            } => {
                let passes = greylist.passes(ip, &sender, &rcpt, retry_after, start.elapsed());
                let _ = reply.send(passes);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn remembers_across_sessions_in_order() {
        let clients = Clients::spawn();
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let a = clients.opened(ip);
        let b = clients.opened(ip);
        assert_eq!(clients.open_connections(ip).await, 2);
        drop(a);
        assert_eq!(clients.open_connections(ip).await, 1);
        drop(b);
        assert_eq!(clients.open_connections(ip).await, 0);

        let one_per_minute = vec![(1, Duration::from_secs(60))];
        assert!(clients.admit_message(ip, one_per_minute.clone()).await);
        assert!(!clients.admit_message(ip, one_per_minute.clone()).await);

        let wait = Duration::from_secs(30);
        assert!(!clients.greylist_passes(ip, "a@x", "b@y", wait).await);
        tokio::time::advance(Duration::from_secs(31)).await;
        assert!(clients.greylist_passes(ip, "a@x", "b@y", wait).await);
        tokio::time::advance(Duration::from_secs(30)).await;
        assert!(clients.admit_message(ip, one_per_minute).await);
    }
}
