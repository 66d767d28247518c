//! The load's measurements ([`crate::measure`]) as reports show them: per-phase latency percentiles
//! (overall, per node, per endpoint), reply codes by stage, the load model and its
//! shortfall — as `summary.json` fields and as the terminal's phase table.

use std::collections::BTreeMap;
use std::fmt::Write;

use hdrhistogram::Histogram;
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use crate::measure::{LoadMeasurements, PhaseHistograms, SlotStats, NO_BANNER};
use crate::scenario::LoadModel;
use crate::smtp::observe::no_reply;
use crate::smtp::Phase;

/// `summary.json` → `load`.
#[derive(Debug, Default, Serialize)]
pub struct LoadJson {
    /// `open` or `closed`.
    pub model: &'static str,
    pub sessions: usize,
    /// Open model: messages the load shape called for; `null` for the closed model.
    pub planned: Option<u64>,
    /// Open model: called for, but no session was free to send them (back-pressure).
    pub shortfall: u64,
    /// Transactions the generator attempted, and those accepted (2xx to the dot).
    pub submitted: u64,
    pub accepted: u64,
    /// Per phase, every node together.
    pub phases: Phases,
    /// Per node (banner host name; `(no banner)` for sessions that never got one).
    pub nodes: Vec<LoadNodeJson>,
    /// Per endpoint address, as written in the target.
    pub endpoints: Vec<LoadNodeJson>,
    /// The `*.hlog` files (HdrHistogram interval logs, one per phase).
    pub hlog_files: Vec<String>,
    /// Why the histogram logs are missing or incomplete, if they are.
    pub hlog_error: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct LoadNodeJson {
    pub name: String,
    pub submitted: u64,
    pub accepted: u64,
    pub phases: Phases,
}

/// Latency of one phase, milliseconds (µs precision).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PhaseJson {
    pub count: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// Phases in session order (a map in JSON: `{ "connect": {...}, "banner": {...} }`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Phases(pub Vec<(Phase, PhaseJson)>);

impl Serialize for Phases {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (phase, json) in &self.0 {
            map.serialize_entry(phase.as_str(), json)?;
        }
        map.end()
    }
}

impl Phases {
    pub fn of(h: &PhaseHistograms) -> Phases {
        Phases(
            Phase::ALL
                .iter()
                .filter_map(|p| h.get(*p).map(|h| (*p, phase_json(h))))
                .collect(),
        )
    }

    pub fn get(&self, phase: Phase) -> Option<&PhaseJson> {
        self.0.iter().find(|(p, _)| *p == phase).map(|(_, j)| j)
    }
}

/// Microseconds as milliseconds (the histograms record whole µs, so three decimals).
fn ms(micros: u64) -> f64 {
    micros as f64 / 1000.0
}

fn phase_json(h: &Histogram<u64>) -> PhaseJson {
    PhaseJson {
        count: h.len(),
        p50_ms: ms(h.value_at_quantile(0.50)),
        p90_ms: ms(h.value_at_quantile(0.90)),
        p99_ms: ms(h.value_at_quantile(0.99)),
        max_ms: ms(h.max()),
    }
}

/// `summary.json` → `submit_replies`: stage → reply code (or `timeout`, `refused`, …) → count.
pub type RepliesJson = BTreeMap<&'static str, BTreeMap<String, u64>>;

fn replies_json(s: &SlotStats) -> RepliesJson {
    Phase::ALL
        .iter()
        .zip(&s.replies)
        .filter(|(_, codes)| !codes.is_empty())
        .map(|(p, codes)| {
            let codes = codes
                .iter()
                .map(|(c, n)| (no_reply::label(*c), *n))
                .collect();
            (p.as_str(), codes)
        })
        .collect()
}

fn node_json(name: String, s: &SlotStats) -> LoadNodeJson {
    LoadNodeJson {
        name,
        submitted: s.submitted,
        accepted: s.accepted,
        phases: Phases::of(&s.phases),
    }
}

/// How a node name reads in reports.
pub fn node_label(name: &str) -> String {
    if name == NO_BANNER {
        "(no banner)".to_owned()
    } else {
        name.to_owned()
    }
}

