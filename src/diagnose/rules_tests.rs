//! The rules on RECORDED evidence: `testdata/postfix-{bad,good}.json` are the `evidence`
//! of `run.json` after `mailquake run tests/scenarios/postfix/blackhole.yaml` against
//! `targets/postfix/cluster.sh up --dir /tmp/mqpft --port 2725 --node-port 2701
//! --tuning bad` (FAIL) and `--tuning good` (PASS), recorded on 2026-12-01;
//! `testdata/postfix-slow-retry.json` the same against `--tuning good` with, on each node,
//! `postconf -e "minimal_backoff_time = 120s" "maximal_backoff_time = 300s"
//! "queue_run_delay = 120s"` and `postfix reload` before the run (drain FAIL: the backlog
//! was not retried before the run ended), recorded on 2026-12-01.

use super::*;
use crate::diagnose::Evidence;

fn recorded(name: &str) -> Evidence {
    let text = match name {
        "bad" => include_str!("testdata/postfix-bad.json"),
        "good" => include_str!("testdata/postfix-good.json"),
        "slow-retry" => include_str!("testdata/postfix-slow-retry.json"),
        _ => unreachable!(),
    };
    serde_json::from_str(text).expect("recorded evidence reads")
}

/// (rule, node) of each finding.
fn fired(e: &Evidence) -> Vec<(String, String)> {
    explain(e).into_iter().map(|f| (f.rule, f.node)).collect()
}

fn setting<'a>(f: &'a Explanation, name: &str) -> &'a Setting {
    f.settings
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("{} names no {name}: {f:?}", f.rule))
}

#[test]
fn the_mis_tuned_cluster_is_explained_by_its_pool_timeouts_and_dead_detection() {
    let e = recorded("bad");
    let findings = explain(&e);
    let mut want = Vec::new();
    for node in ["n1.cluster.test", "n2.cluster.test", "n3.cluster.test"] {
        for rule in ["pool_taken", "long_setup", "dead_detection_off"] {
            want.push((rule.to_string(), node.to_string()));
        }
    }
    assert_eq!(fired(&e), want);
    for f in &findings {
        assert_eq!(f.destination, "down.test");
        assert!(!f.evidence.is_empty(), "{f:?}");
        for s in &f.settings {
            assert!(
                s.doc
                    .starts_with("https://www.postfix.org/postconf.5.html#")
                    && s.doc.ends_with(&s.doc_name),
                "{s:?}"
            );
        }
        match f.rule.as_str() {
            "pool_taken" => {
                let limit = setting(f, SMTP_PROCESS_LIMIT);
                assert_eq!(
                    (limit.value.as_str(), limit.doc_name.as_str()),
                    ("6", "default_process_limit")
                );
                assert_eq!(
                    setting(f, "smtp_destination_concurrency_limit").doc_name,
                    "transport_destination_concurrency_limit"
                );
                assert!(
                    f.text
                        .contains("(6 of 6, smtp process limit 6 in master.cf"),
                    "{}",
                    f.text
                );
                assert!(
                    f.text.contains("smtp_destination_concurrency_limit 50"),
                    "{}",
                    f.text
                );
                assert!(
                    f.evidence
                        .iter()
                        .any(|x| x.starts_with("ok.test mail waited")),
                    "{f:?}"
                );
            }
            "long_setup" => {
                assert_eq!(setting(f, "smtp_helo_timeout").value, "300s");
                assert_eq!(setting(f, "smtp_connect_timeout").value, "60s");
                assert!(f.text.contains("smtp_helo_timeout 300s"), "{}", f.text);
                assert!(f.text.contains("took up to 7"), "{}", f.text);
                assert!(
                    f.evidence[1].ends_with("while receiving the initial server greeting"),
                    "{f:?}"
                );
            }
            _ => {
                let cohort = setting(f, "smtp_destination_concurrency_failed_cohort_limit");
                assert_eq!(cohort.value, "1000");
                assert_eq!(
                    cohort.doc_name,
                    "transport_destination_concurrency_failed_cohort_limit"
                );
                assert_eq!(
                    setting(f, "smtp_destination_concurrency_negative_feedback").value,
                    "0"
                );
                assert!(
                    f.text.starts_with("dead-destination detection is off"),
                    "{}",
                    f.text
                );
            }
        }
    }
}

