//! `routing`: an always-on rule, not written in scenarios — mail reached only remotes
//! that serve its domain.
//!
//! A message (or its bounce) that reached another remote is **misrouted**
//! (`collector/routing.rs`): it was not delivered to its destination, whatever that
//! remote answered, so a run with any misrouted message cannot pass. The finding is
//! added after the scenario's checks only when something was misrouted, so it shows in
//! every output (terminal, summary.json, junit.xml, report.html) as a failed check
//! naming the remote each domain's mail reached.

use super::common::{evidence, fmt_count};
use super::{Finding, Status};
use crate::collector::Ledger;

const NAME: &str = "routing";

/// The failed `routing` finding, or `None` when nothing was misrouted.
pub(super) fn judge(ledger: &Ledger) -> Option<Finding> {
    let total: u64 = ledger.misrouted.values().flat_map(|d| d.values()).sum();
    if total == 0 {
        return None;
    }
    let reached = ledger
        .misrouted
        .iter()
        .flat_map(|(remote, domains)| {
            domains.iter().map(move |(domain, n)| {
                format!("{} for {domain} reached `{remote}`", fmt_count(*n as usize))
            })
        })
        .collect::<Vec<_>>()
        .join(", ");
    let seqs = ledger
        .records
        .iter()
        .enumerate()
        .filter(|(_, r)| r.misrouted())
        .map(|(seq, _)| seq);
    Some(Finding {
        name: NAME.to_string(),
        status: Status::Fail,
        observed: format!("{} messages misrouted", fmt_count(total as usize)),
        limit: "mail reaches only the remote serving its domain".to_string(),
        detail: format!(
            "{reached}, which does not serve that domain: the cluster sent it to the wrong remote \
             (remotes sharing one IP? an MTA that reuses a connection per IP hands one remote's mail \
             to another; give each remote its own address, the default)"
        ),
        evidence: evidence(ledger, seqs),
    })
}

#[cfg(test)]
mod tests {
    use super::super::testkit::{fault, plan, LedgerBuilder};
    use super::*;
    use crate::checks::{judge as judge_all, Verdict};
    use crate::collector::ledger::flag;
    use crate::scenario::Check;

    /// Nothing misrouted: no finding, the scenario's checks alone decide.
    #[test]
    fn nothing_misrouted_adds_no_finding() {
        let ledger = LedgerBuilder::new()
            .node("n1")
            .msgs(3, 1_000, Some(1_100))
            .build();
        assert_eq!(judge(&ledger), None);
    }

    /// A message delivered at a remote not serving its domain: the collector left it
    /// undelivered and flagged it; the run fails on `routing` even though every written
    /// check passes.
    #[test]
    fn a_misrouted_message_fails_the_run() {
        let mut ledger = LedgerBuilder::new()
            .node("n1")
            .msgs(2, 1_000, Some(1_100))
            .msg(1_000, None)
            .build();
        ledger.records[2].flags |= flag::MISROUTED;
        ledger
            .misrouted
            .entry("ok".into())
            .or_default()
            .insert("down.test".into(), 1);
        let p = plan(
            vec![fault("down", 30, Some(60))],
            vec![Check::NoDuplicates { max: 0 }],
        );
        let findings = judge_all(&p, &ledger, &Default::default());
        assert_eq!(findings.len(), 2, "{findings:?}");
        assert!(findings[0].passed(), "{:?}", findings[0]);
        let f = &findings[1];
        assert_eq!((f.name.as_str(), f.status), ("routing", Status::Fail));
        assert_eq!(f.observed, "1 messages misrouted");
        assert!(
            f.detail.starts_with("1 for down.test reached `ok`"),
            "{}",
            f.detail
        );
        assert_eq!(f.evidence, [ledger.tracking_id(2)]);
        assert_eq!(Verdict::decide(&findings, None, true), Verdict::Fail);
    }
}
