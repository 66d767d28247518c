//! `queue: per-destination` — the design that isolates a failing destination, like
//! Postfix's queue manager: each destination has its own queue and its own limit of
//! simultaneous connections, so a black-holed destination can tie up at most `concurrency`
//! connections. After `dead_after` failed connections in a row the destination is marked
//! dead: its queued mail is deferred at once (no connection tried) until the dead period
//! (the next retry time) is over; then one more failure marks it dead again.

use std::collections::{HashMap, VecDeque};

use tokio::time::Instant;

use super::queue::{Attempt, AttemptResult, Book, Dispatch, EntryId, QueuePolicy, RetryPolicy};

pub struct PerDestination {
    book: Book,
    dests: HashMap<String, Dest>,
    concurrency: usize,
    batch: usize,
    dead_after: u32,
}

#[derive(Default)]
struct Dest {
    ready: VecDeque<EntryId>,
    active: usize,
    fail_streak: u32,
    dead_until: Option<Instant>,
}

impl PerDestination {
    pub fn new(retry: RetryPolicy, concurrency: usize, batch: usize, dead_after: u32) -> Self {
        PerDestination {
            book: Book::new(retry),
            dests: HashMap::new(),
            concurrency: concurrency.max(1),
            batch: batch.max(1),
            dead_after: dead_after.max(1),
        }
    }

    /// Whether `dest` is currently marked dead.
    pub fn is_dead(&self, dest: &str, now: Instant) -> bool {
        self.dests
            .get(dest)
            .and_then(|d| d.dead_until)
            .is_some_and(|until| until > now)
    }
}

impl QueuePolicy for PerDestination {
    fn enqueue(&mut self, id: EntryId, dest: &str, arrival: Instant) {
        self.book.add(id, dest, arrival);
        self.dests
            .entry(dest.to_string())
            .or_default()
            .ready
            .push_back(id);
    }

    fn dispatch(&mut self, now: Instant) -> Vec<Dispatch> {
        for id in self.book.take_due(now) {
            if let Some(dest) = self.book.dest(id) {
                let dest = dest.to_string();
                self.dests.entry(dest).or_default().ready.push_back(id);
            }
        }
        let mut out = Vec::new();
        for (name, dest) in &mut self.dests {
            if dest.dead_until.is_some_and(|until| until > now) {
                continue;
            }
            dest.dead_until = None;
            while dest.active < self.concurrency && !dest.ready.is_empty() {
                let n = dest.ready.len().min(self.batch);
                let entries: Vec<EntryId> = dest.ready.drain(..n).collect();
                dest.active += 1;
                out.push(Dispatch {
                    dest: name.clone(),
                    entries,
                });
            }
        }
        out
    }

    fn report(&mut self, attempt: Attempt, now: Instant) -> Vec<EntryId> {
        let mut expired = Vec::new();
        let dest = self.dests.entry(attempt.dest.clone()).or_default();
        dest.active = dest.active.saturating_sub(1);
        match attempt.result {
            AttemptResult::ConnectFailed => {
                dest.fail_streak += 1;
                let mut until = None;
                if dest.fail_streak >= self.dead_after {
                    let extra = dest.fail_streak - self.dead_after + 1;
                    let dead_until = now + self.book.retry.backoff(extra);
                    dest.dead_until = Some(dead_until);
                    until = Some(dead_until);
                }
                // A dead destination's waiting mail is deferred at once, without a try.
                let mut to_defer = attempt.entries;
                if until.is_some() {
                    to_defer.extend(dest.ready.drain(..));
                }
                for id in to_defer {
                    expired.extend(self.book.defer(id, now, until));
                }
            }
            AttemptResult::Done {
                delivered,
                deferred,
                failed,
            } => {
                dest.fail_streak = 0;
                for id in delivered.into_iter().chain(failed) {
                    self.book.remove(id);
                }
                for id in deferred {
                    expired.extend(self.book.defer(id, now, None));
                }
            }
        }
        expired
    }