#[test]
fn the_well_tuned_cluster_yields_no_finding() {
    let e = recorded("good");
    // The evidence is there: down.test was black-holed, attempts failed, and Postfix
    // suspended it; five processes were on it, of a pool of 100.
    let n1 = &e.postfix[0];
    let down = n1
        .deliveries
        .iter()
        .find(|d| d.domain == "down.test")
        .unwrap();
    assert!(
        down.suspended > 0 && down.peak_busy > 0 && down.c.max >= 9.0,
        "{down:?}"
    );
    assert_eq!(explain(&e), []);
}

/// One setting or measurement of the recorded mis-tuned evidence changed at a time:
/// each rule needs both its setting and its measured fact.
#[test]
fn each_rule_needs_its_setting_and_its_evidence() {
    type Change = fn(&mut PostfixNode);
    let cases: [(&str, Change, &[&str]); 8] = [
        (
            "as recorded",
            |_| {},
            &["pool_taken", "long_setup", "dead_detection_off"],
        ),
        (
            "a pool larger than what down.test held",
            |n| {
                n.settings.insert(SMTP_PROCESS_LIMIT.into(), "7".into());
            },
            &["long_setup", "dead_detection_off"],
        ),
        (
            "fewer processes on down.test than the pool",
            |n| {
                n.deliveries.iter_mut().for_each(|d| d.peak_busy = 5);
            },
            &["long_setup", "dead_detection_off"],
        ),
        (
            "short HELO timeout",
            |n| {
                n.settings.insert("smtp_helo_timeout".into(), "10s".into());
            },
            &["pool_taken", "dead_detection_off"],
        ),
        (
            "quick connection set-up",
            |n| {
                n.deliveries.iter_mut().for_each(|d| d.c.max = 10.0);
            },
            &["pool_taken", "dead_detection_off"],
        ),
        (
            "failed cohort limit 1",
            |n| {
                n.settings.insert(
                    "smtp_destination_concurrency_failed_cohort_limit".into(),
                    "1".into(),
                );
            },
            &["pool_taken", "long_setup"],
        ),
        (
            "down.test was suspended",
            |n| {
                n.deliveries.iter_mut().for_each(|d| d.suspended = 1);
            },
            &["pool_taken", "long_setup"],
        ),
        (
            "no maillog: no measured fact, no finding",
            |n| n.deliveries.clear(),
            &[],
        ),
    ];
    for (name, change, want) in cases {
        let mut e = recorded("bad");
        e.postfix.truncate(1);
        change(&mut e.postfix[0]);
        let got: Vec<String> = explain(&e).into_iter().map(|f| f.rule).collect();
        assert_eq!(got, want, "{name}");
    }
    // Cohort limit 0: off, said so.
    let mut e = recorded("bad");
    e.postfix.truncate(1);
    e.postfix[0].settings.insert(
        "smtp_destination_concurrency_failed_cohort_limit".into(),
        "0".into(),
    );
    let f = explain(&e)
        .into_iter()
        .find(|f| f.rule == "dead_detection_off")
        .unwrap();
    assert!(f.text.starts_with("dead-destination detection is off on n1.cluster.test (smtp_destination_concurrency_failed_cohort_limit 0"), "{}", f.text);
    // A destination that had no fault is not blamed.
    let mut e = recorded("bad");
    e.faulted = vec!["other.test".into()];
    assert_eq!(explain(&e), []);
}

