//! Greylisting and rate limits over real sockets: what the server remembers across
//! connections.

use fake_remotes::behavior::{Greylist, RateLimit};

use super::*;

/// One delivery attempt of message 1 to `mq.1.0@ok.test`: the RCPT reply's code.
async fn rcpt_attempt(remote: &Remote) -> u16 {
    let mut c = remote.connect().await;
    send(&mut c, &format!("{ENVELOPE}QUIT\r\n")).await;
    let all = replies(&mut c, 5).await;
    codes(&all)[3]
}

#[tokio::test]
async fn greylist_defers_until_retry_after_then_accepts() {
    let retry_after = Duration::from_millis(300);
    let mut remote = start(vec![Fault::Greylist(Greylist { retry_after })]).await;
    let first = Instant::now();
    let mut c = remote.connect().await;
    send(&mut c, &format!("{ENVELOPE}QUIT\r\n")).await;
    let all = replies(&mut c, 5).await;
    assert!(
        all.contains("451 4.7.1 Greylisted, please try again later (fake-remotes)\r\n"),
        "{all}"
    );
    let fired = remote
        .wait_for(|e| matches!(e, RemoteEventKind::FaultFired { .. }))
        .await;
    assert_eq!(
        fired,
        RemoteEventKind::FaultFired {
            fault: "greylist".into(),
            stage: Stage::Rcpt,
            rcpts: vec!["mq.1.0@ok.test".into()],
        }
    );
    // Retry like an impatient MTA until accepted: never before retry_after.
    let mut attempts = 1;
    loop {
        let code = rcpt_attempt(&remote).await;
        attempts += 1;
        if code == 250 {
            break;
        }
        assert_eq!(code, 451);
        assert!(attempts < 200, "never accepted");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(first.elapsed() >= retry_after, "{:?}", first.elapsed());
    assert!(attempts > 2, "early retries were greylisted too");
    remote.finish().await;
}

#[tokio::test]
async fn concurrent_connections_over_the_limit_get_a_421_banner() {
    let remote = start(vec![Fault::RateLimit(RateLimit {
        connections: Some(2),
        ..RateLimit::default()
    })])
    .await;
    let mut first = remote.connect().await;
    let mut second = remote.connect().await;
    assert_eq!(codes(&replies(&mut first, 1).await), [220]);
    assert_eq!(codes(&replies(&mut second, 1).await), [220]);
    let mut third = remote.connect().await;
    assert_eq!(
        until_closed(&mut third).await,
        b"421 4.7.0 Too many connections from 127.0.0.1, closing connection (fake-remotes)\r\n"
    );
    // Once one leaves, a new connection is welcome again (the server learns of the
    // close a moment later: poll).
    send(&mut first, "QUIT\r\n").await;
    until_closed(&mut first).await;
    let deadline = Instant::now() + WAIT;
    loop {
        let mut c = remote.connect().await;
        let banner = until_closed_or_first_reply(&mut c).await;
        if banner.starts_with("220 ") {
            break;
        }
        assert!(banner.starts_with("421 4.7.0"), "{banner}");
        assert!(
            Instant::now() < deadline,
            "the closed connection was never counted out"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    drop(second);
    remote.finish().await;
}

/// The first reply line, or what came before the close.
async fn until_closed_or_first_reply(c: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 512];
    while !out.ends_with(b"\r\n") {
        match timeout(WAIT, c.read(&mut buf))
            .await
            .expect("banner in time")
        {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8(out).unwrap()
}

#[tokio::test]
async fn messages_over_the_rate_get_421_at_mail_then_close() {
    let mut remote = start(vec![Fault::RateLimit(RateLimit {
        messages: Some(2),
        per: Some(Duration::from_secs(60)),
        connections: None,
    })])
    .await;
    let mut c = remote.connect().await;
    let message = format!("MAIL FROM:<a@b.test>\r\nRCPT TO:<x@ok.test>\r\nDATA\r\n{BODY}");
    send(&mut c, &format!("EHLO client.test\r\n{message}{message}")).await;
    let all = replies(&mut c, 10).await;
    assert_eq!(
        codes(&all),
        [220, 250, 250, 250, 354, 250, 250, 250, 354, 250],
        "{all}"
    );
    send(&mut c, "MAIL FROM:<a@b.test>\r\n").await;
    assert_eq!(
        until_closed(&mut c).await,
        b"421 4.7.0 Too much mail from 127.0.0.1, try again later (fake-remotes)\r\n"
    );
    remote
        .wait_for(|e| {
            matches!(e, RemoteEventKind::FaultFired { fault, stage: Stage::Mail, .. } if fault == "rate_limit")
        })
        .await;
    // Another connection from the same client is in the same window.
    let mut c = remote.connect().await;
    send(&mut c, "EHLO client.test\r\nMAIL FROM:<a@b.test>\r\n").await;
    assert_eq!(codes(&replies(&mut c, 3).await), [220, 250, 421]);
    remote.finish().await;
}
