//! The ledger: one compact record per generated message, indexed by sequence number.
//!
//! Times are milliseconds since load start (`t0`) in `u32` (49 days of range), so a
//! record stays small (DESIGN §3: ≤ 64 bytes a message; this one is 40). Everything the
//! checks need is derived from these records plus a few counters.

/// "Never happened" for a time field.
pub const NEVER: u32 = u32::MAX;
/// "Unknown" for a node index.
pub const NO_NODE: u8 = u8::MAX;

/// Message state flags (bits of [`MessageRecord::flags`]).
pub mod flag {
    /// The cluster answered 250 to the final dot.
    pub const ACCEPTED: u8 = 1;
    /// The cluster answered 4xx/5xx during submission.
    pub const REJECTED: u8 = 1 << 1;
    /// Submission failed without a reply (connect refused, timeout, closed).
    pub const SUBMIT_FAILED: u8 = 1 << 2;
    /// A bounce (DSN) for it reached the bounce remote.
    pub const BOUNCED: u8 = 1 << 3;
    /// The generator scheduled it (it exists).
    pub const SUBMITTED: u8 = 1 << 4;
    /// It (or its bounce) reached a remote that does not serve its domain.
    pub const MISROUTED: u8 = 1 << 5;
}

/// What is known about one message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MessageRecord {
    /// When the generator intended to send it (open model: latency counts from here).
    pub intended_ms: u32,
    /// When the cluster accepted it (reply to the final dot), or [`NEVER`].
    pub accepted_ms: u32,
    /// When its last recipient arrived at a remote, or [`NEVER`] until all did.
    pub delivered_ms: u32,
    /// When a bounce for it arrived, or [`NEVER`].
    pub bounced_ms: u32,
    /// Recipients that arrived (bit n = recipient n).
    pub delivered_mask: u64,
    /// Index into [`Ledger::domains`].
    pub domain: u16,
    /// RCPT attempts seen at remotes, any outcome.
    pub attempts: u16,
    /// Extra copies delivered (a recipient arriving again).
    pub duplicates: u16,
    /// Index into [`Ledger::nodes`] of the node that accepted it (banner host name).
    pub accepted_node: u8,
    /// Index into [`Ledger::nodes`] of the node that relayed it (top `Received: by`).
    pub delivered_node: u8,
    /// Number of recipients (1..=64).
    pub rcpts: u8,
    /// [`flag`] bits.
    pub flags: u8,
}

impl Default for MessageRecord {
    fn default() -> Self {
        MessageRecord {
            intended_ms: 0,
            accepted_ms: NEVER,
            delivered_ms: NEVER,
            bounced_ms: NEVER,
            delivered_mask: 0,
            domain: 0,
            attempts: 0,
            duplicates: 0,
            accepted_node: NO_NODE,
            delivered_node: NO_NODE,
            rcpts: 1,
            flags: 0,
        }
    }
}

impl MessageRecord {
    pub fn is(&self, f: u8) -> bool {
        self.flags & f != 0
    }
    pub fn accepted(&self) -> bool {
        self.is(flag::ACCEPTED)
    }
    pub fn bounced(&self) -> bool {
        self.is(flag::BOUNCED)
    }
    /// It, or its bounce, reached a remote that does not serve its domain.
    pub fn misrouted(&self) -> bool {
        self.is(flag::MISROUTED)
    }
    /// Every recipient arrived.
    pub fn delivered(&self) -> bool {
        self.delivered_ms != NEVER
    }
    /// Some recipient arrived.
    pub fn partly_delivered(&self) -> bool {
        self.delivered_mask != 0
    }
    /// Accepted and neither fully delivered nor bounced.
    pub fn outstanding(&self) -> bool {
        self.accepted() && !self.delivered() && !self.bounced()
    }
    /// Delivery latency (accepted → last recipient arrived), if both happened.
    pub fn delivery_latency_ms(&self) -> Option<u32> {
        (self.accepted() && self.delivered())
            .then(|| self.delivered_ms.saturating_sub(self.accepted_ms))
    }
    /// Submit latency (intended send → accepted), if accepted.
    pub fn submit_latency_ms(&self) -> Option<u32> {
        self.accepted()
            .then(|| self.accepted_ms.saturating_sub(self.intended_ms))
    }
    /// Mask with one bit per recipient.
    pub fn all_rcpts_mask(&self) -> u64 {
        if self.rcpts >= 64 {
            u64::MAX
        } else {
            (1u64 << self.rcpts) - 1
        }
    }
}

/// Per-remote counters.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RemoteCounters {
    pub connections: u64,
    pub rcpts: u64,
    pub messages: u64,
    pub rejected: u64,
    pub faults_fired: u64,
    /// RCPTs it refused with `550 5.7.1` because their domain is not its own (absent
    /// from ledgers saved before it was counted).
    #[serde(default)]
    pub relay_denied: u64,
}

