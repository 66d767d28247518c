//! `isolation`: while faults are active, mail to the healthy domains keeps flowing.
//!
//! The windows are the merged remote-fault windows (`during: faults`; an open-ended
//! fault lasts to the end of the run) or the one explicit window, half-open. The
//! population is every message to a healthy domain *accepted* inside a window. Its
//! delivery latency is accepted → last recipient arrived; a message that never arrived
//! counts as infinitely late, so mail stuck behind a dead destination fails the
//! percentile instead of vanishing from it. The percentile is by nearest rank.
//!
//! Throughput is judged too, because a cluster can keep latency low by delivering
//! almost nothing: the delivered ratio is the number of healthy messages (accepted at
//! any time) whose delivery *landed* inside a window, over the population size, capped
//! at 100%. It passes iff `pXX ≤ limit` and `ratio ≥ min_delivered`. No population →
//! inconclusive.

use std::time::Duration;

use super::attribution::by_node;
use super::common::{
    evidence, fmt_count, fmt_dur, fmt_ms, fmt_over, fmt_pct, fmt_pctl, fmt_windows, in_windows,
    inconclusive, merge_windows, ms, percentile, INF,
};
use super::{Finding, Status};
use crate::collector::Ledger;
use crate::scenario::{During, Plan};

const NAME: &str = "isolation";

pub(super) fn judge(
    ledger: &Ledger,
    plan: &Plan,
    healthy: &[String],
    during: &During,
    pctl: f64,
    limit: Duration,
    min_delivered: f64,
) -> Finding {
    let label = fmt_pctl(pctl);
    let limit_ms = ms(limit);
    let limit_txt = format!(
        "{label} ≤ {}, delivered ≥ {}",
        fmt_dur(limit),
        fmt_pct(min_delivered)
    );
    let names = healthy.join(", ");

    let windows = windows(ledger, plan, during);
    let during_txt = match during {
        During::Faults => "during the faults",
        During::Window { .. } => "during the window",
    };
    if windows.is_empty() {
        let why = match during {
            During::Faults => {
                "no remote fault was in force: none in the plan, none reported by the remotes, so there is no fault window to judge".to_string()
            }
            During::Window { from, to } => {
                format!("the window {}–{} is empty", fmt_dur(*from), fmt_dur(*to))
            }
        };
        return inconclusive(NAME, limit_txt, why);
    }
    let windows_txt = format!(
        "(window{} {})",
        if windows.len() > 1 { "s" } else { "" },
        fmt_windows(&windows)
    );

    // Domain index → healthy? (a domain never seen in the ledger simply has no records).
    let is_healthy: Vec<bool> = ledger
        .domains
        .iter()
        .map(|d| healthy.iter().any(|h| h.eq_ignore_ascii_case(d)))
        .collect();
    let mut population: Vec<(u32, usize)> = Vec::new();
    let mut delivered_inside = 0usize;
    for (seq, r) in ledger.records.iter().enumerate() {
        if !is_healthy
            .get(usize::from(r.domain))
            .copied()
            .unwrap_or(false)
        {
            continue;
        }
        if r.delivered() && in_windows(&windows, r.delivered_ms) {
            delivered_inside += 1;
        }
        if r.accepted() && in_windows(&windows, r.accepted_ms) {
            let latency = if r.delivered() {
                r.delivered_ms.saturating_sub(r.accepted_ms)
            } else {
                INF
            };
            population.push((latency, seq));
        }
    }
    if population.is_empty() {
        return inconclusive(
            NAME,
            limit_txt,
            format!("no mail to {names} was accepted {during_txt} {windows_txt}"),
        );
    }

    let n = population.len();
    let mut latencies: Vec<u32> = population.iter().map(|&(l, _)| l).collect();
    let p = percentile(&mut latencies, pctl).unwrap_or(INF);
    let never = population.iter().filter(|&&(l, _)| l == INF).count();
    let late = population
        .iter()
        .filter(|&&(l, _)| l > limit_ms || l == INF)
        .count();
    let ratio = (delivered_inside as f64 / n as f64).min(1.0);
    // `p != INF`: a limit too large for the ledger's unit saturates to INF too.
    let latency_ok = p != INF && p <= limit_ms;
    let ratio_ok = ratio + 1e-12 >= min_delivered;

    let observed = if p == INF {
        format!(
            "{label} never ({} of {} not delivered), delivered {}",
            fmt_count(never),
            fmt_count(n),
            fmt_pct(ratio)
        )
    } else {
        format!("{label} {}, delivered {}", fmt_ms(p), fmt_pct(ratio))
    };

    let mut parts = Vec::new();
    if !latency_ok {
        // Never-delivered mail counts as infinitely late: say so rather than "was never".
        let how_late = if p == INF {
            format!(
                "{label} was not reached: too many never arrived (limit {})",
                fmt_ms(limit_ms)
            )
        } else {
            format!("{label} was {}, {}", fmt_ms(p), fmt_over(p, limit_ms))
        };
        let mut s = format!(
            "{how_late}; {} of {} healthy messages accepted {during_txt} were late",
            fmt_count(late),
            fmt_count(n)
        );
        if never > 0 {
            s += &format!(", {} of them never delivered", fmt_count(never));
        }
        parts.push(s);
    }
    if !ratio_ok {
        parts.push(format!(
            "only {} healthy messages were delivered {during_txt}, {} of the {} accepted, under {}",
            fmt_count(delivered_inside),
            fmt_pct(ratio),
            fmt_count(n),
            fmt_pct(min_delivered)
        ));
    }
    let status = if parts.is_empty() {
        Status::Pass
    } else {
        Status::Fail
    };
    if parts.is_empty() {
        let slowest = population.iter().map(|&(l, _)| l).max().unwrap_or(0);
        let mut s = format!(
            "{} messages to {names} accepted {during_txt}; slowest {}",
            fmt_count(n),
            fmt_ms(slowest)
        );
        if late > 0 {
            s += &format!(", {} over the limit", fmt_count(late));
        }
        parts.push(s);
    }
    let mut detail = format!("{} {windows_txt}", parts.join("; "));

    // Evidence: the late ones, worst (never delivered) first.
    let mut late_ones: Vec<(u32, usize)> = population
        .into_iter()
        .filter(|&(l, _)| l > limit_ms || l == INF)
        .collect();
    late_ones.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    if status == Status::Fail && !late_ones.is_empty() {
        // Which nodes the late mail went through: a node stalled for the window shows.
        detail += "; ";
        detail += &by_node(ledger, "late", late_ones.iter().map(|&(_, s)| s));
    }
    Finding {
        name: NAME.to_string(),
        status,
        observed,
        limit: limit_txt,
        detail,
        evidence: evidence(ledger, late_ones.into_iter().map(|(_, s)| s)),
    }
}

