//! Table tests of the `alert` judge over recorded polls: one poll a second, each a
//! state of the watched alert, with gaps and failures where a case says so.

use std::time::Duration;

use super::*;
use crate::collector::alerts::AlertsSeen;

const PROM: &str = "http://127.0.0.1:9090";

/// What one poll saw of `Backlog`.
#[derive(Clone, Copy, Debug)]
enum S {
    /// The rule is loaded, nothing active.
    Quiet,
    /// Pending on `n2`.
    Pending,
    /// Firing on `n2`.
    Firing,
    /// Firing on `n1` only.
    FiringN1,
    /// The poll failed.
    Failed,
    /// Skipped: no poll at all (a gap).
    Skip,
    /// Prometheus answered without the rule.
    NoRule,
}

/// Polls at 0 s, 1 s, … : `spans` says the state from each start (seconds) on, until
/// `end_s` (the end of measurement).
fn ledger(spans: &[(u32, S)], end_s: u32) -> Ledger {
    let mut l = Ledger {
        end_ms: end_s * 1000,
        ..Default::default()
    };
    for t in 0..=end_s {
        let state = spans
            .iter()
            .rev()
            .find(|(from, _)| *from <= t)
            .map_or(S::Quiet, |s| s.1);
        let active = |node: &str, firing: bool| ActiveAlert {
            name: "Backlog".into(),
            labels: [("node".to_string(), node.to_string())].into(),
            firing,
        };
        let rules = vec!["Backlog".to_string()];
        let seen = match state {
            S::Skip => continue,
            S::Failed => None,
            S::NoRule => Some(AlertsSeen::default()),
            S::Quiet => Some(AlertsSeen {
                rules,
                active: vec![],
            }),
            S::Pending => Some(AlertsSeen {
                rules,
                active: vec![active("n2", false)],
            }),
            S::Firing => Some(AlertsSeen {
                rules,
                active: vec![active("n2", true), active("n1", false)],
            }),
            S::FiringN1 => Some(AlertsSeen {
                rules,
                active: vec![active("n1", true)],
            }),
        };
        l.alert_polls.push(AlertPoll {
            // A little after the second, as a poll's answer comes.
            at_ms: t * 1000 + 7,
            prometheus: PROM.into(),
            error: seen
                .is_none()
                .then(|| "unreachable: connection refused".into()),
            seen,
        });
    }
    l
}

/// The fault on n2 from 10 s to 40 s; fires within 15 s, resolves within 10 s.
fn check(labels: &[(&str, &str)]) -> AlertCheck {
    AlertCheck {
        prometheus: PROM.into(),
        name: "Backlog".into(),
        labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        during: (
            "node n2".into(),
            Duration::from_secs(10),
            Some(Duration::from_secs(40)),
        ),
        fires_within: Duration::from_secs(15),
        resolves_within: Some(Duration::from_secs(10)),
    }
}

