//! What one node had queued for a faulted destination when its fault healed, and when
//! that backlog arrived: the measured side of the `backoff_past_drain` rule. For each
//! `drain` check whose destination's planned faults all end, the heal is the last of
//! their ends; the backlog is the node's mail to the destination accepted before the
//! heal and neither delivered nor bounced by then (the drain check's population, on one
//! node). Pure: from the Plan and the Ledger.

use serde::{Deserialize, Serialize};

use crate::collector::Ledger;
use crate::scenario::{Check, FaultSubject, Plan};

/// One destination's backlog on one node, after its fault healed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Backlog {
    pub domain: String,
    /// When the destination's last planned fault ended, ms since load start.
    pub healed_ms: u32,
    /// The drain check's limit, seconds.
    pub within_s: f64,
    /// Messages queued on the node at the heal.
    pub queued: u64,
    /// Of them, arrived later than `within_s` after the heal.
    pub late: u64,
    /// Of them, not arrived when measurement stopped.
    pub never: u64,
    /// Seconds from the heal to the first and the last arrival among them.
    pub first_s: Option<f64>,
    pub last_s: Option<f64>,
}

impl Backlog {
    /// The backlog did not drain in time on this node.
    pub fn failed(&self) -> bool {
        self.late + self.never > 0
    }
}

/// The backlogs of `node` for every drain check of the plan that has a heal.
pub fn after_heal(plan: &Plan, ledger: &Ledger, node: &str) -> Vec<Backlog> {
    let Some(index) = ledger.nodes.iter().position(|n| n == node) else {
        return Vec::new();
    };
    plan.checks
        .iter()
        .filter_map(|c| match c {
            Check::Drain { domain, within } => Some((domain, within.as_secs_f64())),
            _ => None,
        })
        .filter_map(|(domain, within_s)| {
            let healed_ms = healed_ms(plan, domain)?;
            Some(measure(ledger, index, domain, healed_ms, within_s))
        })
        .collect()
}

/// The end of the last planned fault on the remote serving `domain`; `None` when there
/// is none or one never ends (nothing heals).
fn healed_ms(plan: &Plan, domain: &str) -> Option<u32> {
    let remote = &plan.remote_for(domain)?.name;
    plan.faults
        .iter()
        .filter(|f| matches!(&f.subject, FaultSubject::Remote { remote: r, .. } if r == remote))
        .map(|f| {
            f.end()
                .map(|e| e.as_millis().min(u128::from(u32::MAX)) as u32)
        })
        .try_fold(None, |last: Option<u32>, end| {
            end.map(|e| Some(last.map_or(e, |l| l.max(e))))
        })?
}

