//! What the stages tell the collector.

use std::sync::Arc;

use fake_remotes::RemoteEvent;

use crate::smtp::Phase;

/// Queue contents at one moment: messages held, and per recipient domain the messages
/// with at least one recipient there still to deliver.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QueueDepth {
    pub total: u32,
    pub by_domain: Vec<(String, u32)>,
}

/// One observation for the ledger. Times are microseconds since the Unix epoch.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// The generator scheduled message `seq` (sent before it is submitted, so the record exists first).
    Submitted {
        seq: u64,
        domain: u16,
        rcpts: u8,
        intended_us: u64,
    },
    /// The cluster answered 2xx to the final dot.
    Accepted {
        seq: u64,
        at_us: u64,
        /// The accepting node's host name (from its banner).
        node: Arc<str>,
    },
    /// Submission ended without acceptance: a negative reply or a failure.
    NotAccepted {
        seq: u64,
        at_us: u64,
        phase: Phase,
        /// The reply code, if the cluster answered.
        code: Option<u16>,
    },
    /// The load shape called for messages no session was free to send.
    Shortfall { count: u64 },
    /// Something a fake remote saw.
    Remote(RemoteEvent),
    /// A queue probe's sample of one node (`None`: the probe failed this time).
    QueueSample {
        node: Arc<str>,
        at_us: u64,
        depth: Option<QueueDepth>,
    },
    /// A poll of the Prometheus an `alert` check reads (`Err`: why it failed).
    AlertPoll {
        prometheus: Arc<str>,
        at_us: u64,
        seen: Result<super::alerts::AlertsSeen, String>,
    },
}
