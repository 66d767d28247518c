//! `no_duplicates`: no message arrives more than `max` extra times.
//!
//! The population is every message with at least one recipient delivered (a message
//! that never arrived cannot be duplicated). A record's `duplicates` counts extra copies
//! of any recipient, which is what a connection dropped after the final dot causes (the
//! cluster cannot know the remote took it, retries, and the remote gets it twice). It
//! passes iff every record has ≤ `max` extra copies. Nothing delivered → inconclusive.

use super::common::{evidence, fmt_count, inconclusive};
use super::{Finding, Status};
use crate::collector::Ledger;

const NAME: &str = "no_duplicates";

pub(super) fn judge(ledger: &Ledger, max: u32) -> Finding {
    let limit = if max == 0 {
        "no message delivered more than once".to_string()
    } else {
        format!("at most {max} extra copies per message")
    };
    let mut delivered = 0usize;
    // (extra copies, seq) of every message that arrived more than once.
    let mut duplicated: Vec<(u16, usize)> = Vec::new();
    for (seq, r) in ledger.records.iter().enumerate() {
        if !r.partly_delivered() {
            continue;
        }
        delivered += 1;
        if r.duplicates > 0 {
            duplicated.push((r.duplicates, seq));
        }
    }
    if delivered == 0 {
        return inconclusive(
            NAME,
            limit,
            "no message was delivered, so none can be duplicated".to_string(),
        );
    }
    // Worst first, then in sending order.
    duplicated.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let over: Vec<usize> = duplicated
        .iter()
        .filter(|&&(d, _)| u32::from(d) > max)
        .map(|&(_, s)| s)
        .collect();
    let extra: usize = duplicated.iter().map(|&(d, _)| usize::from(d)).sum();
    let observed = match duplicated.first() {
        None => "0 duplicates".to_string(),
        Some(&(most, _)) => format!(
            "{} message{} delivered more than once (most copies: {})",
            fmt_count(duplicated.len()),
            if duplicated.len() == 1 { "" } else { "s" },
            u32::from(most) + 1
        ),
    };
    let status = if over.is_empty() {
        Status::Pass
    } else {
        Status::Fail
    };
    let detail = if duplicated.is_empty() {
        format!(
            "each of the {} delivered messages arrived once",
            fmt_count(delivered)
        )
    } else if over.is_empty() {
        format!(
            "{} extra copies among {} delivered messages, none beyond {max} for one message",
            fmt_count(extra),
            fmt_count(delivered)
        )
    } else {
        format!(
            "{} of {} delivered messages had more than {max} extra cop{}; {} extra copies in all \
             (a connection dropped after the final dot makes the cluster resend)",
            fmt_count(over.len()),
            fmt_count(delivered),
            if max == 1 { "y" } else { "ies" },
            fmt_count(extra)
        )
    };
    Finding {
        name: NAME.to_string(),
        status,
        observed,
        limit,
        detail,
        evidence: evidence(ledger, over),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::LedgerBuilder;
    use super::*;

    #[test]
    fn table() {
        let dup = |n: u16| move |r: &mut crate::collector::MessageRecord| r.duplicates = n;
        let sample = || {
            LedgerBuilder::new()
                .msgs(5, 100, Some(200))
                .msg(100, Some(200))
                .with(dup(1))
                .msg(100, Some(200))
                .with(dup(2))
                .msg(100, None) // never arrived: not in the population
                .build()
        };
        // (name, ledger, max, status, observed, detail, evidence)
        type Case = (
            &'static str,
            Ledger,
            u32,
            Status,
            &'static str,
            &'static str,
            &'static [&'static str],
        );
        let cases: Vec<Case> = vec![
            (
                "none",
                LedgerBuilder::new().msgs(3, 100, Some(200)).build(),
                0,
                Status::Pass,
                "0 duplicates",
                "each of the 3 delivered messages arrived once",
                &[],
            ),
            (
                "duplicates fail max 0",
                sample(),
                0,
                Status::Fail,
                "2 messages delivered more than once (most copies: 3)",
                "2 of 7 delivered messages had more than 0 extra copies; 3 extra copies in all \
                 (a connection dropped after the final dot makes the cluster resend)",
                &["run.6", "run.5"],
            ),
            (
                "max 1 tolerates one extra copy",
                sample(),
                1,
                Status::Fail,
                "2 messages delivered more than once (most copies: 3)",
                "1 of 7 delivered messages had more than 1 extra copy; 3 extra copies in all \
                 (a connection dropped after the final dot makes the cluster resend)",
                &["run.6"],
            ),
            (
                "max 2 passes",
                sample(),
                2,
                Status::Pass,
                "2 messages delivered more than once (most copies: 3)",
                "3 extra copies among 7 delivered messages, none beyond 2 for one message",
                &[],
            ),
            (
                "partly delivered counts as delivered",
                LedgerBuilder::new()
                    .msg(100, None)
                    .with(|r| r.delivered_mask = 1)
                    .with(dup(1))
                    .build(),
                0,
                Status::Fail,
                "1 message delivered more than once (most copies: 2)",
                "1 of 1 delivered messages had more than 0 extra copies; 1 extra copies in all \
                 (a connection dropped after the final dot makes the cluster resend)",
                &["run.0"],
            ),
            (
                "nothing delivered",
                LedgerBuilder::new().msgs(3, 100, None).build(),
                0,
                Status::Inconclusive,
                "no data",
                "no message was delivered, so none can be duplicated",
                &[],
            ),
        ];
        for (name, ledger, max, status, observed, detail, ev) in cases {
            let f = judge(&ledger, max);
            assert_eq!(f.status, status, "{name}: {f:?}");
            assert_eq!(f.observed, observed, "{name}");
            assert_eq!(f.detail, detail, "{name}");
            assert_eq!(f.evidence, ev, "{name}");
        }
    }
}
