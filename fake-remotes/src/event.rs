//! What a fake remote reports: one event per thing that happened on the wire.
//!
//! Events are `Serialize + Deserialize` so a remote can run in another process (or on
//! another host) and stream them to mailquake's collector as JSON lines.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use crate::Stage;

/// Capacity of every channel of [`RemoteEvent`]s (servers → whoever owns the state).
/// When it is full a session waits to report: back-pressure on the SMTP client, seen
/// as slower replies (shortfall, latency), never a lost event. 16,384 events is about a
/// second of a 5,000 msg/s flood (three events a message) and, at a few hundred bytes
/// an event with its strings, at most ~6 MB held.
pub const CHANNEL_CAPACITY: usize = 16_384;

/// One observation by a remote (or an embedded-cluster node acting as a server).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RemoteEvent {
    /// Wall-clock time, microseconds since the Unix epoch.
    pub at_us: u64,
    /// The remote's name in the scenario.
    pub remote: String,
    pub kind: RemoteEventKind,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum RemoteEventKind {
    /// A TCP connection was accepted (whatever happens to it next).
    Connected { peer: SocketAddr },
    /// A RCPT TO was answered: one delivery attempt for that recipient.
    Rcpt { rcpt: String, code: u16 },
    /// A RCPT was refused (550 5.7.1) because its domain is not one this server serves:
    /// the cluster sent it to the wrong remote. Follows the `Rcpt` event of the attempt.
    RelayDenied { rcpt: String },
    /// A message was accepted at the final dot (250).
    Message {
        mail_from: String,
        /// Accepted recipients of this transaction.
        rcpts: Vec<String>,
        /// The `X-Mailquake-Id` header, if present.
        tracking: Option<String>,
        /// Host names from the `by` part of each `Received:` header, newest first.
        received_by: Vec<String>,
        /// Body size in bytes, after dot-unstuffing.
        size: usize,
    },
    /// A transaction ended with a non-2xx reply at DATA or at the final dot.
    Rejected {
        stage: Stage,
        code: u16,
        rcpts: Vec<String>,
        tracking: Option<String>,
    },
    /// A fault acted on this session.
    FaultFired {
        fault: String,
        stage: Stage,
        /// Recipients known so far in the transaction (mailquake's tracking lives there).
        rcpts: Vec<String>,
    },
    /// The lease on faults set through the control API ran out without being renewed
    /// (the run that set them is gone): the remote healed itself.
    LeaseExpired {
        /// The kinds of the faults lifted.
        faults: Vec<String>,
        /// The lease's length, in milliseconds.
        lease_ms: u64,
    },
    /// The faults in force on this remote changed (logged by a served remote's control
    /// task, whoever changed them), so a run can record faults set by hand too.
    FaultChanged {
        /// The kinds of the faults now in force (empty: healed).
        faults: Vec<String>,
        source: FaultSource,
    },
}

/// What changed a served remote's faults.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultSource {
    /// The served scenario's own `faults` timeline.
    Timeline,
    /// `PUT`/`DELETE /remotes/NAME/fault` or `POST /reset` on the control API (a run
    /// attached to it, a person, another tool).
    Api,
    /// A lease on faults set through the API ran out.
    Lease,
}

impl FaultSource {
    /// As the JSON writes it: `timeline`, `api`, `lease`.
    pub fn as_str(self) -> &'static str {
        match self {
            FaultSource::Timeline => "timeline",
            FaultSource::Api => "api",
            FaultSource::Lease => "lease",
        }
    }
}

/// Microseconds since the Unix epoch, now.
pub fn now_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}
