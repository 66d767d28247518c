//! The report's charts on the live page: every [`EVERY`] (longer when drawing takes
//! long) a copy of the ledger so far is taken on the collector's task and drawn off it
//! by report.html's own code (`report::charts::sections`, `report::html::
//! sections_fragment`). The page shows the latest drawing (`GET /charts`); when the run
//! is judged, the `end` event carries the charts of the finished run, drawn from the
//! same data as report.html. One renderer, one data source: the two cannot drift.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use crate::collector::{Ledger, Request};
use crate::report::charts::{self, ChartData};
use crate::report::html::sections_fragment;
use crate::report::samples::Samples;
use crate::report::JudgedRun;
use crate::scenario::Plan;

/// How often the charts are drawn at most.
pub const EVERY: Duration = Duration::from_secs(2);
/// Drawing may take at most this share of the time (a huge ledger is drawn less often).
const BUSY_SHARE: u32 = 5;

/// One drawing of the chart sections.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Drawn {
    /// ms since load start the ledger reached.
    pub t_ms: u32,
    /// The `<section>`s, as report.html has them.
    pub html: String,
}

/// The chart sections of the ledger so far.
pub fn draw(plan: &Plan, ledger: &Ledger) -> Drawn {
    let samples = Samples::from_ledger(ledger);
    let data = ChartData {
        plan,
        ledger,
        samples: &samples,
    };
    Drawn {
        t_ms: ledger.end_ms,
        html: fragment(&data),
    }
}

/// The chart sections of a judged run: what its report.html shows.
pub fn draw_judged(run: &JudgedRun) -> Drawn {
    Drawn {
        t_ms: run.ledger.end_ms,
        html: fragment(&run.chart_data()),
    }
}

fn fragment(data: &ChartData) -> String {
    sections_fragment(&charts::sections(data))
        .unwrap_or_else(|e| format!("<p class=\"explain\">charts: {e}</p>"))
}

/// Draws from t0 + [`EVERY`] until the collector has finished.
pub(super) async fn run(
    plan: Arc<Plan>,
    t0: Instant,
    collector: mpsc::Sender<Request>,
    out: watch::Sender<Arc<Drawn>>,
) {
    let mut next = t0 + EVERY;
    loop {
        tokio::time::sleep_until(next).await;
        let Some(ledger) = copy(&collector).await else {
            return;
        };
        let started = Instant::now();
        let p = plan.clone();
        let Ok(drawn) = tokio::task::spawn_blocking(move || draw(&p, &ledger)).await else {
            return;
        };
        out.send_replace(Arc::new(drawn));
        next = Instant::now() + EVERY.max(started.elapsed() * BUSY_SHARE);
    }
}

/// A copy of the ledger so far, taken on the collector's task; `None` once it has
/// finished.
async fn copy(collector: &mpsc::Sender<Request>) -> Option<Ledger> {
    let (tx, rx) = oneshot::channel();
    let look = move |ledger: &Ledger, _: &crate::collector::Progress| {
        let _ = tx.send(ledger.clone());
    };
    collector.send(Request::Look(Box::new(look))).await.ok()?;
    rx.await.ok()
}
