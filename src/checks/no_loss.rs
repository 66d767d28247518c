//! `no_loss`: every message the cluster accepted is accounted for by the end of settle.
//!
//! Accounted for = every recipient arrived, or a bounce came back (the cluster told the
//! sender, which is its duty when it gives up). Lost = accepted and neither. The lost
//! are broken down by the node that accepted them, because that is how a stuck node's
//! stranded queue shows up; partly delivered ones (some recipients arrived) are counted
//! separately since they point at per-recipient retries rather than a dead queue.
//! Nothing accepted → inconclusive.

use std::collections::BTreeMap;

use super::common::{evidence, fmt_count, inconclusive};
use super::{Finding, Status};
use crate::collector::ledger::NO_NODE;
use crate::collector::Ledger;

const NAME: &str = "no_loss";

pub(super) fn judge(ledger: &Ledger) -> Finding {
    let limit = "every accepted message delivered or bounced".to_string();
    let mut accepted = 0usize;
    let mut delivered = 0usize;
    let mut bounced = 0usize;
    let mut lost: Vec<usize> = Vec::new();
    let mut partly = 0usize;
    // Accepting node → lost count; NO_NODE sorts last, which reads well.
    let mut by_node: BTreeMap<u8, usize> = BTreeMap::new();
    for (seq, r) in ledger.records.iter().enumerate() {
        if !r.accepted() {
            continue;
        }
        accepted += 1;
        if r.delivered() {
            delivered += 1;
        } else if r.bounced() {
            bounced += 1;
        } else {
            lost.push(seq);
            *by_node.entry(r.accepted_node).or_default() += 1;
            if r.partly_delivered() {
                partly += 1;
            }
        }
    }
    if accepted == 0 {
        return inconclusive(
            NAME,
            limit,
            "no message was accepted, so none can be lost".to_string(),
        );
    }

    let accounted = format!(
        "{} delivered, {} bounced",
        fmt_count(delivered),
        fmt_count(bounced)
    );
    if lost.is_empty() {
        return Finding {
            name: NAME.to_string(),
            status: Status::Pass,
            observed: format!("0 of {} accepted lost", fmt_count(accepted)),
            limit,
            detail: format!("all accounted for: {accounted}"),
            evidence: Vec::new(),
        };
    }
    let nodes = by_node
        .iter()
        .map(|(&node, &n)| {
            if node == NO_NODE {
                format!("{} by an unknown node", fmt_count(n))
            } else {
                format!("{} by {}", fmt_count(n), ledger.node_name(node))
            }
        })
        .collect::<Vec<_>>()
        .join(", ");
    let mut detail = format!("never delivered nor bounced: accepted {nodes}");
    if partly > 0 {
        detail += &format!(" ({} of them partly delivered)", fmt_count(partly));
    }
    detail += &format!("; the rest are accounted for: {accounted}");
    Finding {
        name: NAME.to_string(),
        status: Status::Fail,
        observed: format!(
            "{} of {} accepted never delivered nor bounced",
            fmt_count(lost.len()),
            fmt_count(accepted)
        ),
        limit,
        detail,
        evidence: evidence(ledger, lost),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::{bounced, LedgerBuilder};
    use super::*;
    use crate::collector::ledger::flag;

    #[test]
    fn table() {
        struct Case {
            name: &'static str,
            ledger: Ledger,
            status: Status,
            observed: &'static str,
            detail: &'static str,
            evidence: &'static [&'static str],
        }
        let cases = vec![
            Case {
                name: "all delivered or bounced",
                ledger: LedgerBuilder::new()
                    .msgs(3, 100, Some(200))
                    .msg(100, None)
                    .with(bounced(5_000))
                    .not_accepted(100, flag::REJECTED) // never the cluster's responsibility
                    .build(),
                status: Status::Pass,
                observed: "0 of 4 accepted lost",
                detail: "all accounted for: 3 delivered, 1 bounced",
                evidence: &[],
            },
            Case {
                name: "a stuck node's stranded messages",
                ledger: LedgerBuilder::new()
                    .node("n1")
                    .msgs(2, 100, Some(200))
                    .msg(100, None)
                    .node("n2")
                    .msgs(3, 100, None)
                    .with(|r| r.delivered_mask = 1) // partly delivered (of 2 recipients)
                    .with(|r| r.rcpts = 2)
                    .no_node()
                    .msg(100, None)
                    .msg(100, None)
                    .with(bounced(9_000))
                    .build(),
                status: Status::Fail,
                observed: "5 of 8 accepted never delivered nor bounced",
                detail: "never delivered nor bounced: accepted 1 by n1, 3 by n2, 1 by an unknown node \
                         (1 of them partly delivered); the rest are accounted for: 2 delivered, 1 bounced",
                evidence: &["run.2", "run.3", "run.4", "run.5", "run.6"],
            },
            Case {
                name: "nothing accepted",
                ledger: LedgerBuilder::new().not_accepted(100, flag::SUBMIT_FAILED).build(),
                status: Status::Inconclusive,
                observed: "no data",
                detail: "no message was accepted, so none can be lost",
                evidence: &[],
            },
        ];
        for c in cases {
            let f = judge(&c.ledger);
            assert_eq!(f.status, c.status, "{}: {f:?}", c.name);
            assert_eq!(f.observed, c.observed, "{}", c.name);
            assert_eq!(f.detail, c.detail, "{}", c.name);
            assert_eq!(f.evidence, c.evidence, "{}", c.name);
            assert_eq!(f.limit, "every accepted message delivered or bounced");
        }
    }
}