/// Everything measured in a run.
#[derive(Clone, Debug, Default)]
pub struct Ledger {
    /// The run's id (first part of every tracking id).
    pub run_id: String,
    /// Load start, microseconds since the Unix epoch.
    pub t0_us: u64,
    /// When measurement stopped, ms since t0.
    pub end_ms: u32,
    /// Index = sequence number.
    pub records: Vec<MessageRecord>,
    /// Domain names, indexed by [`MessageRecord::domain`].
    pub domains: Vec<String>,
    /// Node names (host names), indexed by the node fields of [`MessageRecord`].
    pub nodes: Vec<String>,
    /// Messages the load shape called for but no session was free to send (back-pressure).
    pub shortfall: u64,
    /// Messages seen at remotes that belong to no message of this run.
    pub foreign: u64,
    /// Per remote name.
    pub remotes: std::collections::BTreeMap<String, RemoteCounters>,
    /// Reply codes the cluster gave the generator for messages it did not accept: (code, count).
    pub submit_rejections: std::collections::BTreeMap<u16, u64>,
    /// Queue probe samples, in time order.
    pub queue: Vec<QueueRecord>,
    /// Probe samples that failed (the command errored or timed out): (ms since t0,
    /// index into [`Ledger::nodes`]), in time order.
    pub probe_failures: Vec<(u32, u8)>,
    /// Polls of the Prometheus servers `alert` checks read, in time order.
    pub alert_polls: Vec<super::alerts::AlertPoll>,
    /// Remote name → the lower-case domains it serves (from the plan; not saved). Empty:
    /// routing is not checked.
    pub served: std::collections::BTreeMap<String, Vec<String>>,
    /// Remote reached → domain → messages that reached it though it does not serve
    /// their domain (each message counted once, at the first wrong remote it reached).
    pub misrouted: std::collections::BTreeMap<String, std::collections::BTreeMap<String, u64>>,
    /// The plan's remote-fault windows, in plan order, with how often each fired
    /// (`collector/fired.rs`). Empty in ledgers saved before it was counted.
    pub fault_windows: Vec<FiredWindow>,
    /// Each message's delivery attempts and other events, bounded (`attempts.bin`;
    /// not in `ledger.bin`: the checks do not need it).
    pub attempts: super::attempts::AttemptLog,
    /// Fault changes the remotes reported, in time order (`fault_log.rs`).
    pub fault_changes: Vec<super::fault_log::FaultChange>,
    /// Whose messages these are: every one, or one shard's (`mailquake run --shard`).
    pub part: crate::tracking::Part,
}

/// One remote-fault window of the timeline and how often the fault acted in it.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FiredWindow {
    pub remote: String,
    /// The fault's kind (`refuse`, `tls`, …).
    pub fault: String,
    /// ms since t0.
    pub start_ms: u32,
    /// ms since t0; [`NEVER`]: until the end of the run.
    pub end_ms: u32,
    /// `FaultFired` events the remote reported in the window.
    pub fired: u64,
}

/// One queue probe sample of one node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueRecord {
    /// ms since t0.
    pub at_ms: u32,
    /// Index into [`Ledger::nodes`].
    pub node: u8,
    /// Messages the node holds.
    pub total: u32,
    /// (index into [`Ledger::domains`], messages with recipients there still to deliver).
    pub by_domain: Vec<(u16, u32)>,
}

impl Ledger {
    /// Index of a domain name, added if new.
    pub fn domain_index(&mut self, name: &str) -> u16 {
        intern(&mut self.domains, name) as u16
    }
    /// Index of a node name, added if new (at most 254 nodes are told apart).
    pub fn node_index(&mut self, name: &str) -> u8 {
        let i = intern(&mut self.nodes, name);
        if i >= NO_NODE as usize {
            NO_NODE
        } else {
            i as u8
        }
    }
    pub fn domain_name(&self, i: u16) -> &str {
        self.domains
            .get(i as usize)
            .map(String::as_str)
            .unwrap_or("?")
    }
    pub fn node_name(&self, i: u8) -> &str {
        self.nodes
            .get(i as usize)
            .map(String::as_str)
            .unwrap_or("?")
    }
    /// The tracking id of message `seq`.
    pub fn tracking_id(&self, seq: usize) -> String {
        format!("{}.{}", self.run_id, seq)
    }
    /// Accepted messages not yet delivered nor bounced.
    pub fn outstanding(&self) -> usize {
        self.records.iter().filter(|r| r.outstanding()).count()
    }
}

/// Index of `name` in `names` (case-insensitive), added if new.
pub(super) fn intern(names: &mut Vec<String>, name: &str) -> usize {
    match names.iter().position(|n| n.eq_ignore_ascii_case(name)) {
        Some(i) => i,
        None => {
            names.push(name.to_string());
            names.len() - 1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_is_compact() {
        assert!(std::mem::size_of::<MessageRecord>() <= 64);
        assert_eq!(std::mem::size_of::<MessageRecord>(), 40);
    }

    #[test]
    fn rcpt_masks() {
        for (n, mask) in [(1u8, 1u64), (3, 7), (64, u64::MAX)] {
            let r = MessageRecord {
                rcpts: n,
                ..Default::default()
            };
            assert_eq!(r.all_rcpts_mask(), mask);
        }
    }
}
