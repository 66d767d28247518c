//! Where an accepted message goes: the [`MessageSink`] a server hands each complete
//! message to after the final dot. A fake remote counts it ([`CountingSink`]); an
//! embedded-cluster node queues it for relay.

use std::future::Future;
use std::net::SocketAddr;

use bytes::Bytes;

/// The envelope of one transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    /// The client's EHLO/HELO argument.
    pub helo: String,
    pub peer: SocketAddr,
    /// Reverse path without angle brackets (empty for the null sender `<>`).
    pub mail_from: String,
    /// Accepted forward paths without angle brackets.
    pub rcpts: Vec<String>,
}

/// An SMTP reply: code and text (the text may hold the enhanced status code).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    pub text: String,
}

impl Reply {
    pub fn new(code: u16, text: impl Into<String>) -> Self {
        Reply { code, text: text.into() }
    }
}

/// Takes a complete message (body dot-unstuffed, without the final `.`) and answers the dot.
pub trait MessageSink: Clone + Send + Sync + 'static {
    fn deliver(&self, envelope: Envelope, body: Bytes) -> impl Future<Output = Reply> + Send;
}

/// The fake remote's sink: reports each message as a [`crate::RemoteEventKind::Message`]
/// event (tracking id and `Received:` hosts extracted) and answers 250.
#[derive(Clone, Debug)]
pub struct CountingSink {
    pub name: String,
    pub events: tokio::sync::mpsc::UnboundedSender<crate::RemoteEvent>,
}

impl MessageSink for CountingSink {
    async fn deliver(&self, envelope: Envelope, body: Bytes) -> Reply {
        let _ = (envelope, body);
        todo!("implemented by the fake-remotes work")
    }
}
