//! The collector, one event at a time: submissions, deliveries, bounces, foreign mail, reports that overtake their submission.

use std::sync::Arc;

use super::*;

fn collector() -> Collector {
    let ledger = Ledger {
        run_id: "r1".into(),
        t0_us: 1_000_000,
        domains: vec!["ok.test".into()],
        ..Default::default()
    };
    Collector::new(ledger)
}

fn submitted(seq: u64, rcpts: u8) -> Event {
    Event::Submitted {
        seq,
        domain: 0,
        rcpts,
        intended_us: 1_000_000 + seq * 1000,
    }
}

fn arrived(rcpts: &[&str], tracking: Option<&str>, by: &str, at_us: u64) -> Event {
    Event::Remote(RemoteEvent {
        at_us,
        remote: "ok".into(),
        kind: RemoteEventKind::Message {
            mail_from: "mq.0@bounces.test".into(),
            rcpts: rcpts.iter().map(|s| s.to_string()).collect(),
            tracking: tracking.map(String::from),
            received_by: vec![by.into()],
            size: 10,
        },
    })
}

#[test]
fn follows_a_message_from_submit_to_delivery_and_duplicate() {
    let mut c = collector();
    c.apply(submitted(0, 2));
    c.apply(Event::Accepted {
        seq: 0,
        at_us: 1_010_000,
        node: Arc::from("n1"),
    });
    assert_eq!(c.progress.outstanding, 1);
    c.apply(arrived(&["mq.0.0@ok.test"], Some("r1.0"), "n2", 1_050_000));
    assert_eq!(c.progress.outstanding, 1, "one of two recipients");
    c.apply(arrived(&["mq.0.1@ok.test"], Some("r1.0"), "n2", 1_060_000));
    c.apply(arrived(&["mq.0.1@ok.test"], Some("r1.0"), "n2", 1_070_000));
    let r = c.ledger.records[0];
    assert_eq!((r.accepted_ms, r.delivered_ms, r.duplicates), (10, 60, 1));
    assert_eq!(c.ledger.node_name(r.accepted_node), "n1");
    assert_eq!(c.ledger.node_name(r.delivered_node), "n2");
    assert_eq!(c.progress.outstanding, 0);
    assert_eq!((c.progress.delivered, c.progress.duplicates), (1, 1));
}

#[test]
fn delivery_seen_before_acceptance_is_not_outstanding() {
    let mut c = collector();
    c.apply(submitted(0, 1));
    c.apply(arrived(&["mq.0.0@ok.test"], None, "n1", 1_020_000));
    c.apply(Event::Accepted {
        seq: 0,
        at_us: 1_030_000,
        node: Arc::from("n1"),
    });
    assert_eq!(c.progress.outstanding, 0);
    assert!(c.ledger.records[0].delivered());
}

/// A delivery the remotes report before the generator's `Submitted` reached the
/// collector (their events travel apart) is applied when it comes: delivered, not
/// foreign, nothing outstanding.
#[test]
fn a_delivery_seen_before_its_submission_counts_when_it_comes() {
    let mut c = collector();
    c.apply(arrived(&["mq.3.0@ok.test"], None, "n1", 1_020_000));
    assert_eq!(c.ledger.foreign, 0);
    c.apply(submitted(3, 1));
    c.apply(Event::Accepted {
        seq: 3,
        at_us: 1_010_000,
        node: Arc::from("n1"),
    });
    c.close_early();
    assert_eq!(
        (
            c.ledger.foreign,
            c.progress.delivered,
            c.progress.outstanding
        ),
        (0, 1, 0)
    );
    assert!(c.ledger.records[3].delivered());
}

#[test]
fn bounces_foreign_mail_and_rejections() {
    let mut c = collector();
    c.apply(submitted(0, 1));
    c.apply(submitted(1, 1));
    for seq in [0, 1] {
        c.apply(Event::Accepted {
            seq,
            at_us: 1_001_000,
            node: Arc::from("n1"),
        });
    }
    c.apply(arrived(&["mq.1@bounces.test"], None, "n1", 1_500_000));
    assert!(c.ledger.records[1].bounced());
    assert_eq!(c.progress.outstanding, 1);
    // Another run's message, and a sequence number never submitted.
    c.apply(arrived(
        &["mq.0.0@ok.test"],
        Some("other.0"),
        "n1",
        1_500_000,
    ));
    c.apply(arrived(&["mq.99.0@ok.test"], None, "n1", 1_500_000));
    // The never-submitted one may yet be submitted: foreign once the run ends.
    assert_eq!(c.ledger.foreign, 1);
    c.close_early();
    assert_eq!(c.ledger.foreign, 2);
    assert!(!c.ledger.records[0].delivered());
    c.apply(submitted(2, 1));
    c.apply(Event::NotAccepted {
        seq: 2,
        at_us: 1_002_000,
        phase: crate::smtp::Phase::Rcpt,
        code: Some(451),
    });
    assert_eq!(c.ledger.submit_rejections.get(&451), Some(&1));
    assert!(c.ledger.records[2].is(flag::REJECTED));
}

/// A failed probe sample is kept with its time and node (the completeness of the
/// queue check is judged from them); a reading goes into the queue samples.
#[test]
fn probe_samples_and_failures_are_kept_by_time_and_node() {
    let mut c = collector();
    c.apply(Event::QueueSample {
        node: Arc::from("n2"),
        at_us: 1_000_000,
        depth: Some(event::QueueDepth {
            total: 4,
            by_domain: vec![],
        }),
    });
    c.apply(Event::QueueSample {
        node: Arc::from("n2"),
        at_us: 2_003_000,
        depth: None,
    });
    let n2 = c.ledger.node_index("n2");
    assert_eq!(c.ledger.probe_failures, [(1_003, n2)]);
    assert_eq!(c.ledger.queue.len(), 1);
    assert_eq!((c.ledger.queue[0].at_ms, c.ledger.queue[0].total), (0, 4));
}

#[test]
fn preflight_canaries_count_nowhere() {
    let mut c = collector();
    c.apply(submitted(0, 1));
    c.apply(arrived(
        &["mq-canary.r1.0@ok.test"],
        Some("r1-pf.0"),
        "n1",
        1_500_000,
    ));
    c.apply(arrived(
        &["mq-canary.r1.b@bounces.test"],
        None,
        "n1",
        1_500_000,
    ));
    c.apply(Event::Remote(RemoteEvent {
        at_us: 1_500_000,
        remote: "ok".into(),
        kind: RemoteEventKind::Rcpt {
            rcpt: "mq-canary.r1.0@ok.test".into(),
            code: 250,
        },
    }));
    assert_eq!(c.ledger.foreign, 0);
    assert!(c.ledger.remotes.is_empty(), "{:?}", c.ledger.remotes);
    assert_eq!((c.progress.delivered, c.progress.bounced), (0, 0));
}
