//! The collector: one task that owns all measured state (the [`Ledger`]). Every other
//! stage reports [`Event`]s to it on channels; nothing else touches the ledger. Others
//! ask for a [`Progress`] snapshot or, at the end, for the ledger itself.
//!
//! A shard's collector (`ledger.part`, shard I of N) sees every message the remotes
//! see; it keeps its own shard's (`seq % N == I`) and leaves the others' to their
//! shards, without counting them as foreign.

mod attempt_events;
pub mod attempts;
pub mod event;
pub mod fault_log;
mod fired;
pub mod framed;
pub mod ledger;
mod routing;

pub use event::Event;
pub use fired::fault_windows;
pub use ledger::{Ledger, MessageRecord};

use fake_remotes::{RemoteEvent, RemoteEventKind};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

use crate::scenario::BOUNCE_DOMAIN;
use crate::tracking::{is_canary, parse_rcpt, parse_tracking, parse_verp};
use ledger::{flag, NEVER};

/// Running totals, cheap to copy (live progress, settle decisions).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    pub submitted: u64,
    pub accepted: u64,
    pub not_accepted: u64,
    pub shortfall: u64,
    pub delivered: u64,
    pub bounced: u64,
    /// Accepted, neither delivered nor bounced yet.
    pub outstanding: u64,
    pub duplicates: u64,
    /// Messages (or their bounces) that reached a remote not serving their domain
    /// (`collector/routing.rs`; absent from ledgers saved before it was counted).
    #[serde(default)]
    pub misrouted: u64,
    /// Messages the probed nodes hold, by their latest samples (0 without probes).
    pub queued: u64,
    /// What they held at their first samples (their baseline).
    pub queued_at_start: u64,
}

/// Requests to the collector task.
pub enum Request {
    Progress(oneshot::Sender<Progress>),
    /// A look at the ledger as measured so far (its `end_ms` set to now), run on the
    /// collector's own task — the live view's figures and checks so far — so nothing else
    /// ever holds the ledger. Kept short: the stages wait meanwhile.
    Look(Box<dyn FnOnce(&Ledger, &Progress) + Send>),
    /// Stop at `end_ms` (ms since t0) and hand over the ledger.
    Finish {
        end_ms: u32,
        reply: oneshot::Sender<(Ledger, Progress)>,
    },
}

/// The ledger and its running totals, updated one event at a time.
pub struct Collector {
    pub ledger: Ledger,
    pub progress: Progress,
    /// Node index → (first, latest) queue depth sampled.
    queue_depths: std::collections::BTreeMap<u8, (u32, u32)>,
    /// Changes to messages of this run that came before their `Submitted`: the remotes'
    /// events travel apart from the generator's (over HTTP, or behind the lost-target
    /// watch), so a fast delivery can overtake its own submission. Applied when it comes;
    /// what is left at the end is foreign.
    early: Vec<(u64, EarlyChange)>,
    /// The same for misrouted mail: (message, remote reached, domain).
    early_misrouted: Vec<(u64, String, String)>,
}

/// A change to a record, kept until the record exists.
type EarlyChange = Box<dyn FnOnce(&mut MessageRecord, &mut Progress) + Send>;

/// At most this many early changes are kept (a reordering spans a few messages in
/// flight; beyond it they are counted foreign at once).
const MAX_EARLY: usize = 100_000;

impl Collector {
    pub fn new(ledger: Ledger) -> Self {
        Collector {
            ledger,
            progress: Progress::default(),
            queue_depths: Default::default(),
            early: Vec::new(),
            early_misrouted: Vec::new(),
        }
    }

    fn ms(&self, at_us: u64) -> u32 {
        (at_us.saturating_sub(self.ledger.t0_us) / 1000).min(NEVER as u64 - 1) as u32
    }

