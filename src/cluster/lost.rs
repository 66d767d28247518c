//! Lost target: an external cluster whose every connection attempt fails (refused, or no
//! greeting before the timeout) for [`GRACE`] aborts the run with "the target at ADDR
//! stopped answering at 12.3s". The generator's events pass through [`tee`] on their way
//! to the collector; it judges from them alone (no shared state): any reply from the
//! cluster means it answers, a connect or greeting failure without a reply code means it
//! does not. Judged on failed attempts, not on silence: a cluster merely slow to answer
//! (sessions waiting on long replies) is not lost.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::abort::Abort;
use crate::collector::Event;
use crate::smtp::Phase;

/// How long every connection attempt may fail before the run is aborted: longer than
/// a node restart behind a balancer, shorter than a run measured against nothing.
pub const GRACE: Duration = Duration::from_secs(10);

/// Whether the target still answers, from the generator's events.
#[derive(Debug)]
pub struct Answering {
    grace_us: u64,
    /// The first failed attempt since the target last answered.
    failing_since: Option<u64>,
}

impl Answering {
    pub fn new(grace: Duration) -> Self {
        Answering {
            grace_us: grace.as_micros() as u64,
            failing_since: None,
        }
    }

    /// Takes in one event; `Some(since)` (µs since the Unix epoch) once attempts have
    /// failed for the whole grace with no answer in between.
    pub fn see(&mut self, event: &Event) -> Option<u64> {
        match event {
            Event::Accepted { .. } => self.failing_since = None,
            Event::NotAccepted {
                at_us,
                phase: Phase::Connect | Phase::Banner,
                code: None,
                ..
            } => {
                let since = *self.failing_since.get_or_insert(*at_us);
                if at_us.saturating_sub(since) >= self.grace_us {
                    return Some(since);
                }
            }
            Event::NotAccepted { .. } => self.failing_since = None,
            _ => {}
        }
        None
    }
}

/// Puts a watch between the generator and the collector: returns the sender the
/// generator takes, and a task that forwards every event to `collector` and aborts the
/// run (once) if the target at `target` is lost; it ends with the generator's sender and
/// returns when the target stopped answering, if that aborted the run.
pub fn tee(
    collector: mpsc::Sender<Event>,
    target: String,
    grace: Duration,
    t0_us: u64,
    abort: Abort,
) -> (mpsc::Sender<Event>, JoinHandle<Option<u64>>) {
    // As bounded as the collector's own channel: a lagging collector slows the tee too.
    let (tx, mut rx) = mpsc::channel::<Event>(crate::collector::EVENTS_CAPACITY);
    let task = tokio::spawn(async move {
        let mut answering = Answering::new(grace);
        let mut lost = None;
        while let Some(event) = rx.recv().await {
            if lost.is_none() {
                if let Some(since) = answering.see(&event) {
                    abort.stopped_answering(
                        &format!("the target at {target}"),
                        since,
                        t0_us,
                        &format!(
                            "every connection failed for {}",
                            humantime::format_duration(grace)
                        ),
                    );
                    lost = Some(since);
                }
            }
            if collector.send(event).await.is_err() {
                break;
            }
        }
        lost
    });
    (tx, task)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(at_s: u64, phase: Phase, code: Option<u16>) -> Event {
        Event::NotAccepted {
            seq: 0,
            at_us: at_s * 1_000_000,
            phase,
            code,
        }
    }

    fn accepted() -> Event {
        Event::Accepted {
            seq: 0,
            at_us: 0,
            node: "n1".into(),
        }
    }

    /// (events) → lost since (s); grace 10 s.
    #[test]
    fn lost_after_failing_for_the_whole_grace() {
        use Phase::*;
        let table: Vec<(Vec<Event>, Option<u64>)> = vec![
            (
                vec![failed(2, Connect, None), failed(12, Connect, None)],
                Some(2),
            ),
            (
                vec![failed(2, Connect, None), failed(11, Connect, None)],
                None,
            ),
            (
                vec![failed(2, Banner, None), failed(13, Connect, None)],
                Some(2),
            ),
            // An answer in between: counting starts again.
            (
                vec![
                    failed(2, Connect, None),
                    accepted(),
                    failed(5, Connect, None),
                    failed(14, Connect, None),
                ],
                None,
            ),
            // A reply, even a refusal, is an answer.
            (
                vec![
                    failed(2, Connect, None),
                    failed(6, Banner, Some(421)),
                    failed(13, Connect, None),
                ],
                None,
            ),
            (
                vec![
                    failed(2, Connect, None),
                    failed(6, Dot, None),
                    failed(13, Connect, None),
                ],
                None,
            ),
        ];
        for (events, want) in table {
            let mut answering = Answering::new(GRACE);
            let got = events.iter().find_map(|e| answering.see(e));
            assert_eq!(got, want.map(|s| s * 1_000_000), "{events:?}");
        }
    }

    #[tokio::test]
    async fn tee_forwards_everything_and_aborts_once() {
        let (collector, mut seen) = mpsc::channel(16);
        let abort = Abort::new();
        let (tx, task) = tee(
            collector,
            "127.0.0.1:2525".into(),
            GRACE,
            1_000_000,
            abort.clone(),
        );
        for at in [3, 8, 15, 20] {
            tx.send(failed(at, Phase::Connect, None)).await.unwrap();
        }
        drop(tx);
        assert_eq!(task.await.unwrap(), Some(3_000_000));
        let mut n = 0;
        while seen.recv().await.is_some() {
            n += 1;
        }
        assert_eq!(n, 4);
        assert_eq!(
            abort.reason(1_000_000).unwrap().reason,
            "the target at 127.0.0.1:2525 stopped answering at 2.0s"
        );
    }
}
