//! `no_loss`: every message the cluster accepted is accounted for by the end of settle.
//!
//! Accounted for = every recipient arrived, or a bounce came back (the cluster told the
//! sender, which is its duty when it gives up). Lost = accepted and neither. The lost
//! are broken down by the node that accepted them, because that is how a stuck node's
//! stranded queue shows up; partly delivered ones (some recipients arrived) are counted
//! separately since they point at per-recipient retries rather than a dead queue.
//! Nothing accepted → inconclusive.
//!
//! Mail still arriving at the remotes when measurement stopped was not lost but cut off
//! by `settle`: then the finding says "still queued when settle ended (N after the
//! load), still delivering at R/s", so the reader knows to raise `settle`; "never
//! delivered nor bounced" is kept for a queue where nothing moved in the last seconds.

use std::collections::BTreeMap;

use super::common::{evidence, fmt_count, inconclusive};
use super::settle_end::SettleEnd;
use super::{Finding, Status};
use crate::collector::ledger::NO_NODE;
use crate::collector::Ledger;

const NAME: &str = "no_loss";

/// `load_end_ms`: when the load ended (ms since its start), to say how long settle ran.
pub(super) fn judge(ledger: &Ledger, load_end_ms: u32) -> Finding {
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
    let end = SettleEnd::measure(ledger, load_end_ms);
    let how = if end.still_delivering() {
        end.still_queued()
    } else {
        "never delivered nor bounced".to_string()
    };
    let mut detail = format!("{how}: accepted {nodes}");
    if partly > 0 {
        detail += &format!(" ({} of them partly delivered)", fmt_count(partly));
    }
    detail += &format!("; the rest are accounted for: {accounted}");
    if end.still_delivering() {
        detail +=
            "; the cluster was still draining its queue: raise `settle` so the run waits for it";
    }
    Finding {
        name: NAME.to_string(),
        status: Status::Fail,
        observed: format!(
            "{} of {} accepted {how}",
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
            let f = judge(&c.ledger, 0);
            assert_eq!(f.status, c.status, "{}: {f:?}", c.name);
            assert_eq!(f.observed, c.observed, "{}", c.name);
            assert_eq!(f.detail, c.detail, "{}", c.name);
            assert_eq!(f.evidence, c.evidence, "{}", c.name);
            assert_eq!(f.limit, "every accepted message delivered or bounced");
        }
    }

    /// Mail still arriving when settle ran out is "still queued", with the rate, not
    /// "never delivered": the run was cut short, the reader must raise `settle`. A
    /// queue where nothing moved in the last seconds keeps "never delivered".
    #[test]
    fn mail_still_flowing_at_the_end_is_still_queued_not_never_delivered() {
        // Load ends at 30s; measurement ends at 35s (settle 5s).
        let draining = |delivered_at: u32| {
            LedgerBuilder::new()
                .node("n1")
                .msgs(10, 1_000, Some(delivered_at))
                .msgs(3, 1_000, None)
                .ledger(|l| l.end_ms = 35_000)
                .build()
        };
        let table = [
            // 10 deliveries in the last 5 s: 2/s.
            (
                draining(33_000),
                "3 of 13 accepted still queued when settle ended (5s after the load), still delivering at 2.0/s",
                true,
            ),
            // The last delivery long before the end: nothing moves.
            (
                draining(2_000),
                "3 of 13 accepted never delivered nor bounced",
                false,
            ),
        ];
        for (ledger, observed, raise) in table {
            let f = judge(&ledger, 30_000);
            assert_eq!(f.status, Status::Fail);
            assert_eq!(f.observed, observed);
            assert_eq!(f.detail.contains("raise `settle`"), raise, "{}", f.detail);
        }
    }
}
