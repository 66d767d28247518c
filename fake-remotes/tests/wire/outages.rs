//! What `refuse` and `unreachable` do to sessions already open when they begin: a
//! crashed server resets them, an unreachable host's go silent, and `open_sessions:
//! keep` leaves them served (an outage of the listener alone).

use fake_remotes::behavior::{OpenSessions, Outage};

use super::*;

/// Opens a session and gets through EHLO, so it is waiting for the next command.
async fn open_session(remote: &Remote) -> TcpStream {
    let mut c = remote.connect().await;
    send(&mut c, "EHLO client.test\r\n").await;
    assert_eq!(codes(&replies(&mut c, 2).await), [220, 250]);
    c
}

/// Switches `fault` on and waits until the server reports it in force.
async fn switch_on(remote: &mut Remote, fault: Fault, kind: &str) {
    remote.faults.send_replace(vec![fault]);
    remote
        .wait_for(|e| matches!(e, RemoteEventKind::FaultFired { fault, stage: Stage::Banner, .. } if fault == kind))
        .await;
}

fn keep() -> Outage {
    Outage {
        open_sessions: Some(OpenSessions::Keep),
        probability: None,
    }
}

#[tokio::test]
async fn refuse_resets_open_sessions_like_a_crashed_server() {
    let mut remote = start(vec![]).await;
    let mut c = open_session(&remote).await;
    switch_on(&mut remote, Fault::REFUSE, "refuse").await;
    let mut buf = [0u8; 64];
    let read = timeout(WAIT, c.read(&mut buf))
        .await
        .expect("the open session ends in time");
    match read {
        Err(e) => assert_eq!(e.kind(), ErrorKind::ConnectionReset),
        Ok(n) => panic!("expected a reset, got {n} bytes: {:?}", &buf[..n]),
    }
    remote.faults.send_replace(vec![]);
    let events = remote.finish().await;
    assert!(
        events.contains(&RemoteEventKind::FaultFired {
            fault: "refuse".into(),
            stage: Stage::Ehlo,
            rcpts: vec![]
        }),
        "the reset is reported on the session: {events:?}"
    );
}

#[tokio::test]
async fn unreachable_leaves_open_sessions_silent() {
    let mut remote = start(vec![]).await;
    let mut c = open_session(&remote).await;
    switch_on(&mut remote, Fault::UNREACHABLE, "unreachable").await;
    // The session ends silently on the server's side: it reports it, then a command
    // gets no answer and the connection stays open until the deadline.
    remote
        .wait_for(|e| matches!(e, RemoteEventKind::FaultFired { fault, stage: Stage::Ehlo, .. } if fault == "unreachable"))
        .await;
    send(&mut c, "NOOP\r\n").await;
    let mut buf = [0u8; 64];
    let silent = timeout(Duration::from_millis(500), c.read(&mut buf)).await;
    assert!(
        silent.is_err(),
        "no byte, no close within 500 ms: {silent:?}"
    );
    remote.faults.send_replace(vec![]);
    remote.finish().await;
}

#[tokio::test]
async fn open_sessions_keep_serves_open_sessions_through_the_outage() {
    for (fault, kind) in [
        (Fault::Refuse(keep()), "refuse"),
        (Fault::Unreachable(keep()), "unreachable"),
    ] {
        let mut remote = start(vec![]).await;
        let mut c = open_session(&remote).await;
        switch_on(&mut remote, fault, kind).await;
        send(&mut c, "NOOP\r\nQUIT\r\n").await;
        assert_eq!(codes(&replies(&mut c, 2).await), [250, 221], "{kind}");
        remote.faults.send_replace(vec![]);
        remote.finish().await;
    }
}
