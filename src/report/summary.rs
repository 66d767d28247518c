//! `summary.json`: the machine-readable verdict (schema in `reports/README.md`).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::checks::{fmt_count, fmt_pct, Aborted, DataCompleteness, Finding, Status, Verdict};
use crate::collector::ledger::RemoteCounters;
use crate::collector::{Ledger, Progress};
use crate::report::LoadSection;
use crate::scenario::{FaultSubject, Plan};

/// 2: `verdict` may be `aborted`; `abort` and `checks[].partial` added.
pub const SCHEMA_VERSION: u32 = 2;
pub const FILE: &str = "summary.json";

#[derive(Debug, Serialize)]
pub struct Summary {
    pub schema_version: u32,
    pub name: String,
    pub scenario: String,
    pub run_id: String,
    /// Load start, RFC 3339 UTC.
    pub started: String,
    /// From load start to the end of measurement.
    pub duration_s: f64,
    /// `aborted` when the run ended early, else `pass` when every check passed, else `fail`.
    pub verdict: Verdict,
    /// The run ended early (kept from schema 1; `abort` says why).
    pub aborted: bool,
    /// Why and when the run ended early; `null` when it went to its end.
    pub abort: Option<Aborted>,
    /// `abort_on_fail`: the run stopped because this check could no longer pass (the
    /// verdict is `fail`); absent when it did not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped_early: Option<crate::checks::stop_early::StoppedEarly>,
    pub checks: Vec<CheckJson>,
    pub totals: Progress,
    pub nodes: Vec<NodeJson>,
    pub domains: Vec<DomainJson>,
    pub remotes: BTreeMap<String, RemoteCounters>,
    pub faults: Vec<FaultJson>,
    /// Reply code (0 = no reply) → messages the cluster did not accept.
    pub submit_rejections: BTreeMap<u16, u64>,
    /// The generator: model, shortfall, per-phase latency overall, per node, per endpoint.
    pub load: serde_json::Value,
    /// Every reply the target gave the generator, by stage: `{ "rcpt": { "250": 9000 } }`.
    pub submit_replies: serde_json::Value,
    /// The per-phase table the terminal prints (not in the JSON).
    #[serde(skip)]
    pub load_table: String,
    /// Messages seen at remotes that belong to no message of this run.
    pub foreign: u64,
    /// Mail that reached a remote not serving its domain, per (remote reached, domain);
    /// empty when none was. Each message counted once (`totals.misrouted` is the sum).
    pub misrouted: Vec<MisroutedJson>,
    /// Queue probe results per node (empty without `target.probes`).
    pub queue: Vec<QueueJson>,
    /// What went wrong in the harness's own actions (a failed `exec`), one line each.
    pub problems: Vec<String>,
    /// Whether every figure the checks needed was measured and the planned load applied.
    pub data: DataJson,
    /// What was done by hand during the run (`--live-control`), in order; absent when
    /// nobody steered. The checks judged the timeline as it ran.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub steered: Vec<crate::checks::steered::Steered>,
    /// The routing preflight: `passed` (each canary's time), `skipped` or `not_needed`;
    /// absent for runs saved before it existed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preflight: Option<crate::preflight::PreflightReport>,
    /// A merged run (`mailquake merge`): the shards it was judged from; absent for a
    /// run of one process.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub shards: Vec<super::ShardJson>,
    /// Why, from the nodes (`crate::diagnose`): the findings of the rules and the
    /// evidence they read; absent when no evidence was collected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diagnosis: Option<crate::diagnose::Diagnosis>,
}

/// `summary.json` → `data`: what the measured data lacks (the checks that needed it are
/// inconclusive).
#[derive(Debug, Serialize)]
pub struct DataJson {
    /// No remote event lost, no probe sample missed, shortfall within `load.max_shortfall`.
    pub complete: bool,
    /// Events lost while following remotes served elsewhere.
    pub remote_events_lost: u64,
    /// Queue probe samples due (every probed node together) and those that brought no
    /// reading (failed, or late by more than a period).
    pub probe_samples_expected: u64,
    pub probe_samples_missed: u64,
    /// Open model: messages the load shape called for; `null` for the closed model.
    pub planned: Option<u64>,
    pub submitted: u64,
    /// Called for but not sent, and its share of `planned` (percent).
    pub shortfall: u64,
    pub shortfall_pct: f64,
    pub max_shortfall_pct: f64,
    /// The shortfall is within the limit (not in the JSON: the two figures above say it).
    #[serde(skip)]
    load_applied: bool,
    /// Closed model stopped by hand: (stopped at, planned end), ms — for the warning.
    #[serde(skip)]
    closed_cut_short: Option<(u32, u32)>,
}

