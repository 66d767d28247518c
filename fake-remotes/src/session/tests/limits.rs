//! The stateful faults: greylisting and rate limits, remembered across the sessions of
//! one server, on the paused clock.

use super::*;
use crate::behavior::{Greylist, RateLimit};

const SECS: fn(u64) -> Duration = Duration::from_secs;

/// One delivery attempt of message 1 to `rcpts` (indexes of `mq.1.N@ok.test`).
fn attempt(rcpts: &[u32]) -> String {
    let mut input = "EHLO c.test\r\nMAIL FROM:<mq.1@bounces.test>\r\n".to_string();
    for n in rcpts {
        input.push_str(&format!("RCPT TO:<mq.1.{n}@ok.test>\r\n"));
    }
    input + "QUIT\r\n"
}

#[tokio::test(start_paused = true)]
async fn greylist_defers_each_triple_until_retry_after() {
    let grey = vec![Fault::Greylist(Greylist {
        retry_after: SECS(30),
    })];
    let shared = server(None, false);
    let t0 = Instant::now();
    // (seconds since the first attempt, recipients, their RCPT codes)
    let table: [(u64, &[u32], &[u16]); 5] = [
        (0, &[0, 1], &[451, 451]),
        (10, &[0], &[451]), // an early retry: still greylisted
        (30, &[0, 2], &[250, 451]),
        (45, &[1, 2], &[250, 451]),
        (60, &[2], &[250]),
    ];
    for (at, rcpts, want) in table {
        tokio::time::sleep_until(t0 + SECS(at)).await;
        let mut h = start_in(&shared, grey.clone());
        let output = h.talk(&attempt(rcpts)).await;
        let mut expected = vec![220, 250, 250];
        expected.extend_from_slice(want);
        expected.push(221);
        assert_eq!(codes(&output), expected, "at {at}s: {output}");
        if want[0] == 451 {
            assert!(output.contains("451 4.7.1 Greylisted, please try again later"));
            let fired = RemoteEventKind::FaultFired {
                fault: "greylist".into(),
                stage: Stage::Rcpt,
                rcpts: vec![format!("mq.1.{}@ok.test", rcpts[0])],
            };
            assert_eq!(h.events()[1], fired, "at {at}s");
        }
    }
}

#[tokio::test(start_paused = true)]
async fn greylist_is_asked_after_the_other_faults() {
    let faults = vec![
        Fault::Greylist(Greylist {
            retry_after: SECS(1),
        }),
        reply_fault(Stage::Rcpt, 550),
    ];
    let shared = server(None, false);
    let mut h = start_in(&shared, faults);
    assert_eq!(
        codes(&h.talk(&attempt(&[0])).await),
        [220, 250, 250, 550, 221]
    );
    // The 550 fired first, so the triple was never seen: it is new now.
    tokio::time::advance(SECS(5)).await;
    let grey = vec![Fault::Greylist(Greylist {
        retry_after: SECS(1),
    })];
    let mut h = start_in(&shared, grey);
    assert_eq!(
        codes(&h.talk(&attempt(&[0])).await),
        [220, 250, 250, 451, 221]
    );
}

#[tokio::test(start_paused = true)]
async fn message_rate_limit_says_421_at_mail_and_closes() {
    let limit = vec![Fault::RateLimit(RateLimit {
        messages: Some(2),
        per: Some(SECS(60)),
        connections: None,
    })];
    let shared = server(None, false);
    let mut h = start_in(&shared, limit.clone());
    let two =
        format!("{ENVELOPE}{MESSAGE}MAIL FROM:<a@b.test>\r\nRCPT TO:<x@ok.test>\r\n{MESSAGE}");
    let output = h
        .talk(&format!("{two}MAIL FROM:<a@b.test>\r\nQUIT\r\n"))
        .await;
    assert_eq!(
        codes(&output),
        [220, 250, 250, 250, 354, 250, 250, 250, 354, 250, 421],
        "{output}"
    );
    assert!(output
        .ends_with("421 4.7.0 Too much mail from 127.0.0.1, try again later (fake-remotes)\r\n"));
    assert!(h.events().contains(&RemoteEventKind::FaultFired {
        fault: "rate_limit".into(),
        stage: Stage::Mail,
        rcpts: vec![],
    }));
    // Another connection from the same IP is in the same window …
    let mut h = start_in(&shared, limit.clone());
    assert_eq!(codes(&h.talk(ENVELOPE).await), [220, 250, 421]);
    // … until the window has passed.
    tokio::time::advance(SECS(60)).await;
    let mut h = start_in(&shared, limit);
    assert_eq!(
        codes(&h.talk(&format!("{ENVELOPE}QUIT\r\n")).await),
        [220, 250, 250, 250, 221]
    );
}

#[tokio::test(start_paused = true)]
async fn connection_limit_says_421_as_the_banner() {
    let limit = vec![Fault::RateLimit(RateLimit {
        connections: Some(2),
        ..RateLimit::default()
    })];
    let shared = server(None, false);
    let mut first = start_in(&shared, limit.clone());
    let mut second = start_in(&shared, limit.clone());
    assert_eq!(codes(&first.replies(1).await), [220]);
    assert_eq!(codes(&second.replies(1).await), [220]);
    let mut third = start_in(&shared, limit.clone());
    assert_eq!(
        third.talk("EHLO c\r\n").await,
        "421 4.7.0 Too many connections from 127.0.0.1, closing connection (fake-remotes)\r\n"
    );
    assert_eq!(
        third.events()[1],
        RemoteEventKind::FaultFired {
            fault: "rate_limit".into(),
            stage: Stage::Banner,
            rcpts: vec![],
        }
    );
    // Once a session has ended (its events channel closed), it is counted out.
    drop(first.client);
    while timeout(WAIT, first.events.recv())
        .await
        .expect("ends")
        .is_some()
    {}
    let mut fourth = start_in(&shared, limit);
    assert_eq!(codes(&fourth.replies(1).await), [220]);
    drop(second);
}

#[tokio::test(start_paused = true)]
async fn connections_are_counted_before_a_limit_is_switched_on() {
    let shared = server(None, false);
    let mut open = Vec::new();
    for _ in 0..3 {
        let mut h = start_in(&shared, vec![]);
        assert_eq!(codes(&h.replies(1).await), [220]);
        open.push(h);
    }
    let limit = vec![Fault::RateLimit(RateLimit {
        connections: Some(3),
        ..RateLimit::default()
    })];
    let mut h = start_in(&shared, limit);
    assert_eq!(codes(&h.talk("").await), [421]);
}