#[test]
fn a_shared_pool_taken_by_a_faulted_destination() {
    let node = |design: &str, busy: u32| WorkerNode {
        node: "n1".into(),
        design: design.into(),
        workers: 8,
        peak_busy: [("down.test".to_string(), busy), ("ok.test".to_string(), 8)].into(),
    };
    let cases = [
        (node("shared", 8), 1),
        (node("shared", 7), 0),
        (node("per-destination", 8), 0),
    ];
    for (w, want) in cases {
        let e = Evidence {
            faulted: vec!["down.test".into()],
            healthy: vec!["ok.test".into()],
            embedded: vec![w.clone()],
            ..Default::default()
        };
        let got = explain(&e);
        assert_eq!(got.len(), want, "{w:?}");
        if let Some(f) = got.first() {
            assert_eq!(
                f.text,
                "shared queue: 8 of 8 workers on n1 were busy with down.test at once: mail to every other destination waited behind it (queue: per-destination gives each destination its own window)"
            );
            assert_eq!(f.settings[0].name, "target.embedded.queue");
        }
    }
}

/// Real Postfix whose retries come minutes apart: the backlog at the heal never arrived,
/// and only `backoff_past_drain` explains it, on every node; the same evidence with the
/// recorded good cluster's retry settings (15s + 5s) is not blamed.
#[test]
fn the_recorded_slow_retries_are_explained_by_the_backoff_and_scan_delay() {
    let e = recorded("slow-retry");
    let nodes = ["n1.cluster.test", "n2.cluster.test", "n3.cluster.test"];
    let want: Vec<(String, String)> = nodes
        .iter()
        .map(|n| ("backoff_past_drain".to_string(), n.to_string()))
        .collect();
    assert_eq!(fired(&e), want);
    let f = &explain(&e)[0];
    assert!(
        f.text.starts_with("28 of 28 messages queued for down.test on n1.cluster.test did not arrive within 40 s of the heal: a deferred message waits up to maximal_backoff_time 300s before its next try and up to queue_run_delay 120s"),
        "{}",
        f.text
    );
    assert_eq!(setting(f, "minimal_backoff_time").value, "120s");
    let mut tuned = e.clone();
    for n in &mut tuned.postfix {
        n.settings
            .insert("maximal_backoff_time".into(), "15s".into());
        n.settings.insert("queue_run_delay".into(), "5s".into());
    }
    assert_eq!(fired(&tuned), []);
}

/// A backlog of down.test on a node at a heal at 15 s, drain limit 40 s: `late` arrived
/// after the limit, `never` not at all.
fn backlog(late: u64, never: u64) -> crate::diagnose::backlog::Backlog {
    crate::diagnose::backlog::Backlog {
        domain: "down.test".into(),
        healed_ms: 15_000,
        within_s: 40.0,
        queued: 12,
        late,
        never,
        first_s: (never < 12).then_some(3.0),
        last_s: (never < 12).then_some(if late > 0 { 95.0 } else { 30.0 }),
    }
}