    /// Applies `change` to record `seq` and keeps the totals in step; a change for a
    /// message not yet submitted waits in `early`.
    fn update(
        &mut self,
        seq: u64,
        change: impl FnOnce(&mut MessageRecord, &mut Progress) + Send + 'static,
    ) {
        // Another shard's message (`tracking::Part`): that shard keeps it; not foreign.
        if !self.ledger.part.owns(seq) || self.is_submitted(seq) {
            self.update_now(seq, change);
        } else if self.early.len() < MAX_EARLY {
            // Before its submission (see `early`), or not this run's after all.
            self.early.push((seq, Box::new(change)));
        } else {
            self.ledger.foreign += 1;
        }
    }

    fn is_submitted(&self, seq: u64) -> bool {
        self.ledger
            .records
            .get(seq as usize)
            .is_some_and(|r| r.is(flag::SUBMITTED))
    }

    /// Applies `change` to record `seq` if it was submitted (another shard's is left
    /// alone); `false` (nothing done) otherwise.
    fn update_now(
        &mut self,
        seq: u64,
        change: impl FnOnce(&mut MessageRecord, &mut Progress),
    ) -> bool {
        if !self.ledger.part.owns(seq) {
            return true;
        }
        let Some(rec) = self.ledger.records.get_mut(seq as usize) else {
            return false;
        };
        if !rec.is(flag::SUBMITTED) {
            return false;
        }
        let was = rec.outstanding();
        change(rec, &mut self.progress);
        match (was, rec.outstanding()) {
            (false, true) => self.progress.outstanding += 1,
            (true, false) => self.progress.outstanding -= 1,
            _ => {}
        }
        true
    }

    pub fn apply(&mut self, event: Event) {
        match event {
            Event::Submitted {
                seq,
                domain,
                rcpts,
                intended_us,
            } => {
                let i = seq as usize;
                if i >= self.ledger.records.len() {
                    self.ledger.records.resize(i + 1, MessageRecord::default());
                }
                let intended_ms = self.ms(intended_us);
                self.ledger.records[i] = MessageRecord {
                    intended_ms,
                    domain,
                    rcpts: rcpts.clamp(1, 64),
                    flags: flag::SUBMITTED,
                    ..MessageRecord::default()
                };
                self.progress.submitted += 1;
                if self.early.iter().any(|(s, _)| *s == seq) {
                    let (now, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.early)
                        .into_iter()
                        .partition(|(s, _)| *s == seq);
                    self.early = later;
                    for (_, change) in now {
                        self.update(seq, change);
                    }
                }
                if self.early_misrouted.iter().any(|(s, ..)| *s == seq) {
                    let (now, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.early_misrouted)
                        .into_iter()
                        .partition(|(s, ..)| *s == seq);
                    self.early_misrouted = later;
                    for (_, remote, domain) in now {
                        self.misroute_now(seq, &remote, domain);
                    }
                }
            }
            Event::Accepted { seq, at_us, node } => {
                let at = self.ms(at_us);
                let node = self.ledger.node_index(&node);
                self.update(seq, move |r, p| {
                    if !r.accepted() {
                        r.flags |= flag::ACCEPTED;
                        r.accepted_ms = at;
                        r.accepted_node = node;
                        p.accepted += 1;
                    }
                });
            }
            Event::NotAccepted {
                seq,
                code,
                at_us,
                phase,
            } => {
                let at = self.ms(at_us);
                self.log_not_accepted(seq, at, code, phase);
                *self
                    .ledger
                    .submit_rejections
                    .entry(code.unwrap_or(0))
                    .or_default() += 1;
                self.update(seq, move |r, p| {
                    r.flags |= if code.is_some() {
                        flag::REJECTED
                    } else {
                        flag::SUBMIT_FAILED
                    };
                    p.not_accepted += 1;
                });
            }
            Event::Shortfall { count } => {
                self.ledger.shortfall += count;
                self.progress.shortfall += count;
            }
            Event::Remote(e) => self.apply_remote(e),
            Event::QueueSample { node, at_us, depth } => {
                let at_ms = self.ms(at_us);
                let node = self.ledger.node_index(&node);
                let Some(depth) = depth else {
                    self.ledger.probe_failures.push((at_ms, node));
                    return;
                };
                let by_domain = depth
                    .by_domain
                    .iter()
                    .map(|(d, n)| (self.ledger.domain_index(d), *n))
                    .collect();
                let depths = self
                    .queue_depths
                    .entry(node)
                    .or_insert((depth.total, depth.total));
                depths.1 = depth.total;
                self.progress.queued = self.queue_depths.values().map(|d| u64::from(d.1)).sum();
                self.progress.queued_at_start =
                    self.queue_depths.values().map(|d| u64::from(d.0)).sum();
                self.ledger.queue.push(ledger::QueueRecord {
                    at_ms,
                    node,
                    total: depth.total,
                    by_domain,
                });
            }
        }
    }

