//! STARTTLS over the in-memory pipe with a rustls client that trusts the test CA: the
//! upgrade, the session after it, and the `tls` faults that act before the handshake.
//! (Bad certificates are seen by a client over real sockets in `tests/wire.rs`.)

use rustls::pki_types::ServerName;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use super::*;
use crate::behavior::TlsFault;

/// Reads until `n` complete replies arrived over TLS.
async fn tls_replies(tls: &mut TlsStream<DuplexStream>, n: usize) -> String {
    let mut out = Vec::new();
    while codes(&String::from_utf8_lossy(&out)).len() < n {
        let mut buf = [0u8; 1024];
        let got = timeout(WAIT, tls.read(&mut buf))
            .await
            .expect("reply in time")
            .expect("read");
        assert!(got > 0, "closed after {:?}", String::from_utf8_lossy(&out));
        out.extend_from_slice(&buf[..got]);
    }
    String::from_utf8(out).unwrap()
}

async fn handshake(client: DuplexStream) -> std::io::Result<TlsStream<DuplexStream>> {
    let connector = TlsConnector::from(crate::tls::client_config());
    let name = ServerName::try_from("mx.test").unwrap();
    timeout(WAIT, connector.connect(name, client))
        .await
        .unwrap_or_else(|_| Err(std::io::ErrorKind::TimedOut.into()))
}

#[tokio::test]
async fn starttls_upgrades_and_the_session_goes_on_over_tls() {
    let mut h = start_in(&server(None, true), vec![]);
    // A NOOP pipelined after STARTTLS came in the clear: it must not be answered later.
    h.client
        .write_all(b"EHLO c\r\nSTARTTLS\r\nNOOP\r\n")
        .await
        .unwrap();
    let plain = h.replies(3).await;
    assert!(plain.contains("250-STARTTLS\r\n"), "{plain}");
    assert!(
        plain.ends_with("220 2.0.0 Ready to start TLS\r\n"),
        "{plain}"
    );

    let mut tls = handshake(h.client)
        .await
        .expect("handshake with a valid certificate");
    tls.write_all(format!("EHLO c\r\n{}", &ENVELOPE["EHLO c.test\r\n".len()..]).as_bytes())
        .await
        .unwrap();
    tls.flush().await.unwrap();
    let batch = tls_replies(&mut tls, 3).await;
    assert!(
        batch.starts_with("250-mx.test\r\n"),
        "EHLO first, no NOOP: {batch}"
    );
    assert!(!batch.contains("STARTTLS"), "not offered twice: {batch}");
    assert!(batch.contains("250-AUTH PLAIN LOGIN\r\n"), "{batch}");
    assert_eq!(codes(&batch), [250, 250, 250], "{batch}");
    tls.write_all(format!("{MESSAGE}STARTTLS\r\nQUIT\r\n").as_bytes())
        .await
        .unwrap();
    tls.flush().await.unwrap();
    let end = tls_replies(&mut tls, 4).await;
    assert_eq!(codes(&end), [354, 250, 503, 221], "{end}");
    assert!(end.contains("503 5.5.1 Error: TLS already active\r\n"));
    let mut message = None;
    while let Ok(e) = h.events.try_recv() {
        if let RemoteEventKind::Message { tracking, .. } = e.kind {
            message = tracking;
        }
    }
    assert_eq!(message.as_deref(), Some("run.1"), "taken over TLS");
}

#[tokio::test]
async fn starttls_is_refused_or_out_of_place() {
    let table: Vec<(&str, Vec<Fault>, &str, Vec<u16>)> = vec![
        (
            "starttls_refused: 454, then plain text goes on",
            vec![Fault::Tls(TlsFault::StarttlsRefused)],
            "EHLO c\r\nSTARTTLS\r\nMAIL FROM:<>\r\nQUIT\r\n",
            vec![220, 250, 454, 250, 221],
        ),
        (
            "not inside a transaction",
            vec![],
            "EHLO c\r\nMAIL FROM:<>\r\nSTARTTLS\r\nQUIT\r\n",
            vec![220, 250, 250, 503, 221],
        ),
        (
            "a reply fault at the starttls stage",
            vec![reply_fault(Stage::Starttls, 554)],
            "EHLO c\r\nSTARTTLS\r\nQUIT\r\n",
            vec![220, 250, 554, 221],
        ),
    ];
    for (name, faults, input, want) in table {
        let mut h = start_in(&server(None, true), faults);
        let output = h.talk(input).await;
        assert_eq!(codes(&output), want, "{name}: {output}");
    }
    let mut h = start_in(
        &server(None, true),
        vec![Fault::Tls(TlsFault::StarttlsRefused)],
    );
    let output = h.talk("EHLO c\r\nSTARTTLS\r\nQUIT\r\n").await;
    assert!(
        output.contains("250-STARTTLS\r\n"),
        "still offered: {output}"
    );
    assert!(output.contains("454 4.7.0 TLS not available due to temporary reason\r\n"));
    assert!(h.events().contains(&RemoteEventKind::FaultFired {
        fault: "tls".into(),
        stage: Stage::Starttls,
        rcpts: vec![],
    }));
}

#[tokio::test(start_paused = true)]
async fn handshake_hang_answers_ready_then_nothing() {
    let mut h = start_in(
        &server(None, true),
        vec![Fault::Tls(TlsFault::HandshakeHang)],
    );
    h.client.write_all(b"EHLO c\r\nSTARTTLS\r\n").await.unwrap();
    assert_eq!(codes(&h.replies(3).await), [220, 250, 220]);
    let shutdown = h.shutdown.clone();
    let events = h.events();
    assert_eq!(
        events.last(),
        Some(&RemoteEventKind::FaultFired {
            fault: "tls".into(),
            stage: Stage::Starttls,
            rcpts: vec![],
        })
    );
    let err = handshake(h.client).await.expect_err("never completes");
    assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
    shutdown.cancel();
}
