//! Where an accepted message goes: the [`MessageSink`] a server hands each complete
//! message to after the final dot. A fake remote counts it ([`CountingSink`]); an
//! embedded-cluster node queues it for relay.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};

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

/// An SMTP reply a fake remote (or a [`MessageSink`]) sends: code and text (the text may
/// hold the enhanced status code).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteReply {
    pub code: u16,
    pub text: String,
}

impl RemoteReply {
    pub fn new(code: u16, text: impl Into<String>) -> Self {
        RemoteReply {
            code,
            text: text.into(),
        }
    }
}

/// Takes a complete message (body dot-unstuffed, without the final `.`) and answers the dot.
pub trait MessageSink: Clone + Send + Sync + 'static {
    fn deliver(&self, envelope: Envelope, body: Bytes) -> impl Future<Output = RemoteReply> + Send;
}

/// The fake remote's sink: reports each message as a [`crate::RemoteEventKind::Message`]
/// event (tracking id and `Received:` hosts extracted) and answers 250 — except a message
/// to an [`crate::REJECT_PREFIX`] recipient, which it answers 550 (the session reports
/// that as `Rejected`).
#[derive(Clone, Debug)]
pub struct CountingSink {
    pub name: String,
    pub events: tokio::sync::mpsc::Sender<crate::RemoteEvent>,
}

/// Queue ids of accepted messages, unique within the process.
static QUEUED: AtomicU64 = AtomicU64::new(1);

impl MessageSink for CountingSink {
    async fn deliver(&self, envelope: Envelope, body: Bytes) -> RemoteReply {
        if envelope.rcpts.iter().any(|r| crate::is_reject_address(r)) {
            return RemoteReply::new(
                550,
                "5.1.1 Recipient address rejected: mq-reject. addresses never exist",
            );
        }
        let facts = crate::headers::scan(&body);
        // Waits while the channel is full: the dot is answered once the message is
        // counted (back-pressure on the client, never a lost event).
        let _ = self
            .events
            .send(crate::RemoteEvent {
                at_us: crate::event::now_us(),
                remote: self.name.clone(),
                kind: crate::RemoteEventKind::Message {
                    mail_from: envelope.mail_from,
                    rcpts: envelope.rcpts,
                    tracking: facts.tracking,
                    received_by: facts.received_by,
                    size: body.len(),
                },
            })
            .await;
        let id = QUEUED.fetch_add(1, Ordering::Relaxed);
        RemoteReply::new(250, format!("2.0.0 Ok: queued as {id:X}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RemoteEventKind;

    #[tokio::test]
    async fn counting_sink_reports_the_message_and_answers_250() {
        let (tx, mut rx) = tokio::sync::mpsc::channel(1);
        let sink = CountingSink {
            name: "ok".into(),
            events: tx,
        };
        let envelope = Envelope {
            helo: "client.test".into(),
            peer: "127.0.0.1:1".parse().unwrap(),
            mail_from: "mq.1@bounces.test".into(),
            rcpts: vec!["mq.1.0@ok.test".into()],
        };
        let body = Bytes::from_static(
            b"Received: from c\r\n by node1.test; now\r\nX-Mailquake-Id: r.1\r\n\r\nhi\r\n",
        );
        let reply = sink.deliver(envelope, body.clone()).await;
        assert_eq!(reply.code, 250);
        assert!(reply.text.starts_with("2.0.0 Ok: queued as "), "{reply:?}");
        let event = rx.try_recv().expect("one event");
        assert_eq!(event.remote, "ok");
        assert_eq!(
            event.kind,
            RemoteEventKind::Message {
                mail_from: "mq.1@bounces.test".into(),
                rcpts: vec!["mq.1.0@ok.test".into()],
                tracking: Some("r.1".into()),
                received_by: vec!["node1.test".into()],
                size: body.len(),
            }
        );
    }

    #[tokio::test]
    async fn a_reject_recipient_gets_550_and_no_message_event() {
        let (tx, mut rx) = tokio::sync::mpsc::channel(64);
        let sink = CountingSink {
            name: "ok".into(),
            events: tx,
        };
        for rcpt in ["mq-reject.r1@ok.test", "MQ-Reject.x@ok.test"] {
            let envelope = Envelope {
                helo: "client.test".into(),
                peer: "127.0.0.1:1".parse().unwrap(),
                mail_from: "mq-canary.r1.b@bounces.test".into(),
                rcpts: vec!["mq.1.0@ok.test".into(), rcpt.into()],
            };
            let reply = sink
                .deliver(envelope, Bytes::from_static(b"\r\nhi\r\n"))
                .await;
            assert_eq!(reply.code, 550, "{rcpt}");
        }
        assert!(rx.try_recv().is_err());
        assert!(!crate::is_reject_address("mq.1.0@ok.test"));
        assert!(crate::is_reject_address("<mq-reject.a@b>"));
    }
}
