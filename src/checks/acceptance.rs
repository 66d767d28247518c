//! `acceptance`: the cluster takes what it is offered, promptly.
//!
//! The population is every message the generator submitted (`SUBMITTED`). The ratio
//! is accepted / submitted; submit latency is intended send → accepted (open model:
//! time spent waiting for a free session counts, so a slow cluster cannot hide behind
//! back-pressure), taken at the percentile by nearest rank over the accepted ones. It
//! passes iff ratio ≥ `min_accepted` and, if a limit is set, pXX ≤ limit. Nothing
//! submitted → inconclusive; a latency limit with nothing accepted to measure it on is
//! inconclusive too, unless the ratio already failed. The detail breaks the
//! non-accepted down (rejected, failed without a reply, the reply codes seen) and
//! reports the load shape's shortfall, which the ratio cannot see (never submitted).

use std::time::Duration;

use super::common::{
    evidence, fmt_count, fmt_dur, fmt_ms, fmt_over, fmt_pct, fmt_pctl, inconclusive, ms, percentile,
};
use super::{Finding, Status};
use crate::collector::ledger::flag;
use crate::collector::Ledger;

const NAME: &str = "acceptance";

pub(super) fn judge(
    ledger: &Ledger,
    min_accepted: f64,
    pctl: f64,
    limit: Option<Duration>,
) -> Finding {
    let label = fmt_pctl(pctl);
    let mut limit_txt = format!("accepted ≥ {}", fmt_pct(min_accepted));
    if let Some(l) = limit {
        limit_txt += &format!(", {label} ≤ {}", fmt_dur(l));
    }
    let mut submitted = 0usize;
    let mut latencies: Vec<u32> = Vec::new();
    let (mut rejected, mut failed) = (0usize, 0usize);
    let mut refused: Vec<usize> = Vec::new();
    for (seq, r) in ledger.records.iter().enumerate() {
        if !r.is(flag::SUBMITTED) {
            continue;
        }
        submitted += 1;
        match r.submit_latency_ms() {
            Some(l) => latencies.push(l),
            None => {
                refused.push(seq);
                if r.is(flag::REJECTED) {
                    rejected += 1;
                } else if r.is(flag::SUBMIT_FAILED) {
                    failed += 1;
                }
            }
        }
    }
    if submitted == 0 {
        return inconclusive(NAME, limit_txt, "no message was submitted".to_string());
    }

    let accepted = latencies.len();
    let ratio = accepted as f64 / submitted as f64;
    let ratio_ok = ratio + 1e-12 >= min_accepted;
    let p = percentile(&mut latencies, pctl);
    let mut observed = format!(
        "accepted {} ({} of {})",
        fmt_pct(ratio),
        fmt_count(accepted),
        fmt_count(submitted)
    );
    if let Some(p) = p {
        observed += &format!(", {label} {}", fmt_ms(p));
    }

    let mut parts = Vec::new();
    if !ratio_ok {
        parts.push(format!(
            "only {} of {} submissions were accepted ({}, under {})",
            fmt_count(accepted),
            fmt_count(submitted),
            fmt_pct(ratio),
            fmt_pct(min_accepted)
        ));
    }
    let mut latency_unknown = false;
    if let Some(l) = limit {
        match p {
            Some(p) if p > ms(l) => {
                parts.push(format!(
                    "{label} submit latency was {}, {}",
                    fmt_ms(p),
                    fmt_over(p, ms(l))
                ));
            }
            Some(_) => {}
            None => latency_unknown = true,
        }
    }
    let status = if !parts.is_empty() {
        Status::Fail
    } else if latency_unknown {
        parts.push("nothing was accepted, so submit latency cannot be judged".to_string());
        Status::Inconclusive
    } else {
        Status::Pass
    };

    let not_accepted = refused.len();
    if not_accepted > 0 {
        let mut s = format!(
            "{} not accepted: {} rejected, {} failed without a reply",
            fmt_count(not_accepted),
            fmt_count(rejected),
            fmt_count(failed)
        );
        let other = not_accepted - rejected - failed;
        if other > 0 {
            s += &format!(", {} still unanswered at the end", fmt_count(other));
        }
        parts.push(s);
    }
    if !ledger.submit_rejections.is_empty() {
        let codes = ledger
            .submit_rejections
            .iter()
            .map(|(code, n)| format!("{code} ×{}", fmt_count(*n as usize)))
            .collect::<Vec<_>>()
            .join(", ");
        parts.push(format!("reply codes {codes}"));
    }
    if ledger.shortfall > 0 {
        parts.push(format!(
            "{} messages the load called for were never sent: no session was free (shortfall)",
            fmt_count(ledger.shortfall as usize)
        ));
    }
    if parts.is_empty() {
        parts.push(format!(
            "all {} submissions were accepted",
            fmt_count(submitted)
        ));
    }
    let detail = parts.join("; ");

    Finding {
        name: NAME.to_string(),
        status,
        observed,
        limit: limit_txt,
        detail,
        evidence: evidence(ledger, refused),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::LedgerBuilder;
    use super::*;

    /// 95 accepted after 100ms, 4 after 2.3s, 1 rejected with 451.
    fn sample() -> LedgerBuilder {
        LedgerBuilder::new()
            .msgs(95, 1_000, Some(2_000))
            .ledger(|l| l.records.iter_mut().for_each(|r| r.intended_ms = 900))
            .msgs(4, 3_300, Some(4_000))
            .ledger(|l| {
                l.records[95..]
                    .iter_mut()
                    .for_each(|r| r.intended_ms = 1_000)
            })
            .not_accepted(1_000, flag::REJECTED)
            .ledger(|l| {
                l.submit_rejections.insert(451, 1);
            })
    }

    #[test]
    fn table() {
        struct Case {
            name: &'static str,
            ledger: Ledger,
            min: f64,
            pctl: f64,
            limit_ms: Option<u64>,
            status: Status,
            observed: &'static str,
            detail: &'static str,
            evidence: &'static [&'static str],
        }
        let cases = vec![
            Case {
                name: "pass",
                ledger: sample().build(),
                min: 0.99,
                pctl: 99.0,
                limit_ms: Some(3_000),
                status: Status::Pass,
                observed: "accepted 99% (99 of 100), p99 2.3s",
                detail: "1 not accepted: 1 rejected, 0 failed without a reply; reply codes 451 ×1",
                evidence: &["run.99"],
            },
            Case {
                name: "all accepted, no limit",
                ledger: LedgerBuilder::new().msgs(10, 500, Some(900)).build(),
                min: 1.0,
                pctl: 99.0,
                limit_ms: None,
                status: Status::Pass,
                observed: "accepted 100% (10 of 10), p99 0ms",
                detail: "all 10 submissions were accepted",
                evidence: &[],
            },
            Case {
                name: "ratio under the minimum",
                ledger: sample().build(),
                min: 0.995,
                pctl: 99.0,
                limit_ms: None,
                status: Status::Fail,
                observed: "accepted 99% (99 of 100), p99 2.3s",
                detail: "only 99 of 100 submissions were accepted (99%, under 99.5%); 1 not accepted: 1 rejected, \
                         0 failed without a reply; reply codes 451 ×1",
                evidence: &["run.99"],
            },
            Case {
                name: "latency over the limit; shortfall reported",
                ledger: sample().ledger(|l| l.shortfall = 1_200).build(),
                min: 0.5,
                pctl: 99.0,
                limit_ms: Some(1_000),
                status: Status::Fail,
                observed: "accepted 99% (99 of 100), p99 2.3s",
                detail: "p99 submit latency was 2.3s, 2.3× the 1s limit; 1 not accepted: 1 rejected, \
                         0 failed without a reply; reply codes 451 ×1; 1,200 messages the load called for \
                         were never sent: no session was free (shortfall)",
                evidence: &["run.99"],
            },
            Case {
                name: "a lower percentile passes the same limit",
                ledger: sample().build(),
                min: 0.5,
                pctl: 95.0,
                limit_ms: Some(1_000),
                status: Status::Pass,
                observed: "accepted 99% (99 of 100), p95 100ms",
                detail: "1 not accepted: 1 rejected, 0 failed without a reply; reply codes 451 ×1",
                evidence: &["run.99"],
            },
            Case {
                name: "nothing submitted",
                ledger: LedgerBuilder::new().build(),
                min: 0.99,
                pctl: 99.0,
                limit_ms: Some(1_000),
                status: Status::Inconclusive,
                observed: "no data",
                detail: "no message was submitted",
                evidence: &[],
            },
            Case {
                name: "nothing accepted fails the ratio",
                ledger: LedgerBuilder::new().not_accepted(100, flag::SUBMIT_FAILED).build(),
                min: 0.9,
                pctl: 99.0,
                limit_ms: Some(1_000),
                status: Status::Fail,
                observed: "accepted 0% (0 of 1)",
                detail: "only 0 of 1 submissions were accepted (0%, under 90%); 1 not accepted: 0 rejected, \
                         1 failed without a reply",
                evidence: &["run.0"],
            },
            Case {
                name: "nothing accepted with min 0: latency cannot be judged",
                ledger: LedgerBuilder::new().not_accepted(100, flag::SUBMIT_FAILED).not_accepted(100, 0).build(),
                min: 0.0,
                pctl: 99.0,
                limit_ms: Some(1_000),
                status: Status::Inconclusive,
                observed: "accepted 0% (0 of 2)",
                detail: "nothing was accepted, so submit latency cannot be judged; 2 not accepted: 0 rejected, \
                         1 failed without a reply, 1 still unanswered at the end",
                evidence: &["run.0", "run.1"],
            },
        ];
        for c in cases {
            let f = judge(
                &c.ledger,
                c.min,
                c.pctl,
                c.limit_ms.map(Duration::from_millis),
            );
            assert_eq!(f.status, c.status, "{}: {f:?}", c.name);
            assert_eq!(f.observed, c.observed, "{}", c.name);
            assert_eq!(f.detail, c.detail, "{}", c.name);
            assert_eq!(f.evidence, c.evidence, "{}", c.name);
        }
        let f = judge(&sample().build(), 0.99, 99.0, Some(Duration::from_secs(1)));
        assert_eq!(f.limit, "accepted ≥ 99%, p99 ≤ 1s");
        assert_eq!(
            judge(&sample().build(), 0.99, 99.0, None).limit,
            "accepted ≥ 99%"
        );
    }
}
