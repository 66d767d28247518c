//! Per-node attribution of the messages a check blames: how many of them each node
//! accepted, and how many each node relayed (those that arrived). A node that stalled
//! for a window shows up here by name even when the `nodes` check, which only looks for
//! a node that accepts and never delivers, passes.

use std::collections::BTreeMap;

use super::common::fmt_count;
use crate::collector::ledger::NO_NODE;
use crate::collector::Ledger;

/// `"late by accepting node: n1 12, n2 1,403; by relaying node: n2 4"` for the messages
/// `seqs` (`what` = `late`, `never arrived`…). The relaying part is left out when none
/// of them arrived; a message whose node is unknown counts as `unknown`. Empty for no
/// messages.
pub fn by_node(ledger: &Ledger, what: &str, seqs: impl IntoIterator<Item = usize>) -> String {
    let mut accepted: BTreeMap<u8, usize> = BTreeMap::new();
    let mut relayed: BTreeMap<u8, usize> = BTreeMap::new();
    for seq in seqs {
        let Some(r) = ledger.records.get(seq) else {
            continue;
        };
        *accepted.entry(r.accepted_node).or_default() += 1;
        if r.partly_delivered() {
            *relayed.entry(r.delivered_node).or_default() += 1;
        }
    }
    if accepted.is_empty() {
        return String::new();
    }
    let mut s = format!("{what} by accepting node: {}", counts(ledger, &accepted));
    if !relayed.is_empty() {
        s += &format!("; by relaying node: {}", counts(ledger, &relayed));
    }
    s
}

/// `n1 12, n2 1,403, unknown 1` (by name, the unknown node last).
fn counts(ledger: &Ledger, by: &BTreeMap<u8, usize>) -> String {
    let mut named: Vec<(bool, &str, usize)> = by
        .iter()
        .map(|(&node, &n)| {
            if node == NO_NODE {
                (true, "unknown", n)
            } else {
                (false, ledger.node_name(node), n)
            }
        })
        .collect();
    named.sort_unstable();
    named
        .iter()
        .map(|(_, name, n)| format!("{name} {}", fmt_count(*n)))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::super::testkit::LedgerBuilder;
    use super::*;

    #[test]
    fn table() {
        let ledger = LedgerBuilder::new()
            .node("n2") // first seen, but listed by name
            .node("n1")
            .msgs(2, 100, Some(9_000)) // 0, 1
            .node("n2")
            .msgs(1_403, 100, None) // 2..=1404
            .msg(100, Some(9_000)) // 1405
            .with(|r| r.delivered_node = 1) // accepted by n2, relayed by n1
            .no_node()
            .msg(100, None) // 1406
            .build();
        let cases: Vec<(&str, Vec<usize>, &str)> = vec![
            ("none", vec![], ""),
            (
                "arrived late: both sides",
                vec![0, 1, 1405],
                "late by accepting node: n1 2, n2 1; by relaying node: n1 3",
            ),
            (
                "never arrived: no relaying node",
                (2..=1404).chain([1406]).collect(),
                "never arrived by accepting node: n2 1,403, unknown 1",
            ),
            ("an unknown sequence number is skipped", vec![99_999], ""),
        ];
        for (name, seqs, want) in cases {
            let what = if name.starts_with("never") {
                "never arrived"
            } else {
                "late"
            };
            assert_eq!(by_node(&ledger, what, seqs), want, "{name}");
        }
    }
}
