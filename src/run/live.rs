//! Live progress while a run goes (the collector asked for its running totals once a
//! second, shown on stderr with the phase and the faults in force), and the settle
//! wait, which asks the same totals.

use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::collector::{Progress, Request};
use crate::report::progress::{LiveProgress, Snapshot};
use crate::scenario::Plan;

/// How often the live progress is updated while a run goes.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);

pub(super) async fn ask_progress(req_tx: &mpsc::Sender<Request>) -> Option<Progress> {
    let (tx, rx) = oneshot::channel();
    req_tx.send(Request::Progress(tx)).await.ok()?;
    rx.await.ok()
}

/// Waits (until `deadline`, or an abort) for mail in flight: done when nothing is
/// outstanding, the probed queues (if any) are back where they started (a node may
/// still be removing delivered mail) and the watched alerts, once `alerts_due` (when
/// they should have fired) has passed, no longer fire. Not at all once `early_stop`
/// (`abort_on_fail`) is cancelled.
pub(super) async fn settle(
    req_tx: &mpsc::Sender<Request>,
    abort: &crate::abort::Abort,
    (deadline, alerts_due): (Instant, Instant),
    early_stop: &CancellationToken,
) {
    while !abort.is_cancelled() && !early_stop.is_cancelled() && Instant::now() < deadline {
        match ask_progress(req_tx).await {
            Some(p)
                if p.outstanding == 0
                    && p.queued <= p.queued_at_start
                    && p.alerts_firing == 0
                    && Instant::now() >= alerts_due =>
            {
                break
            }
            None => break,
            _ => {}
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
            _ = abort.cancelled() => {}
            _ = early_stop.cancelled() => {}
        }
    }
}

/// Live progress on stderr: a bar on a terminal, a plain line every few seconds otherwise.
pub(super) async fn show_progress(
    req_tx: mpsc::Sender<Request>,
    t0: Instant,
    plan: Plan,
    stop: CancellationToken,
) {
    let total = plan.load.duration().max(plan.timeline_end());
    let mut live = LiveProgress::start(total);
    let mut tick = tokio::time::interval_at(t0 + PROGRESS_EVERY, PROGRESS_EVERY);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.cancelled() => return,
        }
        let Some(p) = ask_progress(&req_tx).await else {
            return;
        };
        let elapsed = t0.elapsed();
        let (phase, ends_by) = if elapsed < plan.load.duration() {
            ("load", total)
        } else if elapsed < total {
            ("faults", total)
        } else {
            ("settle", total + plan.settle)
        };
        let active: Vec<String> = plan
            .faults
            .iter()
            .filter(|f| f.at <= elapsed && f.end().is_none_or(|e| e > elapsed))
            .map(|f| f.subject.short())
            .collect();
        live.update(&Snapshot {
            phase,
            elapsed,
            total: ends_by,
            totals: p,
            faults: &active,
            queue_depth: (!plan.probes.is_empty()).then_some(p.queued),
        });
    }
}