impl DataJson {
    fn new(data: &DataCompleteness, max_shortfall: f64) -> Self {
        // Three decimals: 23.0, not 23.000000000000004.
        let pct = |ratio: f64| (ratio * 100_000.0).round() / 1000.0;
        DataJson {
            complete: data.complete(max_shortfall),
            remote_events_lost: data.remote_events_lost,
            probe_samples_expected: data.probe_samples_expected(),
            probe_samples_missed: data.probe_samples_missed(),
            planned: data.planned,
            submitted: data.submitted,
            shortfall: data.shortfall,
            shortfall_pct: pct(data.shortfall_ratio()),
            max_shortfall_pct: pct(max_shortfall),
            load_applied: data.shortfall_ratio() <= max_shortfall,
            closed_cut_short: data.closed_cut_short(),
        }
    }

    /// One line saying what is missing, or `None` when the data is complete.
    pub fn warning(&self) -> Option<String> {
        if self.complete {
            return None;
        }
        let mut parts = Vec::new();
        if !self.load_applied {
            parts.push(match self.closed_cut_short {
                Some((stopped, planned)) => format!(
                    "the planned load was not applied (closed model stopped by hand at {:.1}s of its planned {:.1}s: {} of its time not run, limit {})",
                    f64::from(stopped) / 1000.0,
                    f64::from(planned) / 1000.0,
                    fmt_pct(self.shortfall_pct / 100.0),
                    fmt_pct(self.max_shortfall_pct / 100.0)
                ),
                None => format!(
                    "the planned load was not applied ({} shortfall, limit {})",
                    fmt_pct(self.shortfall_pct / 100.0),
                    fmt_pct(self.max_shortfall_pct / 100.0)
                ),
            });
        }
        if self.remote_events_lost > 0 {
            parts.push(format!(
                "{} remote events lost",
                fmt_count(self.remote_events_lost)
            ));
        }
        if self.probe_samples_missed > 0 {
            parts.push(format!(
                "{} of {} queue probe samples missed",
                fmt_count(self.probe_samples_missed),
                fmt_count(self.probe_samples_expected)
            ));
        }
        Some(format!(
            "incomplete: {}; the checks that needed it are inconclusive",
            parts.join(" · ")
        ))
    }
}

#[derive(Debug, Serialize)]
pub struct QueueJson {
    pub node: String,
    pub samples: usize,
    /// Most messages held at once.
    pub peak: u32,
    /// Messages held at the last sample.
    pub last: u32,
}

#[derive(Debug, Serialize)]
pub struct CheckJson {
    pub name: String,
    pub passed: bool,
    pub status: Status,
    pub observed: String,
    pub limit: String,
    pub detail: String,
    pub evidence: Vec<String>,
    /// Judged on the data of a run that ended early.
    pub partial: bool,
    /// A failed `isolation` or `drain`: the diagnosis's findings that explain it, one
    /// line per rule and destination (`diagnosis.findings` has each node's, with its
    /// settings and evidence).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub explanations: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct MisroutedJson {
    /// The remote the mail reached.
    pub remote: String,
    /// The domain it was for (which that remote does not serve).
    pub domain: String,
    pub messages: u64,
}

#[derive(Debug, Serialize)]
pub struct NodeJson {
    pub name: String,
    pub accepted: u64,
    pub delivered: u64,
}

#[derive(Debug, Serialize)]
pub struct DomainJson {
    pub name: String,
    pub accepted: u64,
    pub delivered: u64,
    pub bounced: u64,
    /// Delivery latency (accepted → arrived) of delivered messages, milliseconds.
    pub latency_p50_ms: Option<u32>,
    pub latency_p99_ms: Option<u32>,
    pub latency_max_ms: Option<u32>,
}

#[derive(Debug, Serialize)]
pub struct FaultJson {
    pub subject: String,
    pub fault: String,
    pub at_s: f64,
    /// `null`: until the end of the run.
    pub for_s: Option<f64>,
    /// How often a remote fault acted in its window (`FaultFired` events); `null` for
    /// node faults and `exec` actions, faults beyond the plan, and in runs saved before
    /// it was counted. `0` makes the checks resting on the window inconclusive.
    pub fired: Option<u64>,
    /// `scenario` (the plan's timeline), or what the remotes reported changed it:
    /// `api` (set by hand or by another tool), `timeline` (the served remotes' own),
    /// `lease` (never begins a window).
    pub source: String,
}

impl Summary {
    /// `steered by hand: …` for every verdict line, when someone steered the run.
    pub fn steered_note(&self) -> Option<String> {
        crate::checks::steered::verdict_note(&self.steered)
    }

