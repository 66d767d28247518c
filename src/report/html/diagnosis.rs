//! The diagnosis as report.html shows it: each finding with the settings it names (and
//! where Postfix documents them) and its evidence, then per node the settings read, the
//! queue at its fullest and where delivery time went. Rendering only.

use serde::Serialize;

use crate::diagnose::shape::AGE_BUCKETS_S;
use crate::diagnose::{Diagnosis, Explanation};

#[derive(Serialize)]
pub struct DiagnosisHtml {
    findings: Vec<FindingHtml>,
    nodes: Vec<NodeHtml>,
    /// Embedded nodes: `n1 (shared, 8 workers): down.test 8 at once` lines.
    workers: Vec<String>,
    faulted: String,
    healthy: String,
}

#[derive(Serialize)]
struct FindingHtml {
    text: String,
    /// `smtp_helo_timeout = 300s (postconf(5): smtp_helo_timeout)`.
    settings: Vec<String>,
    evidence: Vec<String>,
}

#[derive(Serialize)]
struct NodeHtml {
    node: String,
    config_dir: String,
    settings: Vec<(String, String)>,
    /// `at 14.0 s: 255 held — ok.test 180 (ages …), down.test 75 (…)`.
    queue: Option<String>,
    deliveries: Vec<Delivery>,
    problems: Vec<String>,
}

#[derive(Serialize)]
struct Delivery {
    domain: String,
    sent: u64,
    deferred: u64,
    suspended: u64,
    /// `p50 / max` seconds of each part of `delays=a/b/c/d`.
    a: String,
    b: String,
    c: String,
    d: String,
    peak_busy: u32,
}

impl DiagnosisHtml {
    pub fn new(d: &Diagnosis) -> Self {
        let e = &d.evidence;
        DiagnosisHtml {
            findings: d.findings.iter().map(finding).collect(),
            nodes: e
                .postfix
                .iter()
                .map(|n| NodeHtml {
                    node: n.node.clone(),
                    config_dir: n.config_dir.clone(),
                    settings: n
                        .settings
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                    queue: n.queue.as_ref().map(|q| {
                        let rows: Vec<String> = q
                            .by_domain
                            .iter()
                            .map(|r| {
                                let ages: Vec<String> = r
                                    .ages
                                    .iter()
                                    .enumerate()
                                    .filter(|(_, n)| **n > 0)
                                    .map(|(i, n)| match AGE_BUCKETS_S.get(i) {
                                        Some(b) => format!("{n} under {b} s"),
                                        None => format!("{n} older"),
                                    })
                                    .collect();
                                format!("{} {} ({})", r.domain, r.queued, ages.join(", "))
                            })
                            .collect();
                        format!(
                            "at {:.1} s: {} held — {}",
                            f64::from(q.at_ms) / 1000.0,
                            q.total,
                            rows.join("; ")
                        )
                    }),
                    deliveries: n
                        .deliveries
                        .iter()
                        .map(|x| {
                            let p = |s: &crate::diagnose::maillog::DelayStat| {
                                format!("{:.1} / {:.1}", s.p50, s.max)
                            };
                            Delivery {
                                domain: x.domain.clone(),
                                sent: x.sent,
                                deferred: x.deferred,
                                suspended: x.suspended,
                                a: p(&x.a),
                                b: p(&x.b),
                                c: p(&x.c),
                                d: p(&x.d),
                                peak_busy: x.peak_busy,
                            }
                        })
                        .collect(),
                    problems: n.problems.clone(),
                })
                .collect(),
            workers: e
                .embedded
                .iter()
                .map(|w| {
                    let busy: Vec<String> = w
                        .peak_busy
                        .iter()
                        .map(|(d, n)| format!("{d} {n}"))
                        .collect();
                    format!(
                        "{} ({}, {} workers): most busy at once — {}",
                        w.node,
                        w.design,
                        w.workers,
                        busy.join(", ")
                    )
                })
                .collect(),
            faulted: e.faulted.join(", "),
            healthy: e.healthy.join(", "),
        }
    }
}

fn finding(f: &Explanation) -> FindingHtml {
    FindingHtml {
        text: f.text.clone(),
        settings: f
            .settings
            .iter()
            .map(|s| {
                let manual = if s.doc.contains("postconf.5") {
                    "postconf(5)"
                } else {
                    "scenarios/README.md"
                };
                format!("{} = {} ({manual}: {})", s.name, s.value, s.doc_name)
            })
            .collect(),
        evidence: f.evidence.clone(),
    }
}
