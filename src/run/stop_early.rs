//! `abort_on_fail` while the run goes: reads every check's state so far on the
//! collector's own task (`Request::Look`) twice a second and, once a watched check can
//! no longer pass for its grace (`checks::stop_early`), stops the load. The run then
//! heals and judges what it measured; the verdict is FAIL (see `checks::stop_early`).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::checks::so_far::so_far;
use crate::checks::stop_early::{StoppedEarly, Watch};
use crate::collector::{Ledger, Progress, Request};
use crate::report::progress;
use crate::scenario::Plan;

/// How often the checks are read.
const EVERY: Duration = Duration::from_millis(500);

/// Watches until a check stops the run (then `stop_load` and `early_stop` are cancelled
/// and the reason returned) or the collector has finished. Through settle too: a drain
/// deadline may pass while mail is still queued.
pub async fn watch(
    plan: Arc<Plan>,
    collector: mpsc::Sender<Request>,
    (stop_load, early_stop): (CancellationToken, CancellationToken),
) -> Option<StoppedEarly> {
    let mut watch = Watch::new(&plan.abort_on_fail);
    if watch.is_empty() {
        return None;
    }
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let (tx, rx) = oneshot::channel();
        let plan = plan.clone();
        let look = move |ledger: &Ledger, _: &Progress| {
            let now = ledger.end_ms;
            let _ = tx.send((so_far(&plan, &[], ledger, now), now));
        };
        collector.send(Request::Look(Box::new(look))).await.ok()?;
        let (states, now_ms) = rx.await.ok()?;
        if let Some(stop) = watch.step(&states, now_ms) {
            progress::log_line(&format!(
                "mailquake: {stop} ({}) — abort_on_fail: stopping the load, healing the faults, judging what was measured",
                stop.detail
            ));
            stop_load.cancel();
            early_stop.cancel();
            return Some(stop);
        }
    }
}