/// The merged windows the check judges, in ms (also the steady state's "during").
pub(super) fn windows(ledger: &Ledger, plan: &Plan, during: &During) -> Vec<(u32, u32)> {
    match during {
        During::Faults => {
            let run_end = Duration::from_millis(u64::from(ledger.end_ms));
            let raw = plan
                .remote_fault_windows(run_end)
                .into_iter()
                .map(|(a, b)| (ms(a), ms(b)))
                // Faults the remotes reported, set by hand too (`collector::fault_log`).
                .chain(super::recorded::fault_windows(ledger));
            merge_windows(raw.collect())
        }
        During::Window { from, to } => merge_windows(vec![(ms(*from), ms(*to))]),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::{fault, plan, LedgerBuilder};
    use super::*;
    use crate::scenario::Check;

    fn check(during: During, limit_s: u64, min: f64) -> Finding {
        check_on(sample(), during, limit_s, min)
    }

    fn check_on(ledger: Ledger, during: During, limit_s: u64, min: f64) -> Finding {
        let p = plan(vec![fault("down", 30, Some(60))], vec![Check::NoLoss]);
        judge(
            &ledger,
            &p,
            &["ok.test".to_string()],
            &during,
            99.0,
            Duration::from_secs(limit_s),
            min,
        )
    }

    /// 100 healthy messages accepted at 40s (inside the 30s–90s fault): 95 arrive after
    /// 300ms, 4 after 41.2s, 1 never. Plus mail outside the window and to down.test.
    fn sample() -> Ledger {
        LedgerBuilder::new()
            .msgs(95, 40_000, Some(40_300))
            .msgs(4, 40_000, Some(81_200))
            .msg(40_000, None)
            .msgs(10, 10_000, Some(200_000)) // before the faults: ignored
            .domain("down.test")
            .msgs(50, 40_000, None) // not healthy: ignored
            .build()
    }

    #[test]
    fn table() {
        struct Case {
            name: &'static str,
            ledger: Ledger,
            during: During,
            limit_s: u64,
            min: f64,
            status: Status,
            observed: &'static str,
            detail_has: &'static [&'static str],
            evidence: usize,
        }
        let window = |from, to| During::Window {
            from: Duration::from_secs(from),
            to: Duration::from_secs(to),
        };
        let cases = vec![
            Case {
                name: "5 of 100 late fails p99 ≤ 5s",
                ledger: sample(),
                during: During::Faults,
                limit_s: 5,
                min: 0.9,
                status: Status::Fail, // 4 late + 1 never = 5 > 1% → p99 is 41.2s
                observed: "p99 41.2s, delivered 99%",
                detail_has: &[
                    "p99 was 41.2s, 8.2× the 5s limit",
                    "5 of 100 healthy messages accepted during the faults were late, 1 of them never delivered",
                    "(window 30s–1m 30s)",
                ],
                evidence: 5,
            },
            Case {
                name: "late mail is attributed to the nodes it went through",
                ledger: LedgerBuilder::new()
                    .node("n1")
                    .msgs(50, 40_000, Some(40_100))
                    .node("n2")
                    .msgs(4, 40_000, Some(70_000))
                    .msg(40_000, None)
                    .node("n3")
                    .msgs(45, 40_000, Some(40_200))
                    .msg(40_000, Some(60_000))
                    .build(),
                during: During::Faults,
                limit_s: 5,
                min: 0.5,
                status: Status::Fail,
                observed: "p99 30s, delivered 99%",
                detail_has: &["(window 30s–1m 30s); late by accepting node: n2 5, n3 1; by relaying node: n2 4, n3 1"],
                evidence: 5,
            },
            Case {
                name: "a generous limit passes",
                ledger: sample(),
                during: During::Faults,
                limit_s: 60,
                min: 0.9,
                status: Status::Pass,
                observed: "p99 41.2s, delivered 99%",
                detail_has: &["100 messages to ok.test accepted during the faults; slowest never, 1 over the limit"],
                evidence: 1,
            },
            Case {
                name: "never delivered counts as infinitely late",
                ledger: LedgerBuilder::new().msgs(98, 40_000, Some(40_100)).msgs(2, 40_000, None).build(),
                during: During::Faults,
                limit_s: 3600,
                min: 0.5,
                status: Status::Fail,
                observed: "p99 never (2 of 100 not delivered), delivered 98%",
                detail_has: &["p99 was not reached: too many never arrived (limit 1h)", "2 of 100", "2 of them never delivered"],
                evidence: 2,
            },
            Case {
                name: "low delivered ratio fails even with fast latency",
                ledger: LedgerBuilder::new().msgs(10, 40_000, Some(40_100)).msgs(90, 89_000, Some(95_000)).build(),
                during: During::Faults,
                limit_s: 10,
                min: 0.9,
                status: Status::Fail,
                observed: "p99 6s, delivered 10%",
                detail_has: &["only 10 healthy messages were delivered during the faults, 10% of the 100 accepted, under 90%"],
                evidence: 0,
            },
            Case {
                name: "explicit window: edges are half-open",
                ledger: LedgerBuilder::new()
                    .msg(29_999, None) // before
                    .msg(30_000, Some(30_500)) // first instant: in
                    .msg(59_999, Some(60_100)) // last instant: in
                    .msg(60_000, None) // end: out
                    .build(),
                during: window(30, 60),
                limit_s: 1,
                min: 0.5,
                status: Status::Pass,
                observed: "p99 500ms, delivered 50%",
                detail_has: &["2 messages to ok.test accepted during the window", "(window 30s–1m)"],
                evidence: 0,
            },
            Case {
                name: "no healthy mail accepted in the window",
                ledger: LedgerBuilder::new().msgs(5, 10_000, Some(10_100)).build(),
                during: During::Faults,
                limit_s: 5,
                min: 0.9,
                status: Status::Inconclusive,
                observed: "no data",
                detail_has: &["no mail to ok.test was accepted during the faults (window 30s–1m 30s)"],
                evidence: 0,
            },
            Case {
                name: "empty window",
                ledger: sample(),
                during: window(60, 60),
                limit_s: 5,
                min: 0.9,
                status: Status::Inconclusive,
                observed: "no data",
                detail_has: &["the window 1m–1m is empty"],
                evidence: 0,
            },
        ];
        for c in cases {
            let f = check_on(c.ledger, c.during, c.limit_s, c.min);
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
            assert_eq!(f.evidence.len(), c.evidence, "{}: {:?}", c.name, f.evidence);
            assert_eq!(f.name, "isolation");
        }
    }

    #[test]
    fn limit_is_stated_and_evidence_is_worst_first() {
        let f = check(During::Faults, 5, 0.9);
        assert_eq!(f.limit, "p99 ≤ 5s, delivered ≥ 90%");
        // Seq 99 never arrived: listed first.
        assert_eq!(f.evidence[0], "run.99");
    }

    #[test]
    fn faults_merge_and_open_ended_run_to_the_end() {
        let ledger = LedgerBuilder::new()
            .msg(35_000, Some(35_100))
            .msg(70_000, Some(70_100))
            .msg(150_000, Some(150_200))
            .ledger(|l| l.end_ms = 200_000)
            .build();
        let p = plan(
            vec![
                fault("down", 30, Some(20)),
                fault("ok", 40, Some(20)),
                fault("down", 100, None),
            ],
            vec![],
        );
        let f = judge(
            &ledger,
            &p,
            &["ok.test".into()],
            &During::Faults,
            99.0,
            Duration::from_secs(1),
            0.9,
        );
        assert_eq!(f.status, Status::Pass, "{f:?}");
        assert_eq!(f.observed, "p99 200ms, delivered 100%");
        assert!(
            f.detail.contains("(windows 30s–1m, 1m 40s–3m 20s)"),
            "{}",
            f.detail
        );
    }

    #[test]
    fn no_remote_fault_is_inconclusive() {
        let p = plan(vec![], vec![]);
        let f = judge(
            &sample(),
            &p,
            &["ok.test".into()],
            &During::Faults,
            99.0,
            Duration::from_secs(5),
            0.9,
        );
        assert_eq!(f.status, Status::Inconclusive);
        assert!(f.detail.contains("no remote fault"), "{}", f.detail);
    }
}
