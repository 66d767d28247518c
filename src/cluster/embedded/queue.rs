//! What a node's queue policy decides, and the interface both designs implement.
//!
//! A policy is pure bookkeeping over entry ids and instants: it is told what arrived and
//! how each delivery attempt went, and answers which deliveries to start now and when to
//! wake up next. The node (`node.rs`) executes its decisions, so policies are tested
//! without sockets or real time.

use std::time::Duration;

use tokio::time::Instant;

/// One queued (message, destination) pair.
pub type EntryId = u64;

/// Start one connection to `dest` carrying these entries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dispatch {
    pub dest: String,
    pub entries: Vec<EntryId>,
}

/// How one dispatched connection went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttemptResult {
    /// No session could be opened (refused, reset, timeout before or at the banner):
    /// counts toward dead-destination detection. Every entry is deferred.
    ConnectFailed,
    /// A session was opened; each entry was delivered, deferred (4xx, or the session
    /// broke) or failed for good (5xx: the node bounces it).
    Done {
        delivered: Vec<EntryId>,
        deferred: Vec<EntryId>,
        failed: Vec<EntryId>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attempt {
    pub dest: String,
    /// The entries that were dispatched (for ConnectFailed).
    pub entries: Vec<EntryId>,
    pub result: AttemptResult,
}

/// Retry timing shared by both designs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    pub min_backoff: Duration,
    pub max_backoff: Duration,
    /// Deferred mail older than this is given up (bounced) at its next deferral.
    pub max_lifetime: Duration,
}

impl RetryPolicy {
    /// Delay before attempt number `attempts + 1`: min, 2·min, 4·min … capped at max.
    pub fn backoff(&self, attempts: u32) -> Duration {
        let factor = 1u32 << attempts.saturating_sub(1).min(16);
        (self.min_backoff * factor).min(self.max_backoff)
    }
}

/// A queue design.
pub trait QueuePolicy: Send {
    /// A new entry for `dest` arrived (queued at `arrival`).
    fn enqueue(&mut self, id: EntryId, dest: &str, arrival: Instant);
    /// Deliveries to start now.
    fn dispatch(&mut self, now: Instant) -> Vec<Dispatch>;
    /// A dispatched delivery finished. Returns entries that expired while being deferred
    /// (older than the maximum lifetime): the node bounces them.
    fn report(&mut self, attempt: Attempt, now: Instant) -> Vec<EntryId>;
    /// When `dispatch` may have something new to do without any other input.
    fn next_wakeup(&self) -> Option<Instant>;
    /// Entries held (queued, deferred or in flight).
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Bookkeeping both designs share: each entry's destination, age and attempts, and the
/// deferred entries ordered by when they are due again.
pub struct Book {
    pub retry: RetryPolicy,
    entries: std::collections::HashMap<EntryId, EntryState>,
    deferred: std::collections::BinaryHeap<std::cmp::Reverse<(Instant, EntryId)>>,
}

struct EntryState {
    dest: String,
    arrival: Instant,
    attempts: u32,
}

impl Book {
    pub fn new(retry: RetryPolicy) -> Self {
        Book {
            retry,
            entries: Default::default(),
            deferred: Default::default(),
        }
    }

    pub fn add(&mut self, id: EntryId, dest: &str, arrival: Instant) {
        self.entries.insert(
            id,
            EntryState {
                dest: dest.to_string(),
                arrival,
                attempts: 0,
            },
        );
    }

    pub fn dest(&self, id: EntryId) -> Option<&str> {
        self.entries.get(&id).map(|e| e.dest.as_str())
    }

    pub fn remove(&mut self, id: EntryId) {
        self.entries.remove(&id);
    }

    /// Defers `id` after a failed attempt, until `until` if given, else by its backoff.
    /// Returns `Some(id)` instead if it outlived the maximum lifetime (removed: bounce it).
    pub fn defer(&mut self, id: EntryId, now: Instant, until: Option<Instant>) -> Option<EntryId> {
        let retry = self.retry;
        let e = self.entries.get_mut(&id)?;
        e.attempts += 1;
        if now.saturating_duration_since(e.arrival) >= retry.max_lifetime {
            self.entries.remove(&id);
            return Some(id);
        }
        let due = until.unwrap_or(now + retry.backoff(e.attempts));
        self.deferred.push(std::cmp::Reverse((due, id)));
        None
    }

    /// Deferred entries due by `now`, oldest due first.
    pub fn take_due(&mut self, now: Instant) -> Vec<EntryId> {
        let mut due = Vec::new();
        while let Some(std::cmp::Reverse((at, id))) = self.deferred.peek().copied() {
            if at > now {
                break;
            }
            self.deferred.pop();
            if self.entries.contains_key(&id) {
                due.push(id);
            }
        }
        due
    }

    pub fn next_due(&self) -> Option<Instant> {
        self.deferred.peek().map(|r| r.0 .0)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let p = RetryPolicy {
            min_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(8),
            max_lifetime: Duration::from_secs(60),
        };
        let got: Vec<u64> = (1..=6).map(|a| p.backoff(a).as_secs()).collect();
        assert_eq!(got, [1, 2, 4, 8, 8, 8]);
    }
}