impl LoadJson {
    /// The `load` section and the `submit_replies` tally.
    pub fn new(r: &LoadMeasurements) -> (LoadJson, RepliesJson) {
        let all = r.stats.overall();
        let json = LoadJson {
            model: match r.model {
                LoadModel::Open => "open",
                LoadModel::Closed => "closed",
            },
            sessions: r.sessions,
            planned: (r.model == LoadModel::Open).then_some(r.planned),
            shortfall: r.shortfall,
            submitted: all.submitted,
            accepted: all.accepted,
            phases: Phases::of(&all.phases),
            nodes: r
                .stats
                .by_node()
                .iter()
                .map(|(n, s)| node_json(node_label(n), s))
                .collect(),
            endpoints: r
                .stats
                .by_endpoint()
                .iter()
                .map(|(e, s)| {
                    let name = r.endpoints.get(*e as usize).cloned().unwrap_or_default();
                    node_json(name, s)
                })
                .collect(),
            hlog_files: r
                .stats
                .hlog_files
                .iter()
                .map(|p| p.display().to_string())
                .collect(),
            hlog_error: r.stats.hlog_error.clone(),
        };
        (json, replies_json(&all))
    }
}

/// The terminal's view: the load line, the phase table, nodes, replies.
pub fn render(load: &LoadJson, replies: &RepliesJson) -> String {
    let mut t = String::new();
    let _ = match load.planned {
        Some(planned) => writeln!(
            t,
            "  load: open model, {} sessions · planned {planned} · submitted {} · accepted {} · shortfall {}{}",
            load.sessions,
            load.submitted,
            load.accepted,
            load.shortfall,
            if load.shortfall > 0 {
                format!(
                    " ({:.1}% of planned: the target or the sessions could not keep up)",
                    load.shortfall as f64 * 100.0 / planned.max(1) as f64
                )
            } else {
                String::new()
            }
        ),
        None => writeln!(
            t,
            "  load: closed model, {} sessions back to back · submitted {} · accepted {}",
            load.sessions, load.submitted, load.accepted
        ),
    };
    if !load.phases.0.is_empty() {
        let _ = writeln!(
            t,
            "  {:<9} {:>9} {:>10} {:>10} {:>10} {:>10}  replies",
            "phase", "count", "p50", "p90", "p99", "max"
        );
        for (phase, p) in &load.phases.0 {
            let codes = replies
                .get(phase.as_str())
                .map(|c| {
                    c.iter()
                        .map(|(code, n)| format!("{code}×{n}"))
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .unwrap_or_default();
            let _ = writeln!(
                t,
                "  {:<9} {:>9} {:>10} {:>10} {:>10} {:>10}  {codes}",
                phase.as_str(),
                p.count,
                show_ms(p.p50_ms),
                show_ms(p.p90_ms),
                show_ms(p.p99_ms),
                show_ms(p.max_ms),
            );
        }
    }
    // Replies at stages that were never timed (a refused connect, say).
    for (stage, codes) in replies {
        if load.phases.0.iter().all(|(p, _)| p.as_str() != *stage) {
            let codes: Vec<String> = codes.iter().map(|(c, n)| format!("{c}×{n}")).collect();
            let _ = writeln!(t, "  {stage:<9} {:>9}  replies {}", "-", codes.join(" "));
        }
    }
    if load.nodes.len() > 1 || load.endpoints.len() > 1 {
        for n in &load.nodes {
            let dot = n
                .phases
                .get(Phase::Dot)
                .map(|d| format!(" · dot p50 {} p99 {}", show_ms(d.p50_ms), show_ms(d.p99_ms)))
                .unwrap_or_default();
            let _ = writeln!(
                t,
                "  node {}: submitted {} accepted {}{dot}",
                n.name, n.submitted, n.accepted
            );
        }
    }
    t
}

fn show_ms(ms: f64) -> String {
    if ms >= 1000.0 {
        format!("{:.2}s", ms / 1000.0)
    } else {
        format!("{ms:.3}ms")
    }
}
