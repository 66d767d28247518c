//! `nodes`: every node that accepted mail also delivered mail (no stuck node), and each
//! delivered at least `min_ratio` of what it accepted.
//!
//! Per node: accepted = messages it accepted (banner host name at submission);
//! delivered = messages with any recipient arrived that it relayed (top `Received: by`
//! at the remote). The two sides are counted independently because a cluster may hand
//! mail between nodes; a node that delivered without accepting is listed, never failed.
//! A node with accepted > 0 and delivered = 0 fails by name ("stuck?"), as does one
//! under `min_ratio`. If no accepted message has a known node, nothing can be judged →
//! inconclusive. Deliveries with no known relay (no `Received:` header) are reported.

use super::common::{evidence, fmt_count, fmt_pct, inconclusive};
use super::{Finding, Status};
use crate::collector::ledger::NO_NODE;
use crate::collector::Ledger;

const NAME: &str = "nodes";

pub(super) fn judge(ledger: &Ledger, min_ratio: f64) -> Finding {
    let limit = if min_ratio > 0.0 {
        format!(
            "every node that accepts delivers; delivered/accepted ≥ {} per node",
            fmt_pct(min_ratio)
        )
    } else {
        "every node that accepts delivers".to_string()
    };
    // Indexed by node (NO_NODE = 255 is the "unknown" slot).
    let mut accepted = [0usize; 256];
    let mut delivered = [0usize; 256];
    for r in &ledger.records {
        if r.accepted() {
            accepted[usize::from(r.accepted_node)] += 1;
        }
        if r.partly_delivered() {
            delivered[usize::from(r.delivered_node)] += 1;
        }
    }
    let unknown = usize::from(NO_NODE);
    let known_accepted: usize = accepted[..unknown].iter().sum();
    if known_accepted == 0 {
        let detail = if accepted[unknown] == 0 {
            "no message was accepted".to_string()
        } else {
            format!(
                "no node names were learnt: none of the {} accepted messages has a known accepting node (banner host name)",
                fmt_count(accepted[unknown])
            )
        };
        return inconclusive(NAME, limit, detail);
    }

    let nodes: Vec<usize> = (0..unknown)
        .filter(|&i| accepted[i] > 0 || delivered[i] > 0)
        .collect();
    let observed = nodes
        .iter()
        .map(|&i| {
            format!(
                "{} {}→{}",
                ledger.node_name(i as u8),
                fmt_count(accepted[i]),
                fmt_count(delivered[i])
            )
        })
        .collect::<Vec<_>>()
        .join(", ");

    let mut problems = Vec::new();
    let mut bad_nodes = Vec::new();
    for &i in &nodes {
        let (a, d) = (accepted[i], delivered[i]);
        let name = ledger.node_name(i as u8);
        if a == 0 {
            continue;
        }
        let ratio = d as f64 / a as f64;
        if d == 0 {
            problems.push(format!(
                "{name} accepted {} messages and delivered none (stuck?)",
                fmt_count(a)
            ));
            bad_nodes.push(i as u8);
        } else if ratio + 1e-12 < min_ratio {
            problems.push(format!(
                "{name} delivered {} of {} accepted ({}), under {}",
                fmt_count(d),
                fmt_count(a),
                fmt_pct(ratio),
                fmt_pct(min_ratio)
            ));
            bad_nodes.push(i as u8);
        }
    }
    let status = if problems.is_empty() {
        Status::Pass
    } else {
        Status::Fail
    };
    if problems.is_empty() {
        problems.push(format!(
            "all {} nodes that accepted mail delivered some",
            nodes.iter().filter(|&&i| accepted[i] > 0).count()
        ));
    }
    let mut notes = Vec::new();
    if delivered[unknown] > 0 {
        notes.push(format!(
            "{} deliveries without a known node (no Received header)",
            fmt_count(delivered[unknown])
        ));
    }
    if accepted[unknown] > 0 {
        notes.push(format!(
            "{} accepted messages without a known node",
            fmt_count(accepted[unknown])
        ));
    }
    let mut detail = problems.join("; ");
    if !notes.is_empty() {
        detail += &format!(" ({})", notes.join("; "));
    }

    // Evidence: messages a failing node accepted that are still outstanding.
    let seqs = ledger
        .records
        .iter()
        .enumerate()
        .filter(|(_, r)| bad_nodes.contains(&r.accepted_node) && r.outstanding())
        .map(|(s, _)| s);
    Finding {
        name: NAME.to_string(),
        status,
        observed,
        limit,
        detail,
        evidence: evidence(ledger, seqs),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::LedgerBuilder;
    use super::*;

    #[test]
    fn table() {
        struct Case {
            name: &'static str,
            ledger: Ledger,
            min_ratio: f64,
            status: Status,
            observed: &'static str,
            detail: &'static str,
            evidence: &'static [&'static str],
        }
        let cases = vec![
            Case {
                name: "every node delivers",
                ledger: LedgerBuilder::new()
                    .node("n1")
                    .msgs(4, 100, Some(200))
                    .node("n2")
                    .msgs(3, 100, Some(200))
                    .msg(100, None)
                    .build(),
                min_ratio: 0.5,
                status: Status::Pass,
                observed: "n1 4→4, n2 4→3",
                detail: "all 2 nodes that accepted mail delivered some",
                evidence: &[],
            },
            Case {
                name: "stuck node is named",
                ledger: LedgerBuilder::new()
                    .node("n1")
                    .msgs(4, 100, Some(200))
                    .node("n2")
                    .msgs(3, 100, None)
                    .build(),
                min_ratio: 0.0,
                status: Status::Fail,
                observed: "n1 4→4, n2 3→0",
                detail: "n2 accepted 3 messages and delivered none (stuck?)",
                evidence: &["run.4", "run.5", "run.6"],
            },
            Case {
                name: "ratio under the minimum; relaying node and unknown deliveries reported",
                ledger: LedgerBuilder::new()
                    .node("n1")
                    .msgs(4, 100, Some(200))
                    .node("n2")
                    .msg(100, Some(200))
                    .msgs(3, 100, None)
                    .node("n3")
                    .msg(100, Some(200))
                    .with(|r| r.accepted_node = NO_NODE) // only seen relaying
                    .no_node()
                    .msg(100, Some(200))
                    .build(),
                min_ratio: 0.5,
                status: Status::Fail,
                observed: "n1 4→4, n2 4→1, n3 0→1",
                detail: "n2 delivered 1 of 4 accepted (25%), under 50% (1 deliveries without a known node \
                         (no Received header); 2 accepted messages without a known node)",
                evidence: &["run.5", "run.6", "run.7"],
            },
            Case {
                name: "no node names learnt",
                ledger: LedgerBuilder::new().msgs(3, 100, Some(200)).build(),
                min_ratio: 0.5,
                status: Status::Inconclusive,
                observed: "no data",
                detail: "no node names were learnt: none of the 3 accepted messages has a known accepting node (banner host name)",
                evidence: &[],
            },
            Case {
                name: "nothing accepted",
                ledger: LedgerBuilder::new().build(),
                min_ratio: 0.5,
                status: Status::Inconclusive,
                observed: "no data",
                detail: "no message was accepted",
                evidence: &[],
            },
        ];
        for c in cases {
            let f = judge(&c.ledger, c.min_ratio);
            assert_eq!(f.status, c.status, "{}: {f:?}", c.name);
            assert_eq!(f.observed, c.observed, "{}", c.name);
            assert_eq!(f.detail, c.detail, "{}", c.name);
            assert_eq!(f.evidence, c.evidence, "{}", c.name);
        }
    }
}
