//! The live view as `run` wires it: the same few calls whether `--live` was given or
//! not, so the orchestrator stays one line per step.

use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{Live, LiveArgs};
use crate::checks::steered::Steered;
use crate::collector::Request;
use crate::measure::PhaseLook;
use crate::report::JudgedRun;
use crate::scenario::Plan;

/// The run's live view, if any.
pub struct Hook {
    live: Option<Live>,
    stop_load: CancellationToken,
    /// Where the feed asks the generator's stats task for per-phase latency, and where
    /// the stats task hears it (taken by [`Hook::phase_looks`]).
    phase_asks: Option<mpsc::Sender<PhaseLook>>,
    phase_looks: Option<mpsc::Receiver<PhaseLook>>,
}

impl Hook {
    /// Starts the view when `args` asks for one (its URL printed); `load` is the
    /// generator's stop, of which "stop the load" is a child.
    pub async fn start(
        plan: &Plan,
        args: Option<LiveArgs>,
        load: &CancellationToken,
    ) -> Result<Hook, String> {
        let stop_load = load.child_token();
        let live = match args {
            Some(args) => Some(Live::start(plan, args, stop_load.clone()).await?),
            None => None,
        };
        if let Some(live) = &live {
            eprintln!("mailquake: live view: {}", live.url());
        }
        // One question a second; one waiting is plenty.
        let (phase_asks, phase_looks) = match live {
            Some(_) => {
                let (tx, rx) = mpsc::channel(1);
                (Some(tx), Some(rx))
            }
            None => (None, None),
        };
        Ok(Hook {
            live,
            stop_load,
            phase_asks,
            phase_looks,
        })
    }

    /// For the generator's stats task: where the live view asks for the per-phase
    /// latency so far (none without a live view).
    pub fn phase_looks(&mut self) -> Option<mpsc::Receiver<PhaseLook>> {
        self.phase_looks.take()
    }

    /// The timeline's orders by hand and where it tells its switches (the rest of
    /// its controls left empty, for the caller to fill).
    pub fn timeline_io(&mut self) -> crate::timeline::Controls {
        let (steer, told) = match &mut self.live {
            Some(live) => {
                let (steer, told) = live.timeline_io();
                (steer, Some(told))
            }
            None => (None, None),
        };
        crate::timeline::Controls {
            steer,
            told,
            ..Default::default()
        }
    }

    /// From t0: snapshots from the collector behind `collector` (and the generator's
    /// per-phase latency, if it took [`Hook::phase_looks`]).
    pub fn feed(&mut self, t0: Instant, collector: mpsc::Sender<Request>) {
        if let Some(live) = &mut self.live {
            live.feed(t0, collector, self.phase_asks.take());
        }
    }

    /// The generator's stop: the run's abort, or "stop the load".
    pub fn stop_load(&self) -> CancellationToken {
        self.stop_load.clone()
    }

    /// Returns once the run may settle before its planned end: the load was stopped,
    /// or "heal all" stopped the timeline. Never without a live view.
    pub async fn settle_now(&self) {
        match &self.live {
            Some(live) => {
                let healed_all = live.healed_all();
                tokio::select! {
                    _ = self.stop_load.cancelled() => {}
                    _ = healed_all.cancelled() => {}
                }
            }
            None => std::future::pending().await,
        }
    }

    /// What was done by hand, in order.
    pub async fn steered(&self) -> Vec<Steered> {
        match &self.live {
            Some(live) => live.steered().await,
            None => Vec::new(),
        }
    }

    /// The run is judged: the page shows the findings and the run's charts.
    pub fn ended(&self, run: &JudgedRun) {
        if let Some(live) = &self.live {
            live.ended(run);
        }
    }
}
