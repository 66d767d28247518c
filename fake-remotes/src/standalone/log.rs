//! The event log of a standalone server: every [`RemoteEvent`] gets a sequence number
//! and is kept, already serialized as one JSON line, in a bounded ring, so a client can
//! read from any cursor and resume where it stopped.
//!
//! Lines are serialized once, when the event arrives, and handed out as shared [`Bytes`],
//! so any number of readers costs no copy. Sequence numbers start at 1 and never go
//! back, not even when the log is cleared (a follower's cursor stays meaningful); a
//! reader learns that it missed events (the ring overflowed, or the log was cleared)
//! from [`Page::missed`] and from the gap in the numbers.

use std::collections::VecDeque;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::RemoteEvent;

/// How many events a log keeps by default (about 200 bytes each as JSON).
pub const DEFAULT_CAPACITY: usize = 1_000_000;

/// One line of `GET /events`: the event and its sequence number.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SequencedEvent {
    pub seq: u64,
    #[serde(flatten)]
    pub event: RemoteEvent,
}

/// A slice of the log after a cursor.
#[derive(Clone, Debug, Default)]
pub struct Page {
    /// JSON lines, each ending in `\n`, in sequence order.
    pub lines: Vec<Bytes>,
    /// Events after the cursor that are no longer kept (before the first line).
    pub missed: u64,
    /// The sequence number the next event will get: the cursor to resume from is `next - 1`.
    pub next: u64,
}

#[derive(Debug)]
pub struct EventLog {
    lines: VecDeque<Bytes>,
    /// Sequence number of `lines[0]` (or of the next event, when empty).
    first: u64,
    next: u64,
    capacity: usize,
    /// Events pushed out of the ring since start-up.
    dropped: u64,
}

impl EventLog {
    pub fn new(capacity: usize) -> EventLog {
        EventLog {
            lines: VecDeque::new(),
            first: 1,
            next: 1,
            capacity: capacity.max(1),
            dropped: 0,
        }
    }

    /// Numbers, serializes and keeps `event`, dropping the oldest if the ring is full.
    pub fn push(&mut self, event: RemoteEvent) {
        let line = SequencedEvent {
            seq: self.next,
            event,
        };
        let mut json = serde_json::to_vec(&line).unwrap_or_default();
        json.push(b'\n');
        self.next += 1;
        if self.lines.len() == self.capacity {
            self.lines.pop_front();
            self.first += 1;
            self.dropped += 1;
        }
        self.lines.push_back(Bytes::from(json));
    }

    /// Up to `limit` events with a sequence number above `after`.
    pub fn page(&self, after: u64, limit: usize) -> Page {
        let start = after.saturating_add(1).max(self.first);
        let skip = (start - self.first) as usize;
        Page {
            lines: self.lines.iter().skip(skip).take(limit).cloned().collect(),
            missed: self.first.saturating_sub(after.saturating_add(1)),
            next: self.next,
        }
    }

    /// Forgets every kept event; numbering goes on.
    pub fn clear(&mut self) {
        self.lines.clear();
        self.first = self.next;
    }

    /// The sequence number the next event will get.
    pub fn next(&self) -> u64 {
        self.next
    }

    /// The oldest sequence number still kept (equal to [`next`](Self::next) when empty).
    pub fn first(&self) -> u64 {
        self.first
    }

    /// Events pushed out of the full ring since start-up.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RemoteEventKind;

    fn event(n: u64) -> RemoteEvent {
        RemoteEvent {
            at_us: n,
            remote: "ok".into(),
            kind: RemoteEventKind::Connected {
                peer: "127.0.0.1:1".parse().unwrap(),
            },
        }
    }

    fn seqs(page: &Page) -> Vec<u64> {
        page.lines
            .iter()
            .map(|l| serde_json::from_slice::<SequencedEvent>(l).unwrap().seq)
            .collect()
    }

    #[test]
    fn pages_resume_from_a_cursor_and_lines_round_trip() {
        let mut log = EventLog::new(10);
        for n in 0..5 {
            log.push(event(n));
        }
        let page = log.page(0, 2);
        assert_eq!((seqs(&page), page.missed, page.next), (vec![1, 2], 0, 6));
        assert_eq!(seqs(&log.page(2, 100)), [3, 4, 5]);
        assert!(log.page(5, 100).lines.is_empty());
        let line: SequencedEvent = serde_json::from_slice(&page.lines[0]).unwrap();
        assert_eq!(line.event, event(0));
        assert!(page.lines[0].ends_with(b"}\n"));
    }

    #[test]
    fn a_full_ring_drops_the_oldest_and_says_how_many_were_missed() {
        let mut log = EventLog::new(3);
        for n in 0..5 {
            log.push(event(n));
        }
        let page = log.page(0, 100);
        assert_eq!((seqs(&page), page.missed), (vec![3, 4, 5], 2));
        assert_eq!(log.page(3, 100).missed, 0);
        assert_eq!(log.dropped(), 2);
    }

    #[test]
    fn clearing_keeps_the_numbering() {
        let mut log = EventLog::new(10);
        log.push(event(0));
        log.push(event(1));
        log.clear();
        assert!(log.page(0, 10).lines.is_empty());
        assert_eq!(log.page(0, 10).missed, 2);
        log.push(event(2));
        assert_eq!(seqs(&log.page(2, 10)), [3]);
        assert_eq!((log.first(), log.next()), (3, 4));
    }
}
