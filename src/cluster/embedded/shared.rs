//! `queue: shared` — the naive design: one FIFO for all destinations drained by one pool
//! of `workers`. A destination that holds connections open (black hole, tarpit) ties up
//! the whole pool and mail to healthy destinations waits behind it (head-of-line
//! blocking). Kept on purpose, so mailquake can show the failure it was built to catch.

use std::collections::VecDeque;

use tokio::time::Instant;

use super::queue::{Attempt, AttemptResult, Book, Dispatch, EntryId, QueuePolicy, RetryPolicy};

pub struct Shared {
    book: Book,
    fifo: VecDeque<EntryId>,
    workers: usize,
    busy: usize,
    batch: usize,
}

impl Shared {
    pub fn new(retry: RetryPolicy, workers: usize, batch: usize) -> Self {
        Shared {
            book: Book::new(retry),
            fifo: VecDeque::new(),
            workers: workers.max(1),
            busy: 0,
            batch: batch.max(1),
        }
    }
}

impl QueuePolicy for Shared {
    fn enqueue(&mut self, id: EntryId, dest: &str, arrival: Instant) {
        self.book.add(id, dest, arrival);
        self.fifo.push_back(id);
    }

    fn dispatch(&mut self, now: Instant) -> Vec<Dispatch> {
        let due = self.book.take_due(now);
        self.fifo.extend(due);
        let mut out = Vec::new();
        while self.busy < self.workers {
            let Some(head) = self.fifo.pop_front() else {
                break;
            };
            let Some(dest) = self.book.dest(head).map(str::to_string) else {
                continue;
            };
            // The worker takes the head and whatever follows it for the same destination.
            let mut entries = vec![head];
            while entries.len() < self.batch {
                match self.fifo.front() {
                    Some(next) if self.book.dest(*next) == Some(dest.as_str()) => {
                        entries.extend(self.fifo.pop_front());
                    }
                    _ => break,
                }
            }
            self.busy += 1;
            out.push(Dispatch { dest, entries });
        }
        out
    }

    fn report(&mut self, attempt: Attempt, now: Instant) -> Vec<EntryId> {
        self.busy = self.busy.saturating_sub(1);
        let (deferred, done) = match attempt.result {
            AttemptResult::ConnectFailed => (attempt.entries, Vec::new()),
            AttemptResult::Done {
                delivered,
                deferred,
                failed,
            } => (deferred, delivered.into_iter().chain(failed).collect()),
        };
        for id in done {
            self.book.remove(id);
        }
        deferred
            .into_iter()
            .filter_map(|id| self.book.defer(id, now, None))
            .collect()
    }

    fn next_wakeup(&self) -> Option<Instant> {
        self.book.next_due()
    }

    fn len(&self) -> usize {
        self.book.len()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn retry() -> RetryPolicy {
        RetryPolicy {
            min_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(8),
            max_lifetime: Duration::from_secs(60),
        }
    }

    #[test]
    fn busy_workers_block_everyone_behind_them() {
        let t0 = Instant::now();
        let mut p = Shared::new(retry(), 2, 1);
        p.enqueue(0, "down.test", t0);
        p.enqueue(1, "down.test", t0);
        p.enqueue(2, "ok.test", t0);
        let d = p.dispatch(t0);
        assert_eq!(d.len(), 2);
        assert!(d.iter().all(|x| x.dest == "down.test"));
        // While both workers hang on down.test, ok.test waits.
        assert!(p.dispatch(t0).is_empty());
        let done = Attempt {
            dest: "down.test".into(),
            entries: vec![0],
            result: AttemptResult::ConnectFailed,
        };
        assert!(p.report(done, t0).is_empty());
        let d = p.dispatch(t0);
        assert_eq!(d[0].dest, "ok.test");
        assert_eq!(p.len(), 3);
        assert_eq!(p.next_wakeup(), Some(t0 + Duration::from_secs(1)));
    }

    #[test]
    fn batches_consecutive_entries_of_one_destination() {
        let t0 = Instant::now();
        let mut p = Shared::new(retry(), 1, 3);
        for (id, dest) in [(0, "a"), (1, "a"), (2, "b"), (3, "a")] {
            p.enqueue(id, dest, t0);
        }
        assert_eq!(p.dispatch(t0)[0].entries, vec![0, 1]);
    }
}
