//! STARTTLS and AUTH as a client sees them over real sockets: a rustls client that trusts
//! only the test CA succeeds against a healthy remote and fails with the right error for
//! each bad certificate; a hanging handshake times out; a refusal is a 454.

use fake_remotes::behavior::TlsFault;
use rustls::pki_types::ServerName;
use rustls::CertificateError;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use super::*;

/// Connects, says EHLO, asks for STARTTLS; returns the plain stream after `220 Ready`
/// and the EHLO reply.
async fn ready_for_tls(remote: &Remote) -> (TcpStream, String) {
    let mut c = remote.connect().await;
    send(&mut c, "EHLO client.test\r\n").await;
    let hello = replies(&mut c, 2).await;
    send(&mut c, "STARTTLS\r\n").await;
    assert_eq!(replies(&mut c, 1).await, "220 2.0.0 Ready to start TLS\r\n");
    (c, hello)
}

/// The handshake of a client that verifies `mx.ok.test` against the test CA.
async fn handshake(c: TcpStream, within: Duration) -> std::io::Result<TlsStream<TcpStream>> {
    let connector = TlsConnector::from(fake_remotes::tls::client_config());
    let name = ServerName::try_from("mx.ok.test").unwrap();
    timeout(within, connector.connect(name, c))
        .await
        .unwrap_or_else(|_| Err(ErrorKind::TimedOut.into()))
}

async fn tls_replies(tls: &mut TlsStream<TcpStream>, n: usize) -> String {
    let mut out = Vec::new();
    while codes(&String::from_utf8_lossy(&out)).len() < n {
        let mut buf = [0u8; 4096];
        let got = timeout(WAIT, tls.read(&mut buf))
            .await
            .expect("reply in time")
            .expect("read");
        assert!(got > 0, "closed after {:?}", String::from_utf8_lossy(&out));
        out.extend_from_slice(&buf[..got]);
    }
    String::from_utf8(out).unwrap()
}

async fn tls_send(tls: &mut TlsStream<TcpStream>, text: &str) {
    timeout(WAIT, async {
        tls.write_all(text.as_bytes()).await?;
        tls.flush().await
    })
    .await
    .expect("write in time")
    .expect("write");
}

#[tokio::test]
async fn healthy_starttls_then_a_pipelined_transaction_over_tls() {
    let mut remote = start(vec![]).await;
    let (c, hello) = ready_for_tls(&remote).await;
    assert!(hello.contains("250-STARTTLS\r\n"), "{hello}");
    assert!(hello.contains("250-AUTH PLAIN LOGIN\r\n"), "{hello}");
    let mut tls = handshake(c, WAIT)
        .await
        .expect("verified against the test CA");
    tls_send(&mut tls, &format!("{ENVELOPE}DATA\r\n")).await;
    let batch = tls_replies(&mut tls, 4).await;
    assert_eq!(codes(&batch), [250, 250, 250, 354], "{batch}");
    assert!(batch.contains("250-PIPELINING\r\n"), "{batch}");
    assert!(!batch.contains("STARTTLS"), "not offered over TLS: {batch}");
    tls_send(&mut tls, &format!("{BODY}QUIT\r\n")).await;
    assert_eq!(codes(&tls_replies(&mut tls, 2).await), [250, 221]);
    let message = remote
        .wait_for(|e| matches!(e, RemoteEventKind::Message { .. }))
        .await;
    assert!(
        matches!(message, RemoteEventKind::Message { tracking, .. } if tracking.as_deref() == Some("run7.1"))
    );
    remote.finish().await;
}

/// The certificate error a verifying client reports, if the handshake failed with one.
fn certificate_error(err: &std::io::Error) -> Option<CertificateError> {
    match err.get_ref()?.downcast_ref::<rustls::Error>()? {
        rustls::Error::InvalidCertificate(e) => Some(e.clone()),
        _ => None,
    }
}

#[tokio::test]
async fn bad_certificates_fail_verification_with_the_right_error() {
    type Want = fn(&CertificateError) -> bool;
    let table: [(TlsFault, Want); 3] = [
        (TlsFault::ExpiredCert, |e| {
            matches!(
                e,
                CertificateError::Expired | CertificateError::ExpiredContext { .. }
            )
        }),
        (TlsFault::WrongName, |e| {
            matches!(
                e,
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. }
            )
        }),
        (TlsFault::UnknownCa, |e| {
            matches!(e, CertificateError::UnknownIssuer)
        }),
    ];
    for (fault, want) in table {
        let mut remote = start(vec![Fault::Tls(fault)]).await;
        let (c, _) = ready_for_tls(&remote).await;
        let err = handshake(c, WAIT).await.expect_err("verification fails");
        let got = certificate_error(&err);
        assert!(got.as_ref().is_some_and(want), "{fault:?}: {err} ({got:?})");
        let fired = remote
            .wait_for(|e| matches!(e, RemoteEventKind::FaultFired { .. }))
            .await;
        assert_eq!(
            fired,
            RemoteEventKind::FaultFired {
                fault: "tls".into(),
                stage: Stage::Starttls,
                rcpts: vec![],
            }
        );
        remote.finish().await;
    }
}

#[tokio::test]
async fn handshake_hang_times_out() {
    let remote = start(vec![Fault::Tls(TlsFault::HandshakeHang)]).await;
    let (c, _) = ready_for_tls(&remote).await;
    let err = handshake(c, Duration::from_millis(500))
        .await
        .expect_err("no ServerHello within 500 ms");
    assert_eq!(err.kind(), ErrorKind::TimedOut, "{err}");
    remote.finish().await;
}

#[tokio::test]
async fn starttls_refused_is_454_and_plain_text_goes_on() {
    let remote = start(vec![Fault::Tls(TlsFault::StarttlsRefused)]).await;
    let mut c = remote.connect().await;
    send(&mut c, "EHLO client.test\r\nSTARTTLS\r\n").await;
    let all = replies(&mut c, 3).await;
    assert!(all.contains("250-STARTTLS\r\n"), "still offered: {all}");
    assert!(
        all.ends_with("454 4.7.0 TLS not available due to temporary reason\r\n"),
        "{all}"
    );
    send(&mut c, "MAIL FROM:<a@b.test>\r\nQUIT\r\n").await;
    assert_eq!(codes(&replies(&mut c, 2).await), [250, 221]);
    remote.finish().await;
}

#[tokio::test]
async fn auth_checks_configured_credentials() {
    let remote = start_with(vec![], |config| {
        config.auth = Some(("alice".into(), "secret".into()));
    })
    .await;
    // (commands after EHLO, codes)
    let table = [
        ("MAIL FROM:<a@b.test>\r\n", vec![530]),
        ("AUTH PLAIN AGFsaWNlAHdyb25n\r\n", vec![535]),
        (
            "AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\nMAIL FROM:<a@b.test>\r\n",
            vec![235, 250],
        ),
        (
            "AUTH LOGIN\r\nYWxpY2U=\r\nc2VjcmV0\r\n",
            vec![334, 334, 235],
        ),
    ];
    for (commands, want) in table {
        let mut c = remote.connect().await;
        send(&mut c, "EHLO client.test\r\n").await;
        replies(&mut c, 2).await;
        // One command at a time: a client waits for each 334 before answering it.
        let mut got = Vec::new();
        for line in commands.split_inclusive("\r\n") {
            send(&mut c, line).await;
            got.extend(codes(&replies(&mut c, 1).await));
        }
        assert_eq!(got, want, "{commands}");
    }
    remote.finish().await;
}