fn measure(ledger: &Ledger, node: usize, domain: &str, healed_ms: u32, within_s: f64) -> Backlog {
    let dom = ledger
        .domains
        .iter()
        .position(|d| d.eq_ignore_ascii_case(domain));
    let mut b = Backlog {
        domain: domain.to_ascii_lowercase(),
        healed_ms,
        within_s,
        ..Default::default()
    };
    let within_ms = (within_s * 1000.0) as u32;
    let (mut first, mut last) = (None::<u32>, None::<u32>);
    for r in ledger.records.iter().filter(|r| {
        Some(usize::from(r.domain)) == dom
            && usize::from(r.accepted_node) == node
            && r.accepted()
            && r.accepted_ms < healed_ms
            && !(r.bounced() && r.bounced_ms < healed_ms && !r.delivered())
            && (!r.delivered() || r.delivered_ms > healed_ms)
    }) {
        b.queued += 1;
        if !r.delivered() {
            b.never += 1;
            continue;
        }
        let after = r.delivered_ms - healed_ms;
        if after > within_ms {
            b.late += 1;
        }
        first = Some(first.map_or(after, |f| f.min(after)));
        last = Some(last.map_or(after, |l| l.max(after)));
    }
    b.first_s = first.map(|ms| f64::from(ms) / 1000.0);
    b.last_s = last.map(|ms| f64::from(ms) / 1000.0);
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::ledger::{flag, MessageRecord, NEVER};

    /// A message to `down.test` accepted on n1 at `acc` ms, arrived at `del` ms (or
    /// NEVER), bounced at `bounced` ms (or NEVER).
    fn rec(acc: u32, del: u32, bounced: u32, node: u8) -> MessageRecord {
        let mut flags = flag::ACCEPTED;
        if bounced != NEVER {
            flags |= flag::BOUNCED;
        }
        MessageRecord {
            accepted_ms: acc,
            delivered_ms: del,
            bounced_ms: bounced,
            domain: 0,
            accepted_node: node,
            flags,
            ..Default::default()
        }
    }

    #[test]
    fn the_backlog_at_the_heal_and_when_it_arrived() {
        let ledger = Ledger {
            domains: vec!["down.test".into()],
            nodes: vec!["n1".into(), "n2".into()],
            records: vec![
                rec(1_000, 9_000, NEVER, 0),   // arrived before the heal: not backlog
                rec(2_000, 12_000, NEVER, 0),  // 2 s after the heal
                rec(3_000, 60_000, NEVER, 0),  // 50 s after: late
                rec(4_000, NEVER, NEVER, 0),   // never
                rec(5_000, NEVER, 6_000, 0),   // bounced during the fault: given up
                rec(6_000, 70_000, NEVER, 1),  // another node's
                rec(11_000, 80_000, NEVER, 0), // accepted after the heal
            ],
            ..Default::default()
        };
        let got = measure(&ledger, 0, "DOWN.test", 10_000, 40.0);
        assert_eq!(
            got,
            Backlog {
                domain: "down.test".into(),
                healed_ms: 10_000,
                within_s: 40.0,
                queued: 3,
                late: 1,
                never: 1,
                first_s: Some(2.0),
                last_s: Some(50.0),
            }
        );
        assert!(got.failed());
        let n2 = measure(&ledger, 1, "down.test", 10_000, 80.0);
        assert_eq!((n2.queued, n2.late, n2.never), (1, 0, 0));
        assert!(!n2.failed());
    }

    fn plan(faults: &str) -> Plan {
        let text = format!(
            "version: 1\nname: t\ntarget: {{ smtp: [127.0.0.1:2725] }}\nremotes:\n  ok: {{ domains: [ok.test] }}\n  down: {{ domains: [down.test] }}\nload:\n  steps: [ {{ rate: 10/s, for: 20s }} ]\n  mix: {{ ok.test: 90%, down.test: 10% }}\nfaults:\n{faults}checks:\n  - {{ drain: {{ domain: down.test, within: 40s }} }}\n  - no_loss\n"
        );
        crate::scenario::parse(&text, std::path::Path::new("t.yaml")).expect("valid")
    }

    #[test]
    fn the_heal_is_the_end_of_the_last_planned_fault() {
        let ledger = Ledger {
            domains: vec!["down.test".into()],
            nodes: vec!["n1".into()],
            records: vec![rec(1_000, 30_000, NEVER, 0)],
            ..Default::default()
        };
        let two = "  - { remote: down, at: 2s, for: 8s, fault: refuse }\n  - { remote: down, at: 5s, for: 3s, fault: blackhole }\n";
        let got = after_heal(&plan(two), &ledger, "n1");
        // One per drain check (not for no_loss).
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!((got[0].healed_ms, got[0].within_s), (10_000, 40.0));
        assert_eq!((got[0].queued, got[0].first_s), (1, Some(20.0)));
        assert!(after_heal(&plan(two), &ledger, "n9").is_empty());
        // A fault that never ends: nothing heals.
        let mut open = plan(two);
        open.faults[1].duration = None;
        assert!(after_heal(&open, &ledger, "n1").is_empty());
    }
}
