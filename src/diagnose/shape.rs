//! The queue's shape at a node's worst moment, what `qshape` shows: at the probe sample
//! where the node held the most mail, how much it held per destination (the probe's
//! count) and how old it was (the ledger: that node's messages accepted and not yet
//! delivered or bounced then, by age bucket). Pure.

use serde::{Deserialize, Serialize};

use crate::collector::Ledger;

/// Upper bounds of the age buckets, seconds (the last bucket is everything older).
pub const AGE_BUCKETS_S: [u32; 7] = [1, 2, 4, 8, 16, 32, 64];

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct QueueShape {
    /// ms since load start.
    pub at_ms: u32,
    /// Messages the node held (probe).
    pub total: u32,
    pub by_domain: Vec<DomainShape>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DomainShape {
    pub domain: String,
    /// Messages with a recipient there still to deliver (probe).
    pub queued: u32,
    /// The ledger's messages of the node for it outstanding then, per age bucket
    /// ([`AGE_BUCKETS_S`] and one more for older).
    pub ages: Vec<u64>,
    /// The oldest of them, seconds.
    pub oldest_s: f64,
}

/// The shape of `node`'s queue at its fullest probe sample; `None` without samples.
pub fn worst(ledger: &Ledger, node: &str) -> Option<QueueShape> {
    let index = ledger.nodes.iter().position(|n| n == node)?;
    let sample = ledger
        .queue
        .iter()
        .filter(|s| usize::from(s.node) == index)
        // The first of the fullest: when it began.
        .fold(
            None::<&crate::collector::ledger::QueueRecord>,
            |best, s| match best {
                Some(b) if b.total >= s.total => Some(b),
                _ => Some(s),
            },
        )?;
    let at = sample.at_ms;
    let by_domain = sample
        .by_domain
        .iter()
        .map(|(d, queued)| {
            let mut ages = vec![0u64; AGE_BUCKETS_S.len() + 1];
            let mut oldest = 0u32;
            for r in ledger.records.iter().filter(|r| {
                r.domain == *d
                    && usize::from(r.accepted_node) == index
                    && r.accepted()
                    && r.accepted_ms <= at
                    && r.delivered_ms > at
                    && r.bounced_ms > at
            }) {
                let age = at - r.accepted_ms;
                oldest = oldest.max(age);
                let bucket = AGE_BUCKETS_S
                    .iter()
                    .position(|b| age < b * 1000)
                    .unwrap_or(AGE_BUCKETS_S.len());
                ages[bucket] += 1;
            }
            DomainShape {
                domain: ledger
                    .domains
                    .get(usize::from(*d))
                    .cloned()
                    .unwrap_or_default(),
                queued: *queued,
                ages,
                oldest_s: f64::from(oldest) / 1000.0,
            }
        })
        .collect();
    Some(QueueShape {
        at_ms: at,
        total: sample.total,
        by_domain,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::ledger::{flag, MessageRecord, QueueRecord, NEVER};

    #[test]
    fn the_fullest_sample_with_ages_of_the_nodes_outstanding_mail() {
        let rec = |domain, node, accepted_ms, delivered_ms| MessageRecord {
            flags: flag::SUBMITTED | flag::ACCEPTED,
            domain,
            accepted_node: node,
            accepted_ms,
            delivered_ms,
            ..Default::default()
        };
        let ledger = Ledger {
            domains: vec!["ok.test".into(), "down.test".into()],
            nodes: vec!["n1".into(), "n2".into()],
            records: vec![
                rec(0, 0, 9_500, NEVER),  // 0.5 s old at 10 s
                rec(0, 0, 1_000, 10_500), // 9 s old, delivered after
                rec(0, 0, 1_000, 5_000),  // gone before
                rec(1, 0, 100, NEVER),    // 9.9 s old
                rec(1, 1, 100, NEVER),    // another node's
            ],
            queue: vec![
                QueueRecord {
                    at_ms: 5_000,
                    node: 0,
                    total: 1,
                    by_domain: vec![(1, 1)],
                },
                QueueRecord {
                    at_ms: 10_000,
                    node: 0,
                    total: 3,
                    by_domain: vec![(0, 2), (1, 1)],
                },
                QueueRecord {
                    at_ms: 11_000,
                    node: 0,
                    total: 3,
                    by_domain: vec![],
                },
            ],
            ..Default::default()
        };
        let s = worst(&ledger, "n1").unwrap();
        assert_eq!((s.at_ms, s.total), (10_000, 3));
        assert_eq!(s.by_domain[0].domain, "ok.test");
        assert_eq!(s.by_domain[0].queued, 2);
        assert_eq!(s.by_domain[0].ages, [1, 0, 0, 0, 1, 0, 0, 0]);
        assert_eq!(s.by_domain[0].oldest_s, 9.0);
        assert_eq!(s.by_domain[1].ages, [0, 0, 0, 0, 1, 0, 0, 0]);
        assert_eq!(worst(&ledger, "n2"), None, "no sample of n2");
        assert_eq!(worst(&ledger, "n9"), None);
    }
}
