//! Per-phase load measurements: latency histograms and reply codes per phase, per node
//! and per endpoint, as the generator fills them and the report renders them. A neutral
//! type so that neither stage imports the other.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use hdrhistogram::Histogram;

use crate::scenario::LoadModel;
use crate::smtp::Phase;

/// The node name for what happened before any banner (a refused or silent endpoint).
pub const NO_BANNER: &str = "";
const PHASES: usize = Phase::ALL.len();

/// What the generator measured besides the ledger's events (the generator fills it, the
/// report renders it).
#[derive(Clone, Debug, Default)]
pub struct LoadMeasurements {
    pub model: LoadModel,
    pub sessions: usize,
    /// Messages the open model's shape called for (0 for the closed model).
    pub planned: u64,
    /// Called for, but no session was free to send (open model).
    pub shortfall: u64,
    pub stats: PhaseStats,
    /// Endpoint names, indexed as in [`PhaseStats::slots`].
    pub endpoints: Vec<String>,
}

/// A histogram per phase, created when the phase is first recorded.
#[derive(Clone, Debug, Default)]
pub struct PhaseHistograms(pub [Option<Histogram<u64>>; PHASES]);

impl PhaseHistograms {
    /// Records one phase's latency in microseconds.
    pub fn record(&mut self, phase: usize, micros: u64) {
        if let Some(slot) = self.0.get_mut(phase) {
            // Auto-resizing, 3 significant digits: memory follows the largest value.
            // (`record` grows the range; `saturating_record` would clamp at the start range.)
            let h = slot
                .get_or_insert_with(|| Histogram::new(3).expect("3 significant digits is valid"));
            if h.record(micros).is_err() {
                h.saturating_record(micros);
            }
        }
    }

    /// Adds another set of histograms into this one.
    pub fn add(&mut self, other: &PhaseHistograms) {
        for (mine, theirs) in self.0.iter_mut().zip(&other.0) {
            if let Some(theirs) = theirs {
                match mine {
                    Some(m) => {
                        let _ = m.add(theirs);
                    }
                    None => *mine = Some(theirs.clone()),
                }
            }
        }
    }

    pub fn get(&self, phase: Phase) -> Option<&Histogram<u64>> {
        self.0[phase.index()].as_ref()
    }

    pub fn is_empty(&self) -> bool {
        self.0.iter().all(Option::is_none)
    }
}

/// What one (endpoint, node) pair saw.
#[derive(Clone, Debug, Default)]
pub struct SlotStats {
    pub phases: PhaseHistograms,
    /// Transactions attempted (including sessions that failed to open for one).
    pub submitted: u64,
    pub accepted: u64,
    /// Per phase: reply code → count.
    pub replies: [BTreeMap<u16, u64>; PHASES],
}

/// One phase's latency over one histogram-log interval, every node together: what the
/// report draws over time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IntervalSummary {
    /// Interval `i` covers `[i × interval, (i + 1) × interval)` since load start.
    pub interval: u32,
    pub phase: Phase,
    pub count: u64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
}

/// Everything the stats task measured, for reports.
#[derive(Clone, Debug, Default)]
pub struct PhaseStats {
    /// The histogram-log interval, and each phase's latency per interval, in order.
    pub interval: Duration,
    pub intervals: Vec<IntervalSummary>,
    /// Keyed by (endpoint index, node name).
    pub slots: BTreeMap<(u16, Arc<str>), SlotStats>,
    /// `*.hlog` files written, and the first error writing them, if any.
    pub hlog_files: Vec<std::path::PathBuf>,
    pub hlog_error: Option<String>,
}

impl PhaseStats {
    /// All slots merged: per phase overall.
    pub fn overall(&self) -> SlotStats {
        merge(self.slots.values())
    }

    /// Slots merged by node name, in name order.
    pub fn by_node(&self) -> Vec<(Arc<str>, SlotStats)> {
        let mut names: Vec<&Arc<str>> = self.slots.keys().map(|(_, n)| n).collect();
        names.sort();
        names.dedup();
        names
            .into_iter()
            .map(|n| {
                let of = self
                    .slots
                    .iter()
                    .filter(|((_, m), _)| m == n)
                    .map(|(_, s)| s);
                (n.clone(), merge(of))
            })
            .collect()
    }

    /// Slots merged by endpoint index.
    pub fn by_endpoint(&self) -> Vec<(u16, SlotStats)> {
        let mut eps: Vec<u16> = self.slots.keys().map(|(e, _)| *e).collect();
        eps.dedup();
        eps.into_iter()
            .map(|e| {
                let of = self
                    .slots
                    .iter()
                    .filter(|((f, _), _)| *f == e)
                    .map(|(_, s)| s);
                (e, merge(of))
            })
            .collect()
    }
}

/// One phase's latency at one endpoint since load start, as the live view's `/metrics`
/// serves it (asked of the stats task with a [`PhaseLook`]).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PhaseFigure {
    pub phase: &'static str,
    /// The endpoint's name (`host:port` as the target lists it).
    pub endpoint: String,
    pub count: u64,
    /// The sum of the recorded latencies, µs (from the histogram: 3 significant digits).
    pub sum_us: f64,
    pub p50_us: u64,
    pub p99_us: u64,
}

/// A request to the generator's stats task for [`PhaseFigure`]s: the live view's feed
/// sends one each second and the stats task answers between batches (no shared state).
pub type PhaseLook = tokio::sync::oneshot::Sender<Vec<PhaseFigure>>;

impl PhaseStats {
    /// Per endpoint (named by `endpoints`, its index → name) and phase, in that order:
    /// what has been recorded so far.
    pub fn figures(&self, endpoints: &[String]) -> Vec<PhaseFigure> {
        let mut out = Vec::new();
        for (e, stats) in self.by_endpoint() {
            let endpoint = endpoints
                .get(usize::from(e))
                .cloned()
                .unwrap_or_else(|| e.to_string());
            for phase in Phase::ALL {
                let Some(h) = stats.phases.get(phase).filter(|h| !h.is_empty()) else {
                    continue;
                };
                out.push(PhaseFigure {
                    phase: phase.as_str(),
                    endpoint: endpoint.clone(),
                    count: h.len(),
                    sum_us: h.mean() * h.len() as f64,
                    p50_us: h.value_at_quantile(0.50),
                    p99_us: h.value_at_quantile(0.99),
                });
            }
        }
        out
    }
}

fn merge<'a>(slots: impl Iterator<Item = &'a SlotStats>) -> SlotStats {
    let mut all = SlotStats::default();
    for s in slots {
        all.phases.add(&s.phases);
        all.submitted += s.submitted;
        all.accepted += s.accepted;
        for (mine, theirs) in all.replies.iter_mut().zip(&s.replies) {
            for (code, n) in theirs {
                *mine.entry(*code).or_default() += n;
            }
        }
    }
    all
}