    pub fn new(
        plan: &Plan,
        ledger: &Ledger,
        progress: Progress,
        findings: &[Finding],
        load: &LoadSection,
        abort: Option<&Aborted>,
    ) -> Self {
        let started = std::time::UNIX_EPOCH + std::time::Duration::from_micros(ledger.t0_us);
        let diagnosis = load.evidence.as_ref().map(|e| crate::diagnose::Diagnosis {
            findings: crate::diagnose::explain(e),
            evidence: e.clone(),
        });
        let explains = |f: &Finding| -> Vec<String> {
            match &diagnosis {
                Some(d) if !f.passed() && matches!(f.name.as_str(), "isolation" | "drain") => {
                    crate::diagnose::condensed(&d.findings)
                }
                _ => Vec::new(),
            }
        };
        Summary {
            schema_version: SCHEMA_VERSION,
            name: plan.name.clone(),
            scenario: plan.source.display().to_string(),
            run_id: ledger.run_id.clone(),
            started: humantime::format_rfc3339_seconds(started).to_string(),
            duration_s: ledger.end_ms as f64 / 1000.0,
            // Stopped early, the planned load was not applied: never a pass.
            verdict: Verdict::decide(
                findings,
                abort,
                load.data.shortfall_ratio() <= plan.load.max_shortfall
                    && load.data.stopped_early.is_none(),
            ),
            aborted: abort.is_some(),
            abort: abort.cloned(),
            stopped_early: load.data.stopped_early.clone(),
            checks: findings
                .iter()
                .map(|f| CheckJson {
                    name: f.name.clone(),
                    passed: f.passed(),
                    status: f.status,
                    observed: f.observed.clone(),
                    limit: f.limit.clone(),
                    detail: f.detail.clone(),
                    evidence: f.evidence.clone(),
                    partial: abort.is_some(),
                    explanations: explains(f),
                })
                .collect(),
            totals: progress,
            nodes: nodes(ledger),
            domains: domains(ledger),
            remotes: ledger.remotes.clone(),
            faults: {
                // The ledger's windows are the plan's remote faults, in plan order.
                let mut fired = ledger.fault_windows.iter().map(|w| w.fired);
                plan.faults
                    .iter()
                    .map(|f| {
                        let (subject, fault) = (f.subject.target(), f.subject.kind().to_string());
                        let remote = matches!(f.subject, FaultSubject::Remote { .. });
                        FaultJson {
                            subject,
                            fault,
                            at_s: f.at.as_secs_f64(),
                            for_s: f.duration.map(|d| d.as_secs_f64()),
                            fired: if remote { fired.next() } else { None },
                            source: "scenario".into(),
                        }
                    })
                    .chain(
                        crate::checks::recorded::beyond_plan(plan, ledger)
                            .into_iter()
                            .map(|(remote, from, to, kinds, source)| FaultJson {
                                subject: format!("remote {remote}"),
                                fault: kinds.join(" + "),
                                at_s: f64::from(from) / 1000.0,
                                // Still in force when measurement stopped: until the end.
                                for_s: (to < ledger.end_ms).then(|| f64::from(to - from) / 1000.0),
                                fired: None,
                                source: source.as_str().into(),
                            }),
                    )
                    .collect()
            },
            steered: load.data.steered.clone(),
            submit_rejections: ledger.submit_rejections.clone(),
            load: load.load.clone(),
            submit_replies: load.submit_replies.clone(),
            load_table: load.table.clone(),
            foreign: ledger.foreign,
            misrouted: ledger
                .misrouted
                .iter()
                .flat_map(|(remote, domains)| {
                    domains.iter().map(|(domain, n)| MisroutedJson {
                        remote: remote.clone(),
                        domain: domain.clone(),
                        messages: *n,
                    })
                })
                .collect(),
            queue: queue(ledger),
            problems: load.problems.clone(),
            data: DataJson::new(&load.data, plan.load.max_shortfall),
            preflight: load.preflight.clone(),
            shards: load.shards.clone(),
            diagnosis,
        }
    }

    pub fn passed(&self) -> bool {
        self.verdict == Verdict::Pass
    }

    /// `judged on partial data (run aborted at 12.3s)` when the run ended early.
    pub fn partial_note(&self) -> Option<String> {
        self.abort
            .as_ref()
            .map(|a| format!("judged on partial data (run aborted at {:.1}s)", a.at_s))
    }
}