    fn apply_remote(&mut self, event: RemoteEvent) {
        // The routing preflight's canaries (a late copy of one) count nowhere.
        if is_canary_event(&event.kind) {
            return;
        }
        let at = self.ms(event.at_us);
        if let RemoteEventKind::FaultChanged { faults, source } = event.kind {
            self.ledger.fault_changes.push(fault_log::FaultChange {
                at_ms: at,
                remote: event.remote,
                faults,
                source,
            });
            return;
        }
        self.log_remote(&event, at);
        let remote = event.remote;
        // The name is kept for misrouting; cloned only the first time a remote is seen.
        if !self.ledger.remotes.contains_key(&remote) {
            self.ledger
                .remotes
                .insert(remote.clone(), Default::default());
        }
        let Some(counters) = self.ledger.remotes.get_mut(&remote) else {
            return;
        };
        match event.kind {
            RemoteEventKind::Connected { .. } => counters.connections += 1,
            RemoteEventKind::Rejected { .. } => counters.rejected += 1,
            RemoteEventKind::FaultFired { .. } => {
                counters.faults_fired += 1;
                self.count_fired(&remote, at);
            }
            RemoteEventKind::RelayDenied { .. } => counters.relay_denied += 1,
            // A served remote healed itself because a run stopped renewing its lease:
            // about the remote, not this run's mail (it may well be another run's lease).
            RemoteEventKind::LeaseExpired { .. } => {}
            // Recorded above.
            RemoteEventKind::FaultChanged { .. } => {}
            RemoteEventKind::Rcpt { rcpt, .. } => {
                counters.rcpts += 1;
                if let Some((seq, _)) = parse_rcpt(&rcpt) {
                    self.update(seq, move |r, _| r.attempts = r.attempts.saturating_add(1));
                }
                if self.is_misrouted(&remote, &rcpt) {
                    self.mark_misrouted(&remote, &rcpt);
                }
            }
            RemoteEventKind::Message {
                rcpts,
                tracking,
                received_by,
                ..
            } => {
                counters.messages += 1;
                if let Some((run, _)) = tracking.as_deref().and_then(parse_tracking) {
                    if run != self.ledger.run_id {
                        self.ledger.foreign += 1;
                        return;
                    }
                }
                let node = received_by.first().map(|n| self.ledger.node_index(n));
                for rcpt in rcpts {
                    if self.is_misrouted(&remote, &rcpt) {
                        // Not delivered (nor bounced): it reached the wrong remote.
                        self.mark_misrouted(&remote, &rcpt);
                    } else if domain_is(&rcpt, BOUNCE_DOMAIN) {
                        if let Some(seq) = parse_verp(&rcpt) {
                            self.mark_bounced(seq, at);
                        }
                    } else if let Some((seq, n)) = parse_rcpt(&rcpt) {
                        self.mark_delivered(seq, n, at, node);
                    } else {
                        self.ledger.foreign += 1;
                    }
                }
            }
        }
    }

    /// The end: changes whose message was never submitted were not this run's mail.
    pub fn close_early(&mut self) {
        self.ledger.foreign += (self.early.len() + self.early_misrouted.len()) as u64;
        self.early.clear();
        self.early_misrouted.clear();
    }

