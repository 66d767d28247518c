//! The live view's one owner of state: every second it asks the collector for a look
//! at the ledger (figures and checks so far, computed on the collector's task) and the
//! generator's stats task for the per-phase latency so far, and it
//! takes the timeline's switches and the operator's "stop the load" as they come. Each
//! becomes a numbered event on the hub; the latest snapshot also goes to `/metrics`
//! through a `watch`. It never holds the ledger and never waits on a browser.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::figures::{figures, Snapshot};
use super::hub::Hub;
use crate::checks::so_far::so_far;
use crate::checks::steered::{SteerAction, Steered};
use crate::collector::Request;
use crate::measure::{PhaseFigure, PhaseLook};
use crate::scenario::Plan;
use crate::timeline::Told;

/// How often a snapshot is taken.
pub const EVERY: Duration = Duration::from_secs(1);
/// How long a snapshot waits for the generator's per-phase figures (then it keeps the
/// last ones: a busy generator thread must not hold the page up).
const PHASES_WAIT: Duration = Duration::from_millis(200);

/// Orders for the feed.
pub(super) enum Order {
    /// Stop the load now; replies with the action as recorded.
    StopLoad(oneshot::Sender<Steered>),
    /// The run is over: the actions taken by hand, in order.
    Finish(oneshot::Sender<Vec<Steered>>),
}

/// What the feed works with.
pub(super) struct Inputs {
    pub plan: Arc<Plan>,
    pub t0: Instant,
    pub collector: mpsc::Sender<Request>,
    /// The generator's stats task, for the per-phase latency (none: not asked).
    pub phases: Option<mpsc::Sender<PhaseLook>>,
    pub told: mpsc::Receiver<Told>,
    pub orders: mpsc::Receiver<Order>,
    pub hub: Hub,
    pub latest: watch::Sender<Arc<Snapshot>>,
    /// Cancelled to stop the load.
    pub stop_load: CancellationToken,
    /// Cancelled here when "heal all" has stopped the timeline.
    pub healed_all: CancellationToken,
}

pub(super) async fn run(mut i: Inputs) {
    let mut steered: Vec<Steered> = Vec::new();
    let mut in_force: Vec<String> = Vec::new();
    let mut phases: Vec<PhaseFigure> = Vec::new();
    let mut tick = tokio::time::interval_at(i.t0 + EVERY, EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut looking = true;
    loop {
        tokio::select! {
            _ = tick.tick(), if looking => {
                match look(&i, &steered, &in_force).await {
                    Some(mut snapshot) => {
                        if let Some(now) = ask_phases(i.phases.as_ref()).await {
                            phases = now;
                        }
                        snapshot.phases = phases.clone();
                        i.hub.publish("snapshot", &snapshot);
                        i.latest.send_replace(Arc::new(snapshot));
                    }
                    // The collector finished: measurement is over.
                    None => looking = false,
                }
            }
            Some(told) = i.told.recv() => {
                if matches!(&told, Told::Steered(s) if s.action == SteerAction::HealAll) {
                    i.healed_all.cancel();
                }
                note(&i.hub, told, &mut steered, &mut in_force);
            }
            order = i.orders.recv() => match order {
                Some(Order::StopLoad(reply)) => {
                    let s = Steered { at_ms: ms_since(i.t0), action: SteerAction::StopLoad };
                    i.stop_load.cancel();
                    i.hub.publish("steered", &s);
                    steered.push(s.clone());
                    let _ = reply.send(s);
                }
                Some(Order::Finish(reply)) => {
                    // What the timeline told before it ended counts.
                    while let Ok(told) = i.told.try_recv() {
                        note(&i.hub, told, &mut steered, &mut in_force);
                    }
                    let _ = reply.send(steered.clone());
                }
                None => return,
            },
        }
    }
}

/// Records one thing the timeline told, and publishes it.
fn note(hub: &Hub, told: Told, steered: &mut Vec<Steered>, in_force: &mut Vec<String>) {
    match &told {
        Told::Switch {
            on, kind, target, ..
        } => {
            let what = format!("{kind} on {target}");
            if *on {
                in_force.push(what);
            } else if let Some(i) = in_force.iter().position(|w| *w == what) {
                in_force.remove(i);
            }
            hub.publish("switch", &told);
        }
        Told::Steered(s) => {
            steered.push(s.clone());
            hub.publish("steered", s);
        }
    }
}

fn ms_since(t0: Instant) -> u32 {
    t0.elapsed().as_millis().min(u128::from(u32::MAX - 1)) as u32
}

/// The generator's per-phase latency so far; `None` when it is not asked, busy, or
/// finished (its last answer stands: the figures are cumulative).
async fn ask_phases(stats: Option<&mpsc::Sender<PhaseLook>>) -> Option<Vec<PhaseFigure>> {
    let (tx, rx) = oneshot::channel();
    stats?.try_send(tx).ok()?;
    tokio::time::timeout(PHASES_WAIT, rx).await.ok()?.ok()
}

/// One snapshot, computed on the collector's task; `None` once it has finished.
async fn look(i: &Inputs, steered: &[Steered], in_force: &[String]) -> Option<Snapshot> {
    let (tx, rx) = oneshot::channel();
    let plan = i.plan.clone();
    let steered = steered.to_vec();
    let look = move |ledger: &crate::collector::Ledger, progress: &crate::collector::Progress| {
        let now = ledger.end_ms;
        let mut snapshot = figures(ledger, progress, &plan.load, now);
        snapshot.checks = so_far(&plan, &steered, ledger, now);
        let _ = tx.send(snapshot);
    };
    i.collector.send(Request::Look(Box::new(look))).await.ok()?;
    let mut snapshot = rx.await.ok()?;
    let t = Duration::from_millis(u64::from(snapshot.t_ms));
    snapshot.phase =
        if i.stop_load.is_cancelled() || t >= i.plan.load.duration().max(i.plan.timeline_end()) {
            "settle"
        } else if t < i.plan.load.duration() {
            "load"
        } else {
            "faults"
        };
    snapshot.in_force = in_force.to_vec();
    Some(snapshot)
}