fn queue(ledger: &Ledger) -> Vec<QueueJson> {
    let mut out: Vec<QueueJson> = Vec::new();
    for s in &ledger.queue {
        let name = ledger.node_name(s.node);
        match out.iter_mut().find(|q| q.node == name) {
            Some(q) => {
                q.samples += 1;
                q.peak = q.peak.max(s.total);
                q.last = s.total;
            }
            None => out.push(QueueJson {
                node: name.to_string(),
                samples: 1,
                peak: s.total,
                last: s.total,
            }),
        }
    }
    out
}

fn nodes(ledger: &Ledger) -> Vec<NodeJson> {
    let mut out: Vec<NodeJson> = ledger
        .nodes
        .iter()
        .map(|n| NodeJson {
            name: n.clone(),
            accepted: 0,
            delivered: 0,
        })
        .collect();
    for r in &ledger.records {
        if r.accepted() {
            if let Some(n) = out.get_mut(r.accepted_node as usize) {
                n.accepted += 1;
            }
        }
        if r.partly_delivered() {
            if let Some(n) = out.get_mut(r.delivered_node as usize) {
                n.delivered += 1;
            }
        }
    }
    out
}

fn domains(ledger: &Ledger) -> Vec<DomainJson> {
    let mut latencies: Vec<Vec<u32>> = vec![Vec::new(); ledger.domains.len()];
    let mut out: Vec<DomainJson> = ledger
        .domains
        .iter()
        .map(|d| DomainJson {
            name: d.clone(),
            accepted: 0,
            delivered: 0,
            bounced: 0,
            latency_p50_ms: None,
            latency_p99_ms: None,
            latency_max_ms: None,
        })
        .collect();
    for r in &ledger.records {
        let Some(d) = out.get_mut(r.domain as usize) else {
            continue;
        };
        d.accepted += r.accepted() as u64;
        d.delivered += r.delivered() as u64;
        d.bounced += r.bounced() as u64;
        if let Some(l) = r.delivery_latency_ms() {
            latencies[r.domain as usize].push(l);
        }
    }
    for (d, mut l) in out.iter_mut().zip(latencies) {
        l.sort_unstable();
        let at = |q: f64| {
            l.get(((q * l.len() as f64).ceil() as usize).clamp(1, l.len().max(1)) - 1)
                .copied()
        };
        d.latency_p50_ms = at(0.50);
        d.latency_p99_ms = at(0.99);
        d.latency_max_ms = l.last().copied();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::ledger::{flag, MessageRecord};

    #[test]
    fn data_warning_names_what_is_missing() {
        use crate::checks::completeness::ProbeCoverage;
        let complete = DataCompleteness {
            planned: Some(1000),
            submitted: 995,
            shortfall: 5,
            ..Default::default()
        };
        let json = DataJson::new(&complete, 0.01);
        assert!(json.complete && json.warning().is_none());
        assert_eq!((json.shortfall_pct, json.max_shortfall_pct), (0.5, 1.0));
        let cases = [
            (
                DataCompleteness {
                    shortfall: 230,
                    ..complete.clone()
                },
                "incomplete: the planned load was not applied (23% shortfall, limit 1%); the checks that needed it are inconclusive",
            ),
            (
                DataCompleteness {
                    remote_events_lost: 1200,
                    probes: vec![ProbeCoverage {
                        node: "n1".into(),
                        taken: 57,
                        missed: 3,
                        gaps: vec![(1000, 5000)],
                    }],
                    ..complete.clone()
                },
                "incomplete: 1,200 remote events lost · 3 of 60 queue probe samples missed; the checks that needed it are inconclusive",
            ),
        ];
        for (data, want) in cases {
            let json = DataJson::new(&data, 0.01);
            assert!(!json.complete);
            assert_eq!(json.warning().as_deref(), Some(want));
        }
    }

    #[test]
    fn per_domain_latency_and_per_node_counts() {
        let mut ledger = Ledger {
            domains: vec!["ok.test".into()],
            nodes: vec!["n1".into(), "n2".into()],
            ..Default::default()
        };
        for i in 0..100u32 {
            ledger.records.push(MessageRecord {
                flags: flag::SUBMITTED | flag::ACCEPTED,
                accepted_ms: 0,
                delivered_ms: i + 1,
                delivered_mask: 1,
                accepted_node: 0,
                delivered_node: 1,
                ..Default::default()
            });
        }
        let d = &domains(&ledger)[0];
        assert_eq!((d.accepted, d.delivered), (100, 100));
        assert_eq!(
            (d.latency_p50_ms, d.latency_p99_ms, d.latency_max_ms),
            (Some(50), Some(99), Some(100))
        );
        let n = nodes(&ledger);
        assert_eq!(
            (n[0].accepted, n[0].delivered, n[1].accepted, n[1].delivered),
            (100, 0, 0, 100)
        );
    }
}
