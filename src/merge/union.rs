//! The union of the shards' saved data: one ledger, one set of totals, one account of
//! what the data lacks — what a single run of the whole load would have saved. Pure.
//!
//! Records: each shard's own messages (`seq % N == I`) at their sequence numbers, node
//! and domain indices mapped by name. Counts of the shards' own messages are summed
//! (totals, shortfall, reply codes, misrouting). What is about the remotes rather than
//! one shard's mail — every shard follows every remote event, so each saw it all — is
//! taken once: the largest count any shard saw (remote counters, foreign mail, how
//! often a fault fired, fault changes). Queue probes and the fault timeline are shard
//! 0's alone. Lost remote events are summed (fail closed); the earliest abort or cut of
//! any shard is the run's. The attempt logs (`attempts.bin`, for `explain`) are each
//! shard's own messages' entries, remote, label and node indices mapped by name.

use crate::checks::{Aborted, DataCompleteness};
use crate::collector::attempts::{NONE_U8, NO_LABEL};
use crate::collector::ledger::{flag, NO_NODE};
use crate::collector::{Ledger, Progress};
use crate::tracking::Part;

/// One shard's saved data.
#[derive(Clone, Debug)]
pub struct ShardData {
    pub part: Part,
    pub ledger: Ledger,
    pub totals: Progress,
    pub data: DataCompleteness,
    pub abort: Option<Aborted>,
}

/// The merged run.
#[derive(Debug)]
pub struct Union {
    pub ledger: Ledger,
    pub totals: Progress,
    pub data: DataCompleteness,
    pub abort: Option<Aborted>,
}

