//! A remote that serves only its own domains answers RCPT for any other as a real MX
//! does (`550 5.7.1 relay access denied`) and reports it.

use super::*;

/// `ok` serves ok.test: a RCPT for down.test (mail the cluster sent to the wrong
/// remote) gets 550 5.7.1 and a `RelayDenied` event; its own domain is still taken, in
/// the same transaction, and only that recipient is delivered.
#[tokio::test]
async fn a_remote_refuses_recipients_of_a_domain_it_does_not_serve() {
    let remote = start_with(vec![], |c| c.serves = Some(vec!["ok.test".into()])).await;
    let mut c = remote.connect().await;
    replies(&mut c, 1).await;
    send(
        &mut c,
        "EHLO client.test\r\nMAIL FROM:<mq.1@bounces.test>\r\nRCPT TO:<mq.2.0@down.test>\r\nRCPT TO:<mq.1.0@OK.test>\r\nDATA\r\n",
    )
    .await;
    let batch = replies(&mut c, 5).await;
    assert_eq!(codes(&batch), [250, 250, 550, 250, 354], "{batch}");
    assert!(
        batch.contains("550 5.7.1 relay access denied\r\n"),
        "{batch}"
    );
    send(&mut c, "Subject: x\r\n\r\nbody\r\n.\r\nQUIT\r\n").await;
    let end = replies(&mut c, 2).await;
    assert_eq!(codes(&end), [250, 221], "{end}");
    let events = remote.finish().await;
    assert!(
        events.contains(&RemoteEventKind::RelayDenied {
            rcpt: "mq.2.0@down.test".into()
        }),
        "{events:?}"
    );
    assert!(
        events.contains(&RemoteEventKind::Rcpt {
            rcpt: "mq.2.0@down.test".into(),
            code: 550
        }),
        "the refused RCPT is still an attempt: {events:?}"
    );
    let delivered: Vec<&Vec<String>> = events
        .iter()
        .filter_map(|k| match k {
            RemoteEventKind::Message { rcpts, .. } => Some(rcpts),
            _ => None,
        })
        .collect();
    assert_eq!(delivered, [&vec!["mq.1.0@OK.test".to_string()]]);
}

/// Without a list (a relay, like the embedded cluster's nodes) every domain is taken.
#[tokio::test]
async fn a_relay_takes_every_domain() {
    let remote = start(vec![]).await;
    let mut c = remote.connect().await;
    replies(&mut c, 1).await;
    send(
        &mut c,
        "EHLO client.test\r\nMAIL FROM:<mq.1@bounces.test>\r\nRCPT TO:<mq.2.0@down.test>\r\nQUIT\r\n",
    )
    .await;
    let batch = replies(&mut c, 4).await;
    assert_eq!(codes(&batch), [250, 250, 250, 221], "{batch}");
    let events = remote.finish().await;
    assert!(!events
        .iter()
        .any(|k| matches!(k, RemoteEventKind::RelayDenied { .. })));
}
