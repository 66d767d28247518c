//! Bad clients over real sockets: idle ones time out, ones that vanish mid-DATA lose
//! nothing already counted, garbage gets answers rather than a dead server. (Over-long
//! lines and oversize messages are in `wire.rs`.)

use super::*;

#[tokio::test]
async fn an_idle_session_gets_421_and_is_closed() {
    let remote = start_with(vec![], |config| {
        config.idle_timeout = Duration::from_millis(300);
    })
    .await;
    let mut c = remote.connect().await;
    let t0 = Instant::now();
    let all = until_closed(&mut c).await;
    assert_eq!(
        String::from_utf8(all).unwrap(),
        "220 mx.ok.test ESMTP fake-remotes\r\n421 4.4.2 idle timeout\r\n"
    );
    assert!(t0.elapsed() >= Duration::from_millis(300));
    remote.finish().await;
}

#[tokio::test]
async fn a_client_vanishing_mid_data_loses_nothing_already_counted() {
    let remote = start(vec![]).await;
    let mut c = remote.connect().await;
    send(&mut c, &format!("{ENVELOPE}DATA\r\n{BODY}")).await;
    assert_eq!(
        codes(&replies(&mut c, 6).await),
        [220, 250, 250, 250, 354, 250]
    );
    // A second message, cut off in its body.
    send(
        &mut c,
        "MAIL FROM:<mq.2@bounces.test>\r\nRCPT TO:<mq.2.0@ok.test>\r\nDATA\r\nX-Mailquake-Id: run7.2\r\n\r\nhalf a bo",
    )
    .await;
    assert_eq!(codes(&replies(&mut c, 3).await), [250, 250, 354]);
    drop(c);
    let events = remote.finish().await;
    let messages: Vec<Option<String>> = events
        .iter()
        .filter_map(|e| match e {
            RemoteEventKind::Message { tracking, .. } => Some(tracking.clone()),
            _ => None,
        })
        .collect();
    // The first message was counted before its 250; the cut one never is.
    assert_eq!(messages, [Some("run7.1".to_string())]);
}

#[tokio::test]
async fn garbage_is_answered_and_the_server_keeps_serving() {
    let remote = start(vec![]).await;
    let mut c = remote.connect().await;
    let mut garbage: Vec<u8> = (0..=255u8).cycle().take(3000).collect();
    garbage.extend_from_slice(b"\r\nNOOP\r\n");
    timeout(WAIT, c.write_all(&garbage))
        .await
        .expect("write in time")
        .expect("write");
    // Whatever the garbage got, the NOOP after it is answered.
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while !out.ends_with(b"250 2.0.0 Ok\r\n") {
        let n = timeout(WAIT, c.read(&mut buf))
            .await
            .expect("replies in time")
            .expect("read");
        assert!(n > 0, "closed: {}", String::from_utf8_lossy(&out));
        out.extend_from_slice(&buf[..n]);
    }
    let mut fresh = remote.connect().await;
    assert_eq!(codes(&replies(&mut fresh, 1).await), [220]);
    remote.finish().await;
}