    fn next_wakeup(&self) -> Option<Instant> {
        let dead = self
            .dests
            .values()
            .filter(|d| !d.ready.is_empty())
            .filter_map(|d| d.dead_until);
        self.book.next_due().into_iter().chain(dead).min()
    }

    fn len(&self) -> usize {
        self.book.len()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn policy(concurrency: usize, dead_after: u32) -> PerDestination {
        let retry = RetryPolicy {
            min_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(8),
            max_lifetime: Duration::from_secs(30),
        };
        PerDestination::new(retry, concurrency, 2, dead_after)
    }

    fn failed(dest: &str, entries: Vec<EntryId>) -> Attempt {
        Attempt {
            dest: dest.into(),
            entries,
            result: AttemptResult::ConnectFailed,
        }
    }

    #[test]
    fn a_failing_destination_uses_only_its_own_connections() {
        let t0 = Instant::now();
        let mut p = policy(2, 5);
        for id in 0..10 {
            p.enqueue(id, "down.test", t0);
        }
        for id in 10..14 {
            p.enqueue(id, "ok.test", t0);
        }
        let d = p.dispatch(t0);
        let down = d.iter().filter(|x| x.dest == "down.test").count();
        let ok = d.iter().filter(|x| x.dest == "ok.test").count();
        assert_eq!(
            (down, ok),
            (2, 2),
            "each destination gets its own 2 connections"
        );
        assert!(d.iter().all(|x| x.entries.len() <= 2), "batch of 2");
    }

    #[test]
    fn marks_dead_after_n_failures_and_defers_the_rest_at_once() {
        let t0 = Instant::now();
        let mut p = policy(1, 2);
        for id in 0..6 {
            p.enqueue(id, "down.test", t0);
        }
        let first = p.dispatch(t0);
        assert_eq!(first.len(), 1);
        assert!(p
            .report(failed("down.test", first[0].entries.clone()), t0)
            .is_empty());
        assert!(!p.is_dead("down.test", t0));
        let second = p.dispatch(t0);
        p.report(failed("down.test", second[0].entries.clone()), t0);
        assert!(p.is_dead("down.test", t0), "dead after 2 failures");
        assert!(p.dispatch(t0).is_empty(), "no connection while dead");
        assert_eq!(p.len(), 6, "nothing lost");
        // Dead for min_backoff (1s); then tried again.
        assert_eq!(p.next_wakeup(), Some(t0 + Duration::from_secs(1)));
        let later = p.dispatch(t0 + Duration::from_secs(1));
        assert_eq!(later.len(), 1);
    }

    #[test]
    fn success_resets_the_streak_and_removes_delivered() {
        let t0 = Instant::now();
        let mut p = policy(1, 2);
        for id in 0..2 {
            p.enqueue(id, "x.test", t0);
        }
        let d = p.dispatch(t0);
        p.report(failed("x.test", d[0].entries.clone()), t0);
        let t1 = t0 + Duration::from_secs(1);
        let d = p.dispatch(t1);
        let done = Attempt {
            dest: "x.test".into(),
            entries: d[0].entries.clone(),
            result: AttemptResult::Done {
                delivered: vec![0],
                deferred: vec![1],
                failed: vec![],
            },
        };
        assert!(p.report(done, t1).is_empty());
        assert_eq!(p.len(), 1);
        assert!(!p.is_dead("x.test", t1));
    }

    #[test]
    fn expires_entries_older_than_the_lifetime() {
        let t0 = Instant::now();
        let mut p = policy(1, 100);
        p.enqueue(7, "x.test", t0);
        let d = p.dispatch(t0);
        let late = t0 + Duration::from_secs(31);
        assert_eq!(
            p.report(failed("x.test", d[0].entries.clone()), late),
            vec![7]
        );
        assert!(p.is_empty());
    }
}