/// The recorded evidence (well tuned, and mis-tuned: both retry within 15 s + 5 s) with
/// a drain backlog added on n1 and its retry settings changed: the rule needs a backlog
/// that did not drain in time and settings that let a retry come after the limit.
#[test]
fn backoff_past_drain_needs_a_late_backlog_and_retries_spaced_past_the_limit() {
    // (recording, case, (late, never), settings changed (None: not read), fires)
    type Case<'a> = (
        &'a str,
        &'a str,
        (u64, u64),
        &'a [(&'a str, Option<&'a str>)],
        bool,
    );
    const MAX: &str = "maximal_backoff_time";
    const SCAN: &str = "queue_run_delay";
    let cases: [Case; 10] = [
        ("good", "as recorded, drained in time", (0, 0), &[], false),
        ("good", "as recorded (15s + 5s), late", (4, 0), &[], false),
        ("bad", "as recorded (15s + 5s), late", (4, 2), &[], false),
        (
            "good",
            "4000s, drained in time",
            (0, 0),
            &[(MAX, Some("4000s"))],
            false,
        ),
        ("good", "4000s, late", (4, 0), &[(MAX, Some("4000s"))], true),
        (
            "good",
            "scan every 5m, never arrived",
            (0, 12),
            &[(SCAN, Some("5m"))],
            true,
        ),
        (
            "good",
            "30s + 10s: exactly the limit",
            (4, 0),
            &[(MAX, Some("30s")), (SCAN, Some("10s"))],
            false,
        ),
        (
            "good",
            "35s + 10s: past the limit",
            (4, 0),
            &[(MAX, Some("35s")), (SCAN, Some("10s"))],
            true,
        ),
        (
            "good",
            "maximal_backoff_time not read",
            (4, 0),
            &[(MAX, None), (SCAN, Some("5m"))],
            false,
        ),
        (
            "good",
            "ok.test had no fault",
            (4, 0),
            &[(MAX, Some("4000s"))],
            false,
        ),
    ];
    for (recording, name, (late, never), settings, fires) in cases {
        let mut e = recorded(recording);
        e.postfix.truncate(1);
        let n = &mut e.postfix[0];
        let mut b = backlog(late, never);
        if name.starts_with("ok.test") {
            b.domain = "ok.test".into();
        }
        n.backlog = vec![b];
        for (key, value) in settings {
            match value {
                Some(v) => n.settings.insert(key.to_string(), v.to_string()),
                None => n.settings.remove(*key),
            };
        }
        let got: Vec<String> = explain(&e)
            .into_iter()
            .map(|f| f.rule)
            .filter(|r| r == "backoff_past_drain")
            .collect();
        assert_eq!(
            got.len(),
            usize::from(fires),
            "{recording}: {name}: {got:?}"
        );
    }
    // What it says: the settings with their values and postconf(5) anchors, the evidence.
    let mut e = recorded("good");
    e.postfix.truncate(1);
    e.postfix[0].backlog = vec![backlog(4, 1)];
    e.postfix[0]
        .settings
        .insert("maximal_backoff_time".into(), "4000s".into());
    let f = explain(&e).pop().expect("a finding");
    assert_eq!(
        f.text,
        "5 of 12 messages queued for down.test on n1.cluster.test did not arrive within 40 s of the heal: a deferred message waits up to maximal_backoff_time 4000s before its next try and up to queue_run_delay 5s for the deferred-queue scan, 4005 s in all, longer than the drain limit"
    );
    let named: Vec<(&str, &str, &str)> = f
        .settings
        .iter()
        .map(|s| (s.name.as_str(), s.value.as_str(), s.doc.as_str()))
        .collect();
    assert_eq!(
        named,
        [
            (
                "maximal_backoff_time",
                "4000s",
                "https://www.postfix.org/postconf.5.html#maximal_backoff_time"
            ),
            (
                "queue_run_delay",
                "5s",
                "https://www.postfix.org/postconf.5.html#queue_run_delay"
            ),
            (
                "minimal_backoff_time",
                "5s",
                "https://www.postfix.org/postconf.5.html#minimal_backoff_time"
            ),
        ]
    );
    assert_eq!(
        f.evidence,
        [
            "12 messages to down.test were queued on n1.cluster.test when its fault ended at 15 s (ledger)",
            "the first of them arrived 3.0 s after the heal, the last 95 s after; 4 later than the 40 s limit",
            "1 had not arrived when measurement stopped",
        ]
    );
}

#[test]
fn postfix_time_values() {
    for (v, want) in [
        ("300s", Some(300.0)),
        ("300", Some(300.0)),
        ("5m", Some(300.0)),
        ("1h", Some(3600.0)),
        ("x", None),
        ("5q", None),
    ] {
        assert_eq!(seconds(v), want, "{v}");
    }
}
