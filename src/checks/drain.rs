//! `drain`: after a fault heals, what queued up for its domain is delivered in time.
//!
//! The faults judged are those on the remote serving `domain`, planned or reported by
//! the remotes (set by hand on their API: `recorded.rs`); overlapping ones are
//! merged first (the destination only heals when the last of them ends) and a window
//! that never ends before the run does is skipped — there is nothing to drain. For each
//! healed window ending at `E` the population is the mail to `domain` accepted before
//! `E` and not yet fully delivered at `E`. Drain time is the last arrival among them
//! minus `E`. A message the cluster bounced before `E` (a permanent 5xx during the fault)
//! was given up, not queued, and is left out. A queued message that never arrived fails
//! the check, even if it bounced after `E`: a bounce is accounted for (see `no_loss`) but
//! it is not a drain. No mail to `domain`
//! accepted before `E` → inconclusive; mail accepted but none queued at `E` → pass
//! ("nothing was queued"). With several windows each is judged and the worst decides
//! (fail, then inconclusive, then pass).

use std::time::Duration;

use super::attribution::by_node;
use super::common::{
    evidence, find_domain, fmt_count, fmt_dur, fmt_ms, inconclusive, merge_windows, ms, INF,
};
use super::{Finding, Status};
use crate::collector::Ledger;
use crate::scenario::{FaultSubject, Plan};

const NAME: &str = "drain";

/// The judgement of one healed window.
struct Drained {
    end: u32,
    status: Status,
    observed: String,
    detail: String,
    evidence: Vec<usize>,
}

pub(super) fn judge(ledger: &Ledger, plan: &Plan, domain: &str, within: Duration) -> Finding {
    let within_ms = ms(within);
    let limit_txt = format!(
        "mail queued for {domain} delivered within {} of the fault's end",
        fmt_dur(within)
    );
    let Some(remote) = plan.remote_for(domain) else {
        return inconclusive(NAME, limit_txt, format!("no remote serves {domain}"));
    };
    // An open-ended fault is INF here, so merging keeps it open.
    let raw = plan
        .faults
        .iter()
        .filter(
            |f| matches!(&f.subject, FaultSubject::Remote { remote: r, .. } if *r == remote.name),
        )
        .map(|f| (ms(f.at), f.end().map_or(INF, ms)))
        // Faults the remotes reported, set by hand too (`collector::fault_log`).
        .chain(super::recorded::remote_windows(ledger, &remote.name))
        .collect();
    let ends: Vec<u32> = merge_windows(raw)
        .into_iter()
        .map(|(_, e)| e)
        .filter(|&e| e != INF)
        .collect();
    if ends.is_empty() {
        return inconclusive(
            NAME,
            limit_txt,
            format!(
                "no fault on remote `{}` ({domain}) heals before the run ends, so nothing drains",
                remote.name
            ),
        );
    }

    let dom = find_domain(ledger, domain);
    let mut results: Vec<Drained> = ends
        .iter()
        .map(|&end| judge_window(ledger, dom, domain, &remote.name, end, within_ms))
        .collect();

    let rank = |s: Status| match s {
        Status::Fail => 2,
        Status::Inconclusive => 1,
        Status::Pass => 0,
    };
    let status = results
        .iter()
        .map(|r| r.status)
        .max_by_key(|&s| rank(s))
        .unwrap_or(Status::Inconclusive);
    let observed = if results.len() == 1 {
        results[0].observed.clone()
    } else {
        results
            .iter()
            .map(|r| format!("after {}: {}", fmt_ms(r.end), r.observed))
            .collect::<Vec<_>>()
            .join("; ")
    };
    let detail = results
        .iter()
        .map(|r| r.detail.as_str())
        .collect::<Vec<_>>()
        .join("; ");
    // Evidence from the worst windows first.
    results.sort_by_key(|r| std::cmp::Reverse(rank(r.status)));
    let seqs = results.iter().flat_map(|r| r.evidence.iter().copied());
    Finding {
        name: NAME.to_string(),
        status,
        observed: if status == Status::Inconclusive && results.len() == 1 {
            "no data".to_string()
        } else {
            observed
        },
        limit: limit_txt,
        detail,
        evidence: evidence(ledger, seqs),
    }
}

