//! Live progress while a run goes: the collector asked for its running totals once a
//! second, shown on stderr with the phase and the faults in force.

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