    fn mark_delivered(&mut self, seq: u64, n: u8, at: u32, node: Option<u8>) {
        self.update(seq, move |r, p| {
            let bit = 1u64 << n.min(63);
            if r.delivered_mask & bit != 0 {
                r.duplicates = r.duplicates.saturating_add(1);
                p.duplicates += 1;
                return;
            }
            r.delivered_mask |= bit;
            if let Some(node) = node {
                r.delivered_node = node;
            }
            if r.delivered_mask & r.all_rcpts_mask() == r.all_rcpts_mask() && !r.delivered() {
                r.delivered_ms = at;
                p.delivered += 1;
            }
        });
    }

    fn mark_bounced(&mut self, seq: u64, at: u32) {
        self.update(seq, move |r, p| {
            if !r.bounced() {
                r.flags |= flag::BOUNCED;
                r.bounced_ms = at;
                p.bounced += 1;
            }
        });
    }
}

/// An event about a preflight canary: every recipient it names is a canary address, or
/// the address every fake remote rejects (the bounce canary's recipient).
pub fn is_canary_event(kind: &RemoteEventKind) -> bool {
    let rcpts = match kind {
        RemoteEventKind::Rcpt { rcpt, .. } | RemoteEventKind::RelayDenied { rcpt } => {
            std::slice::from_ref(rcpt)
        }
        RemoteEventKind::Message { rcpts, .. }
        | RemoteEventKind::Rejected { rcpts, .. }
        | RemoteEventKind::FaultFired { rcpts, .. } => rcpts.as_slice(),
        RemoteEventKind::Connected { .. }
        | RemoteEventKind::LeaseExpired { .. }
        | RemoteEventKind::FaultChanged { .. } => return false,
    };
    !rcpts.is_empty()
        && rcpts
            .iter()
            .all(|r| is_canary(r) || fake_remotes::is_reject_address(r))
}

fn domain_is(addr: &str, domain: &str) -> bool {
    addr.rsplit_once('@')
        .is_some_and(|(_, d)| d.eq_ignore_ascii_case(domain))
}

/// Capacity of the channel of [`Event`]s (generator and probes → collector). When it is
/// full the generator waits to report: its sessions slow down, which shows as shortfall
/// and latency, never as a lost record. Applying an event is a few field writes, so the
/// collector drains far faster than 5,000 msg/s fills it; 65,536 events (tens of bytes
/// each, ~3 MB at most) ride out a pause of several seconds. Remote events use
/// [`fake_remotes::event::CHANNEL_CAPACITY`].
pub const EVENTS_CAPACITY: usize = 65_536;

/// The collector task: applies events until asked to finish.
pub async fn run(
    ledger: Ledger,
    mut events: mpsc::Receiver<Event>,
    mut remote_events: mpsc::Receiver<RemoteEvent>,
    mut requests: mpsc::Receiver<Request>,
) -> Option<Ledger> {
    let mut c = Collector::new(ledger);
    loop {
        tokio::select! {
            biased;
            Some(e) = events.recv() => c.apply(e),
            Some(e) = remote_events.recv() => c.apply_remote(e),
            req = requests.recv() => match req {
                Some(Request::Progress(reply)) => { let _ = reply.send(c.progress); }
                Some(Request::Look(look)) => {
                    let measured_to = c.ledger.end_ms;
                    c.ledger.end_ms = c.ms(fake_remotes::event::now_us());
                    look(&c.ledger, &c.progress);
                    c.ledger.end_ms = measured_to;
                }
                Some(Request::Finish { end_ms, reply }) => {
                    // Take what is already queued: it happened before the end.
                    while let Ok(e) = events.try_recv() { c.apply(e); }
                    while let Ok(e) = remote_events.try_recv() { c.apply_remote(e); }
                    c.ledger.end_ms = end_ms;
                    c.close_early();
                    let _ = reply.send((c.ledger, c.progress));
                    return None;
                }
                None => {
                    c.close_early();
                    return Some(c.ledger);
                }
            },
        }
    }
}

#[cfg(test)]
mod tests;
