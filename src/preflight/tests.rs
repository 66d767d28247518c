//! The preflight's decisions without a network: which canaries, how arrivals are read
//! (on tokio's paused clock), and the lines a failed preflight prints.

use super::*;
use crate::checks::testkit::plan;
use crate::scenario::Endpoint;

fn external(checks: Vec<Check>) -> Plan {
    let mut p = plan(vec![], checks);
    p.target = Target::Smtp(vec![Endpoint::from("127.0.0.1:2525")]);
    p
}

fn routes() -> HashMap<String, SocketAddr> {
    [
        ("ok.test", "127.0.0.1:3001"),
        ("down.test", "127.0.0.1:3002"),
        ("bounces.test", "127.0.0.1:3099"),
    ]
    .into_iter()
    .map(|(d, a)| (d.to_string(), a.parse().unwrap()))
    .collect()
}

fn sent(c: &mut Canary) {
    c.fate = Fate::Sent {
        by: "127.0.0.1:2525".into(),
        at_us: 1_000_000,
    };
}

/// A message seen at `remote` 0.25 s after the canaries were accepted.
fn message(remote: &str, rcpt: &str) -> RemoteEvent {
    RemoteEvent {
        at_us: 1_250_000,
        remote: remote.into(),
        kind: RemoteEventKind::Message {
            mail_from: String::new(),
            rcpts: vec![rcpt.into()],
            tracking: None,
            received_by: vec![],
            size: 1,
        },
    }
}

#[test]
fn one_canary_per_mix_domain_and_a_bounce_canary_when_a_check_counts_bounces() {
    let table = [
        (vec![], vec!["ok.test", "down.test"]),
        (
            vec![Check::NoDuplicates { max: 0 }],
            vec!["ok.test", "down.test"],
        ),
        (
            vec![Check::NoLoss],
            vec!["ok.test", "down.test", "bounces.test"],
        ),
    ];
    for (checks, want) in table {
        let list = canaries(&external(checks), "r1", &routes());
        let domains: Vec<&str> = list.iter().map(|c| c.domain.as_str()).collect();
        assert_eq!(domains, want);
    }
    let list = canaries(&external(vec![Check::NoLoss]), "r1", &routes());
    let (ok, bounce) = (&list[0], &list[2]);
    assert_eq!(
        (ok.from.as_str(), ok.rcpt.as_str(), ok.expect.as_str()),
        (
            "mq-canary.r1.0@bounces.test",
            "mq-canary.r1.0@ok.test",
            "mq-canary.r1.0@ok.test"
        )
    );
    assert_eq!(
        (ok.remote.as_str(), ok.remote_addr),
        ("ok", Some("127.0.0.1:3001".parse().unwrap()))
    );
    assert_eq!(bounce.rcpt, "mq-reject.r1@ok.test");
    assert_eq!(bounce.expect, "mq-canary.r1.b@bounces.test");
    assert_eq!(bounce.remote, "bounces");
    // What the canaries send is never a tracking address of the load.
    for c in &list {
        assert!(crate::collector::is_canary_event(
            &message(&c.remote, &c.rcpt).kind
        ));
        assert!(crate::collector::is_canary_event(
            &message(&c.remote, &c.expect).kind
        ));
    }
}