/// Unions `shards` (shard 0 first; at least one).
pub fn union(shards: &[ShardData]) -> Union {
    let first = &shards[0];
    let mut ledger = Ledger {
        run_id: first.ledger.run_id.clone(),
        t0_us: first.ledger.t0_us,
        domains: first.ledger.domains.clone(),
        fault_windows: first.ledger.fault_windows.clone(),
        ..Default::default()
    };
    let len = shards
        .iter()
        .map(|s| s.ledger.records.len())
        .max()
        .unwrap_or(0);
    ledger.records.resize(len, Default::default());
    let mut totals = Progress {
        queued: first.totals.queued,
        queued_at_start: first.totals.queued_at_start,
        ..Default::default()
    };
    let mut data = DataCompleteness {
        remote_events_from: first.data.remote_events_from.clone(),
        probes: first.data.probes.clone(),
        ..Default::default()
    };
    // Nodes in name order: every shard met them in its own order.
    let mut names: Vec<&String> = shards.iter().flat_map(|s| &s.ledger.nodes).collect();
    names.sort();
    for name in names {
        ledger.node_index(name);
    }
    for shard in shards {
        let l = &shard.ledger;
        let nodes: Vec<u8> = l.nodes.iter().map(|n| ledger.node_index(n)).collect();
        let node = |i: u8| nodes.get(i as usize).copied().unwrap_or(NO_NODE);
        let domains: Vec<u16> = l.domains.iter().map(|d| ledger.domain_index(d)).collect();
        for (seq, r) in l.records.iter().enumerate() {
            if !shard.part.owns(seq as u64) || !r.is(flag::SUBMITTED) {
                continue;
            }
            let mut r = *r;
            r.accepted_node = node(r.accepted_node);
            r.delivered_node = node(r.delivered_node);
            r.domain = domains.get(r.domain as usize).copied().unwrap_or(r.domain);
            ledger.records[seq] = r;
        }
        // Each shard logged the attempts of its own messages only.
        let a = &l.attempts;
        for e in a
            .entries
            .iter()
            .filter(|e| shard.part.owns(u64::from(e.seq)))
        {
            let mut e = *e;
            if e.remote != NONE_U8 {
                e.remote = ledger.attempts.remote_index(a.remote_name(e.remote));
            }
            if e.label != NO_LABEL {
                e.label = ledger.attempts.label_index(a.label(e.label));
            }
            e.node = node(e.node);
            ledger.attempts.push(e);
        }
        ledger.attempts.dropped_per_message += a.dropped_per_message;
        ledger.attempts.dropped_total += a.dropped_total;
        ledger.end_ms = ledger.end_ms.max(l.end_ms);
        ledger.shortfall += l.shortfall;
        ledger.foreign = ledger.foreign.max(l.foreign);
        for (remote, c) in &l.remotes {
            let m = ledger.remotes.entry(remote.clone()).or_default();
            m.connections = m.connections.max(c.connections);
            m.rcpts = m.rcpts.max(c.rcpts);
            m.messages = m.messages.max(c.messages);
            m.rejected = m.rejected.max(c.rejected);
            m.faults_fired = m.faults_fired.max(c.faults_fired);
            m.relay_denied = m.relay_denied.max(c.relay_denied);
        }
        for (code, n) in &l.submit_rejections {
            *ledger.submit_rejections.entry(*code).or_default() += n;
        }
        for (remote, by_domain) in &l.misrouted {
            for (domain, n) in by_domain {
                *ledger
                    .misrouted
                    .entry(remote.clone())
                    .or_default()
                    .entry(domain.clone())
                    .or_default() += n;
            }
        }
        for (mine, theirs) in ledger.fault_windows.iter_mut().zip(&l.fault_windows) {
            mine.fired = mine.fired.max(theirs.fired);
        }
        if l.fault_changes.len() > ledger.fault_changes.len() {
            ledger.fault_changes = l.fault_changes.clone();
        }
        if shard.part.index == 0 {
            for q in &l.queue {
                let mut q = q.clone();
                q.node = node(q.node);
                ledger.queue.push(q);
            }
            ledger.probe_failures = l
                .probe_failures
                .iter()
                .map(|(at, n)| (*at, node(*n)))
                .collect();
        }
        let t = &shard.totals;
        totals.submitted += t.submitted;
        totals.accepted += t.accepted;
        totals.not_accepted += t.not_accepted;
        totals.shortfall += t.shortfall;
        totals.delivered += t.delivered;
        totals.bounced += t.bounced;
        totals.outstanding += t.outstanding;
        totals.duplicates += t.duplicates;
        totals.misrouted += t.misrouted;
        let d = &shard.data;
        data.remote_events_lost += d.remote_events_lost;
        data.planned = match (data.planned, d.planned) {
            (None, p) if shard.part.index == 0 => p,
            (Some(a), Some(b)) => Some(a + b),
            (a, _) => a,
        };
        data.submitted += d.submitted;
        data.shortfall += d.shortfall;
        if let Some(cut) = &d.cut {
            if data.cut.as_ref().is_none_or(|c| cut.at_ms < c.at_ms) {
                data.cut = Some(crate::checks::cut::Cut {
                    at_ms: cut.at_ms,
                    why: format!("shard {}: {}", shard.part.index, cut.why),
                });
            }
        }
    }
    let abort = shards
        .iter()
        .filter_map(|s| s.abort.as_ref().map(|a| (s.part.index, a)))
        .min_by(|(_, a), (_, b)| a.at_s.total_cmp(&b.at_s))
        .map(|(i, a)| Aborted {
            reason: format!("shard {i}: {}", a.reason),
            at_s: a.at_s,
        });
    Union {
        ledger,
        totals,
        data,
        abort,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::checks::testkit::{fault, one_of_each, plan};
    use crate::collector::MessageRecord;

    /// A message as the property test draws it: domain, node, accepted at, delivered
    /// after (if), bounced (if not delivered).
    fn record(
        (domain, node, accepted, delivered, bounced): (u16, u8, Option<u32>, Option<u32>, bool),
        intended: u32,
    ) -> MessageRecord {
        let mut r = MessageRecord {
            intended_ms: intended,
            domain,
            flags: flag::SUBMITTED,
            ..Default::default()
        };
        if let Some(a) = accepted {
            r.flags |= flag::ACCEPTED;
            r.accepted_ms = intended + a;
            r.accepted_node = node;
            match delivered {
                Some(d) => {
                    r.delivered_ms = r.accepted_ms + d;
                    r.delivered_mask = 1;
                    r.delivered_node = node;
                }
                None if bounced => {
                    r.flags |= flag::BOUNCED;
                    r.bounced_ms = r.accepted_ms + 500;
                }
                None => {}
            }
        } else {
            r.flags |= flag::REJECTED;
        }
        r
    }

    /// Shard `i` of `n` of `whole`: its own records, the others left empty, its nodes
    /// interned in its own order (reversed, so the merge must map them by name).
    fn split(whole: &Ledger, i: u64, n: u64) -> ShardData {
        let part = Part { index: i, count: n };
        let mut l = Ledger {
            run_id: whole.run_id.clone(),
            t0_us: whole.t0_us,
            end_ms: whole.end_ms,
            domains: whole.domains.clone(),
            part,
            ..Default::default()
        };
        for name in whole.nodes.iter().rev() {
            l.node_index(name);
        }
        let map = |x: u8| {
            if x == NO_NODE {
                NO_NODE
            } else {
                l.nodes
                    .iter()
                    .position(|n| n == whole.node_name(x))
                    .unwrap() as u8
            }
        };
        let mut records = vec![MessageRecord::default(); whole.records.len()];
        let mut totals = Progress::default();
        for (seq, r) in whole.records.iter().enumerate() {
            if part.owns(seq as u64) {
                let mut r = *r;
                r.accepted_node = map(r.accepted_node);
                r.delivered_node = map(r.delivered_node);
                records[seq] = r;
                totals.submitted += 1;
            }
        }
        l.records = records;
        ShardData {
            part,
            ledger: l,
            totals,
            data: DataCompleteness {
                submitted: totals.submitted,
                ..Default::default()
            },
            abort: None,
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        /// One run's ledger split into N shards merges to the same findings (every
        /// check, observed values and percentiles included) as the run itself.
        #[test]
        fn split_and_merged_judges_the_same(
            n in 1u64..6,
            msgs in prop::collection::vec(
                (0u16..2, 0u8..3, prop::option::weighted(0.9, 1u32..300),
                 prop::option::weighted(0.9, 1u32..8_000), any::<bool>()),
                1..300),
        ) {
            let mut whole = Ledger { run_id: "r".into(), t0_us: 1, end_ms: 60_000, ..Default::default() };
            whole.domain_index("ok.test");
            whole.domain_index("down.test");
            for node in ["n1", "n2", "n3"] {
                whole.node_index(node);
            }
            whole.records = msgs.iter().enumerate().map(|(i, m)| record(*m, i as u32 * 100)).collect();
            let plan = plan(vec![fault("down", 5, Some(10))], one_of_each(Some(std::time::Duration::from_secs(3))));
            let data = DataCompleteness { submitted: whole.records.len() as u64, ..Default::default() };
            let want = crate::checks::judge(&plan, &whole, &data);
            let shards: Vec<ShardData> = (0..n).map(|i| split(&whole, i, n)).collect();
            let merged = union(&shards);
            prop_assert_eq!(merged.data.submitted, data.submitted);
            let got = crate::checks::judge(&plan, &merged.ledger, &merged.data);
            prop_assert_eq!(format!("{got:?}"), format!("{want:?}"));
        }
    }
}