fn judge_window(
    ledger: &Ledger,
    dom: Option<u16>,
    domain: &str,
    remote: &str,
    end: u32,
    within: u32,
) -> Drained {
    let mut accepted_before = 0usize;
    let mut bounced_during = 0usize;
    let mut queued: Vec<usize> = Vec::new();
    for (seq, r) in ledger.records.iter().enumerate() {
        if Some(r.domain) != dom || !r.accepted() || r.accepted_ms >= end {
            continue;
        }
        accepted_before += 1;
        if r.bounced() && r.bounced_ms < end && !r.delivered() {
            bounced_during += 1;
            continue;
        }
        if !r.delivered() || r.delivered_ms > end {
            queued.push(seq);
        }
    }
    let at = format!("when the fault on `{remote}` ended at {}", fmt_ms(end));
    if accepted_before == 0 {
        return Drained {
            end,
            status: Status::Inconclusive,
            observed: "no data".to_string(),
            detail: format!(
                "no mail to {domain} was accepted before the fault on `{remote}` ended at {}",
                fmt_ms(end)
            ),
            evidence: Vec::new(),
        };
    }
    if queued.is_empty() {
        return Drained {
            end,
            status: Status::Pass,
            observed: "nothing was queued at the fault's end".to_string(),
            detail: if bounced_during == 0 {
                format!(
                    "all {} messages to {domain} accepted before the fault on `{remote}` ended at {} had already arrived",
                    fmt_count(accepted_before),
                    fmt_ms(end)
                )
            } else {
                format!(
                    "of {} messages to {domain} accepted before the fault on `{remote}` ended at {}, {} had bounced during the fault and the rest had arrived",
                    fmt_count(accepted_before),
                    fmt_ms(end),
                    fmt_count(bounced_during)
                )
            },
            evidence: Vec::new(),
        };
    }

    let recs = &ledger.records;
    let never: Vec<usize> = queued
        .iter()
        .copied()
        .filter(|&s| !recs[s].delivered())
        .collect();
    let bounced = never.iter().filter(|&&s| recs[s].bounced()).count();
    let mut arrived: Vec<usize> = queued
        .iter()
        .copied()
        .filter(|&s| recs[s].delivered())
        .collect();
    arrived.sort_unstable_by(|&a, &b| {
        recs[b]
            .delivered_ms
            .cmp(&recs[a].delivered_ms)
            .then(a.cmp(&b))
    });
    let drain = arrived.first().map(|&s| recs[s].delivered_ms - end);
    let m = queued.len();
    let queued_txt = format!("{} messages to {domain} were queued {at}", fmt_count(m));
    let mut ev = never.clone();
    ev.extend(arrived.iter().copied());

    if !never.is_empty() {
        let mut detail = format!(
            "{queued_txt}; {} never arrived ({} bounced, {} still queued at the end of the run)",
            fmt_count(never.len()),
            fmt_count(bounced),
            fmt_count(never.len() - bounced)
        );
        if let Some(d) = drain {
            detail += &format!("; the others arrived within {}", fmt_ms(d));
        }
        detail += "; ";
        detail += &by_node(ledger, "never arrived", never.iter().copied());
        return Drained {
            end,
            status: Status::Fail,
            observed: format!(
                "{} of {} queued messages never delivered ({} bounced)",
                fmt_count(never.len()),
                fmt_count(m),
                fmt_count(bounced)
            ),
            detail,
            evidence: ev,
        };
    }
    let drain = drain.unwrap_or(0);
    let ok = drain <= within;
    let mut detail = format!("{queued_txt}; the last arrived {} later", fmt_ms(drain));
    if !ok {
        detail += &format!(
            ", {} over the {} limit",
            fmt_ms(drain - within),
            fmt_ms(within)
        );
        let late = arrived
            .iter()
            .copied()
            .filter(|&s| recs[s].delivered_ms - end > within);
        detail += "; ";
        detail += &by_node(ledger, "late", late);
    }
    Drained {
        end,
        status: if ok { Status::Pass } else { Status::Fail },
        observed: format!("drained in {} ({} queued)", fmt_ms(drain), fmt_count(m)),
        detail,
        evidence: if ok { Vec::new() } else { ev },
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::{bounced, fault, plan, LedgerBuilder};
    use super::*;
    use crate::scenario::FaultWindow;

    fn run(ledger: &Ledger, faults: Vec<FaultWindow>, within_s: u64) -> Finding {
        judge(
            ledger,
            &plan(faults, vec![]),
            "down.test",
            Duration::from_secs(within_s),
        )
    }

    #[test]
    fn table() {
        // The fault on `down` is 30s–90s in every case but the multi-window ones.
        struct Case {
            name: &'static str,
            ledger: Ledger,
            faults: Vec<FaultWindow>,
            within_s: u64,
            status: Status,
            observed: &'static str,
            detail_has: &'static [&'static str],
            evidence: &'static [&'static str],
        }
        let one = || vec![fault("down", 30, Some(60))];
        let down = || LedgerBuilder::new().domain("down.test");
        let cases = vec![
            Case {
                name: "drains within the limit",
                ledger: down()
                    .msg(10_000, Some(20_000)) // delivered before the fault: not queued
                    .msgs(3, 50_000, Some(95_000))
                    .msg(60_000, Some(102_300))
                    .msg(90_000, Some(91_000)) // accepted at the end instant: not before it
                    .build(),
                faults: one(),
                within_s: 30,
                status: Status::Pass,
                observed: "drained in 12.3s (4 queued)",
                detail_has: &["4 messages to down.test were queued when the fault on `down` ended at 1m 30s; the last arrived 12.3s later"],
                evidence: &[],
            },
            Case {
                name: "drains too slowly",
                ledger: down().msgs(2, 50_000, Some(95_000)).msg(60_000, Some(150_000)).build(),
                faults: one(),
                within_s: 30,
                status: Status::Fail,
                observed: "drained in 1m (3 queued)",
                detail_has: &["the last arrived 1m later, 30s over the 30s limit"],
                evidence: &["run.2", "run.0", "run.1"],
            },
            Case {
                name: "bounced counts as never delivered",
                ledger: down()
                    .msgs(2, 50_000, Some(95_000))
                    .msg(60_000, None)
                    .with(bounced(100_000))
                    .msg(61_000, None)
                    .build(),
                faults: one(),
                within_s: 30,
                status: Status::Fail,
                observed: "2 of 4 queued messages never delivered (1 bounced)",
                detail_has: &["2 never arrived (1 bounced, 1 still queued at the end of the run); the others arrived within 5s"],
                evidence: &["run.2", "run.3", "run.0", "run.1"],
            },
            Case {
                name: "stranded and late mail is attributed to its nodes",
                ledger: down()
                    .node("n1")
                    .msgs(2, 50_000, Some(95_000))
                    .node("n2")
                    .msgs(3, 50_000, None)
                    .msg(60_000, Some(150_000))
                    .build(),
                faults: one(),
                within_s: 30,
                status: Status::Fail,
                observed: "3 of 6 queued messages never delivered (0 bounced)",
                detail_has: &["the others arrived within 1m; never arrived by accepting node: n2 3"],
                evidence: &["run.2", "run.3", "run.4", "run.5", "run.0"],
            },
            Case {
                name: "a slow drain names the nodes of the late mail",
                ledger: down()
                    .node("n1")
                    .msgs(2, 50_000, Some(95_000))
                    .node("n3")
                    .msg(60_000, Some(150_000))
                    .with(|r| r.delivered_node = 0)
                    .build(),
                faults: one(),
                within_s: 30,
                status: Status::Fail,
                observed: "drained in 1m (3 queued)",
                detail_has: &["30s over the 30s limit; late by accepting node: n3 1; by relaying node: n1 1"],
                evidence: &["run.2", "run.0", "run.1"],
            },
            Case {
                name: "bounced during the fault was given up, not queued",
                ledger: down()
                    .msg(60_000, None)
                    .with(bounced(61_000))
                    .msg(10_000, Some(10_100))
                    .build(),
                faults: one(),
                within_s: 30,
                status: Status::Pass,
                observed: "nothing was queued at the fault's end",
                detail_has: &["1 had bounced during the fault"],
                evidence: &[],
            },
            Case {
                name: "nothing queued at the end",
                ledger: down().msg(10_000, Some(10_100)).msg(89_000, Some(90_000)).build(),
                faults: one(),
                within_s: 30,
                status: Status::Pass,
                observed: "nothing was queued at the fault's end",
                detail_has: &["all 2 messages to down.test accepted before"],
                evidence: &[],
            },
            Case {
                name: "no mail to the domain before the end",
                ledger: LedgerBuilder::new().msg(10_000, Some(10_100)).domain("down.test").msg(95_000, None).build(),
                faults: one(),
                within_s: 30,
                status: Status::Inconclusive,
                observed: "no data",
                detail_has: &["no mail to down.test was accepted before the fault on `down` ended at 1m 30s"],
                evidence: &[],
            },
            Case {
                name: "a fault that never heals",
                ledger: down().msg(50_000, None).build(),
                faults: vec![fault("down", 30, None)],
                within_s: 30,
                status: Status::Inconclusive,
                observed: "no data",
                detail_has: &["no fault on remote `down` (down.test) heals before the run ends"],
                evidence: &[],
            },
            Case {
                name: "faults on other remotes do not count",
                ledger: down().msg(50_000, None).build(),
                faults: vec![fault("ok", 30, Some(60))],
                within_s: 30,
                status: Status::Inconclusive,
                observed: "no data",
                detail_has: &["no fault on remote `down`"],
                evidence: &[],
            },
            Case {
                name: "overlapping faults heal at the last end",
                ledger: down().msg(50_000, Some(125_000)).build(),
                faults: vec![fault("down", 30, Some(60)), fault("down", 60, Some(60))],
                within_s: 10,
                status: Status::Pass,
                observed: "drained in 5s (1 queued)",
                detail_has: &["ended at 2m"],
                evidence: &[],
            },
            Case {
                name: "two windows: the worst decides",
                ledger: down().msg(35_000, Some(41_000)).msg(65_000, Some(100_000)).build(),
                faults: vec![fault("down", 30, Some(10)), fault("down", 60, Some(10))],
                within_s: 5,
                status: Status::Fail,
                observed: "after 40s: drained in 1s (1 queued); after 1m 10s: drained in 30s (1 queued)",
                detail_has: &["ended at 40s", "ended at 1m 10s; the last arrived 30s later, 25s over the 5s limit"],
                evidence: &["run.1"],
            },
        ];
        for c in cases {
            let f = run(&c.ledger, c.faults, c.within_s);
            assert_eq!(f.status, c.status, "{}: {f:?}", c.name);
            assert_eq!(f.observed, c.observed, "{}", c.name);
            for want in c.detail_has {
                assert!(
                    f.detail.contains(want),
                    "{}: detail {:?} lacks {want:?}",
                    c.name,
                    f.detail
                );
            }
            assert_eq!(f.evidence, c.evidence, "{}", c.name);
            assert_eq!(
                f.limit,
                format!(
                    "mail queued for down.test delivered within {} of the fault's end",
                    fmt_ms(c.within_s as u32 * 1000)
                )
            );
        }
    }

    #[test]
    fn unknown_domain_is_inconclusive() {
        let f = judge(
            &LedgerBuilder::new().build(),
            &plan(vec![], vec![]),
            "nowhere.test",
            Duration::from_secs(5),
        );
        assert_eq!(f.status, Status::Inconclusive);
        assert_eq!(f.detail, "no remote serves nowhere.test");
    }
}