#[tokio::test(start_paused = true)]
async fn arrivals_are_matched_to_the_remote_serving_the_domain() {
    let plan = external(vec![Check::NoLoss]);
    let mut list = canaries(&plan, "r1", &routes());
    list.iter_mut().for_each(sent);
    let (tx, mut rx) = mpsc::channel(64);
    // Noise first: another run's mail, a connection.
    tx.try_send(message("ok", "mq.1.0@ok.test")).unwrap();
    tx.try_send(message("ok", "mq-canary.OTHER.0@ok.test"))
        .unwrap();
    tx.try_send(message("ok", "MQ-CANARY.r1.0@ok.test"))
        .unwrap();
    // down.test's canary reaches `ok`: misrouted; the bounce arrives where it should.
    tx.try_send(message("ok", "mq-canary.r1.1@down.test"))
        .unwrap();
    tx.try_send(message("bounces", "mq-canary.r1.b@bounces.test"))
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    wait(&mut list, &mut rx, deadline, &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(
        list[0].fate,
        Fate::Arrived {
            after: Duration::from_millis(250)
        }
    );
    assert_eq!(
        list[1].fate,
        Fate::Misrouted {
            by: "127.0.0.1:2525".into(),
            at_remote: "ok".into()
        }
    );
    assert!(matches!(list[2].fate, Fate::Arrived { .. }));
    assert!(
        Instant::now() < deadline,
        "returned as soon as all were seen"
    );
}

#[tokio::test(start_paused = true)]
async fn a_canary_that_never_arrives_waits_until_the_deadline_and_an_abort_stops_the_wait() {
    let plan = external(vec![]);
    let mut list = canaries(&plan, "r1", &routes());
    list.iter_mut().for_each(sent);
    let (tx, mut rx) = mpsc::channel(64);
    tx.try_send(message("ok", "mq-canary.r1.0@ok.test"))
        .unwrap();
    let start = Instant::now();
    wait(
        &mut list,
        &mut rx,
        start + Duration::from_secs(30),
        &CancellationToken::new(),
    )
    .await
    .unwrap();
    assert_eq!(start.elapsed(), Duration::from_secs(30));
    assert!(matches!(list[0].fate, Fate::Arrived { .. }));
    assert!(matches!(list[1].fate, Fate::Sent { .. }));

    let abort = CancellationToken::new();
    abort.cancel();
    let e = wait(&mut list, &mut rx, start + Duration::from_secs(60), &abort)
        .await
        .unwrap_err();
    assert!(
        e.contains("interrupted") && e.contains("no load was sent"),
        "{e}"
    );
    drop(tx);
    let e = wait(
        &mut list,
        &mut rx,
        Instant::now() + Duration::from_secs(5),
        &CancellationToken::new(),
    )
    .await
    .unwrap_err();
    assert!(e.contains("stopped reporting"), "{e}");
}

#[test]
fn a_failed_canary_is_one_line_in_the_users_terms() {
    let plan = external(vec![Check::NoLoss]);
    let mut list = canaries(&plan, "r1", &routes());
    list.iter_mut().for_each(sent);
    list[1].fate = Fate::NotAccepted {
        by: "127.0.0.1:2525".into(),
        why: "rcpt: 554 5.7.1 Relay access denied".into(),
    };
    let lines = failure_lines(&list, &plan);
    assert_eq!(
        lines,
        [
            "ok.test: the canary was accepted by 127.0.0.1:2525 but never reached remote `ok` at \
             127.0.0.1:3001 in 30 s — is the transport map installed? `mailquake routes test.yaml --format postfix`",
            "down.test: the canary was not accepted by 127.0.0.1:2525: rcpt: 554 5.7.1 Relay access denied",
            "bounces.test: the bounce canary (to mq-reject.r1@ok.test, which every fake remote answers 550) \
             was accepted by 127.0.0.1:2525 but its bounce never reached remote `bounces` at 127.0.0.1:3099 \
             in 30 s — does the cluster send bounces, and is bounces.test in the transport map? \
             `mailquake routes test.yaml --format postfix`",
        ]
    );
    list[0].fate = Fate::Arrived {
        after: Duration::from_millis(400),
    };
    list[1].fate = Fate::Misrouted {
        by: "127.0.0.1:2525".into(),
        at_remote: "ok".into(),
    };
    list[2].fate = Fate::NotAccepted {
        by: String::new(),
        why: "127.0.0.1:2525: connect: connection refused".into(),
    };
    assert_eq!(
        failure_lines(&list, &plan),
        [
            "down.test: the canary was accepted by 127.0.0.1:2525 but reached remote `ok` instead of \
             `down` at 127.0.0.1:3002 — the transport map sends down.test to the wrong place: \
             `mailquake routes test.yaml --format postfix`",
            "bounces.test: the canary could not be submitted: 127.0.0.1:2525: connect: connection refused",
        ]
    );
    assert_eq!(seconds(Duration::from_millis(2500)), "2.5 s");
}

#[tokio::test]
async fn an_embedded_target_needs_none_and_the_flag_skips_it() {
    let client = ClientOptions::plain(
        "t",
        crate::smtp::Timeouts::uniform(Duration::from_secs(1), Duration::from_secs(1)),
    );
    let (_tx, mut rx) = mpsc::channel(64);
    let abort = CancellationToken::new();
    let embedded = plan(vec![], vec![]);
    let r = run(&embedded, "r1", &[], &client, &routes(), &mut rx, &abort)
        .await
        .unwrap();
    assert_eq!(r.status, PreflightStatus::NotNeeded);
    let mut skipped = external(vec![]);
    skipped.preflight.skip = true;
    let r = run(&skipped, "r1", &[], &client, &routes(), &mut rx, &abort)
        .await
        .unwrap();
    assert_eq!((r.status, r.timeout_s), (PreflightStatus::Skipped, 30.0));
    assert!(r.describe().contains("skipped"), "{}", r.describe());
}

#[test]
fn a_merged_preflight_lists_every_shards_canaries_and_skipped_wins() {
    let canary = |domain: &str| CanaryJson {
        domain: domain.into(),
        remote: "ok".into(),
        arrived_after_s: 0.5,
        shard: None,
    };
    let report = |status, canaries: Vec<CanaryJson>| PreflightReport {
        status,
        timeout_s: 10.0,
        canaries,
    };
    let passed = |d: &str| report(PreflightStatus::Passed, vec![canary(d)]);
    let skipped = report(PreflightStatus::Skipped, vec![]);
    let both =
        PreflightReport::merged(&[(0, Some(&passed("a.test"))), (1, Some(&passed("b.test")))])
            .unwrap();
    assert_eq!(both.status, PreflightStatus::Passed);
    let sent: Vec<(String, Option<u64>)> = both
        .canaries
        .iter()
        .map(|c| (c.domain.clone(), c.shard))
        .collect();
    assert_eq!(
        sent,
        [
            ("a.test".to_string(), Some(0)),
            ("b.test".to_string(), Some(1))
        ]
    );
    assert!(
        both.describe().contains("b.test 0.50 s (shard 1)"),
        "{}",
        both.describe()
    );
    type Shards<'a> = &'a [(u64, Option<&'a PreflightReport>)];
    let table: [(Shards, Option<PreflightStatus>); 3] = [
        (
            &[(0, Some(&passed("a.test"))), (1, Some(&skipped))],
            Some(PreflightStatus::Skipped),
        ),
        (
            &[(0, Some(&skipped)), (1, Some(&skipped))],
            Some(PreflightStatus::Skipped),
        ),
        (&[(0, Some(&passed("a.test"))), (1, None)], None),
    ];
    for (shards, want) in table {
        assert_eq!(PreflightReport::merged(shards).map(|r| r.status), want);
    }
}
