//! A full events channel holds the session back (its replies wait) and loses nothing.

use super::*;

#[tokio::test(start_paused = true)]
async fn a_full_events_channel_holds_the_replies_back_and_loses_no_event() {
    // Room for one event: `Connected` fills it, so the RCPT's event has to wait.
    let (events_tx, mut events) = mpsc::channel(1);
    let (_faults_tx, faults_rx) = watch::channel(Vec::new());
    let shutdown = CancellationToken::new();
    let sink = CountingSink {
        name: "r".into(),
        events: events_tx.clone(),
    };
    let (mut client, server_side) = tokio::io::duplex(64 * 1024);
    let peer = "127.0.0.1:1".parse().unwrap();
    let session = Session::new(
        server_side,
        peer,
        server(None, false),
        sink,
        events_tx,
        faults_rx,
        1,
        &shutdown,
    );
    tokio::spawn(session.run());
    client
        .write_all(format!("{ENVELOPE}{MESSAGE}QUIT\r\n").as_bytes())
        .await
        .unwrap();

    // Nobody reads the events: whatever comes within 10 s (less than the idle timeout;
    // the paused clock jumps there once all is idle) stops before the RCPT's reply.
    let mut held = Vec::new();
    let mut buf = [0u8; 1024];
    while let Ok(read) = timeout(Duration::from_secs(10), client.read(&mut buf)).await {
        let n = read.expect("read");
        assert!(n > 0, "closed early: {:?}", String::from_utf8_lossy(&held));
        held.extend_from_slice(&buf[..n]);
    }
    let before = codes(&String::from_utf8_lossy(&held));
    assert!(
        before.len() < 4,
        "the RCPT reply waits for room in the channel, got {before:?}"
    );

    // Reading the events lets the session go on to the end, every event delivered.
    let drain = async {
        let mut kinds = Vec::new();
        while let Some(e) = events.recv().await {
            kinds.push(e.kind);
        }
        kinds
    };
    let rest = async {
        let mut out = held.clone();
        client.read_to_end(&mut out).await.expect("read");
        out
    };
    let (kinds, out) = timeout(WAIT, async { tokio::join!(drain, rest) })
        .await
        .expect("the session ends once its events are read");
    assert_eq!(
        codes(&String::from_utf8_lossy(&out)),
        vec![220, 250, 250, 250, 354, 250, 221]
    );
    let names: Vec<&str> = kinds
        .iter()
        .map(|k| match k {
            RemoteEventKind::Connected { .. } => "connected",
            RemoteEventKind::Rcpt { .. } => "rcpt",
            RemoteEventKind::Message { .. } => "message",
            _ => "other",
        })
        .collect();
    assert_eq!(names, vec!["connected", "rcpt", "message"]);
}