#[test]
fn judged_from_the_alert_state_over_the_run() {
    use S::*;
    let n2 = &[("node", "n2")][..];
    // (case, polls, end of measurement s, labels, status, the detail contains)
    type Case<'a> = (
        &'a str,
        Vec<(u32, S)>,
        u32,
        &'a [(&'a str, &'a str)],
        Status,
        &'a str,
    );
    let table: Vec<Case> = vec![
        (
            "fires and resolves in time",
            vec![(0, Quiet), (15, Pending), (18, Firing), (43, Quiet)],
            60,
            n2,
            Status::Pass,
            "fired 8s after the fault began (pending from 5s), resolved 3s after the fault ended",
        ),
        (
            "a false alarm before the fault",
            vec![(0, Quiet), (5, Firing), (6, Quiet), (18, Firing), (43, Quiet)],
            60,
            n2,
            Status::Fail,
            "was firing at 5s, before the fault on node n2 began at 10s: a false alarm",
        ),
        (
            "never fires",
            vec![(0, Quiet)],
            60,
            n2,
            Status::Fail,
            "never fired after the fault on node n2 began at 10s",
        ),
        (
            "pending, never firing",
            vec![(0, Quiet), (15, Pending), (41, Quiet)],
            60,
            n2,
            Status::Fail,
            "(pending from 15s, never firing)",
        ),
        (
            "fires too late",
            vec![(0, Quiet), (30, Firing), (43, Quiet)],
            60,
            n2,
            Status::Fail,
            "fired 20s after the fault on node n2 began, later than the 15s limit",
        ),
        (
            "does not resolve",
            vec![(0, Quiet), (18, Firing)],
            60,
            n2,
            Status::Fail,
            "was still firing 19s after the fault on node n2 ended (limit 10s)",
        ),
        (
            "resolves too late",
            vec![(0, Quiet), (18, Firing), (55, Quiet)],
            60,
            n2,
            Status::Fail,
            "resolved 15s after the fault on node n2 ended, later than the 10s limit",
        ),
        (
            "fires on another node only",
            vec![(0, Quiet), (18, FiringN1), (43, Quiet)],
            60,
            n2,
            Status::Fail,
            "Backlog{node=\"n2\"} never fired",
        ),
        (
            "any node counts without labels",
            vec![(0, Quiet), (18, FiringN1), (43, Quiet)],
            60,
            &[],
            Status::Pass,
            "fired 8s after",
        ),
        (
            "the rule is missing",
            vec![(0, NoRule)],
            60,
            n2,
            Status::Fail,
            "has no alerting rule named `Backlog` (at any of 60 polls): it could not fire",
        ),
        (
            "one failed poll is tolerated",
            vec![(0, Quiet), (5, Failed), (6, Quiet), (18, Firing), (43, Quiet)],
            60,
            n2,
            Status::Pass,
            "60 polls of http://127.0.0.1:9090, 1 failed",
        ),
        (
            "a gap before the fault",
            vec![(0, Quiet), (3, Failed), (8, Quiet), (18, Firing), (43, Quiet)],
            60,
            n2,
            Status::Inconclusive,
            "a false alarm before the fault cannot be ruled out (no reading between 2s and 8s)",
        ),
        (
            "a gap where it should fire, never seen firing",
            vec![(0, Quiet), (12, Skip), (26, Quiet)],
            60,
            n2,
            Status::Inconclusive,
            "whether Backlog{node=\"n2\"} fired within 15s is unknown (no reading between 11s and 26s)",
        ),
        (
            "a gap before it fired in time",
            vec![(0, Quiet), (11, Skip), (15, Firing), (43, Quiet)],
            60,
            n2,
            Status::Pass,
            "fired 5s after",
        ),
        (
            "a false alarm seen fails whatever the gaps",
            vec![(0, Firing), (2, Skip), (8, Quiet), (18, Firing), (43, Quiet)],
            60,
            n2,
            Status::Fail,
            "a false alarm",
        ),
        (
            "measurement stopped before the resolve window closed",
            vec![(0, Quiet), (18, Firing)],
            45,
            n2,
            Status::Inconclusive,
            "whether Backlog{node=\"n2\"} resolved within 10s is unknown (nothing was read after 44s)",
        ),
        (
            "every poll failed",
            vec![(0, Failed)],
            60,
            n2,
            Status::Inconclusive,
            "no poll of http://127.0.0.1:9090 answered (60 failed: unreachable: connection refused)",
        ),
    ];
    for (case, spans, end_s, labels, status, words) in table {
        let f = judge(&ledger(&spans, end_s), &check(labels));
        assert_eq!(f.status, status, "{case}: {f:#?}");
        assert!(
            f.detail.contains(words),
            "{case}: {:?}\nwant: {words}",
            f.detail
        );
        assert!(
            !f.limit.is_empty() && !f.observed.is_empty(),
            "{case}: {f:?}"
        );
    }
}

/// Polls of another Prometheus do not count, and the detail names each firing span.
#[test]
fn reads_only_its_own_prometheus_and_shows_the_spans() {
    let mut l = ledger(&[(0, S::Quiet), (18, S::Firing), (43, S::Quiet)], 60);
    let f = judge(&l, &check(&[]));
    assert!(
        f.detail.ends_with("; firing: Backlog{node=\"n2\"} 18s–42s"),
        "{f:#?}"
    );
    assert!(f.evidence.is_empty(), "evidence is tracking ids: {f:?}");
    for p in &mut l.alert_polls {
        p.prometheus = "http://127.0.0.1:9091".into();
    }
    let f = judge(&l, &check(&[]));
    assert_eq!(f.status, Status::Inconclusive, "{f:#?}");
    assert!(
        f.detail
            .contains("no poll of http://127.0.0.1:9090 answered (0 failed)"),
        "{f:?}"
    );
}

/// Without `resolves_within`, only the false alarm and the firing are judged.
#[test]
fn resolution_is_judged_only_when_asked() {
    let mut c = check(&[]);
    c.resolves_within = None;
    let f = judge(&ledger(&[(0, S::Quiet), (18, S::Firing)], 60), &c);
    assert_eq!(f.status, Status::Pass, "{f:#?}");
    assert!(!f.limit.contains("resolves"), "{}", f.limit);
}
