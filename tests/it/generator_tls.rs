//! STARTTLS and AUTH of our client against a minimal test server written here (a
//! tokio-rustls acceptor with an rcgen certificate), and `mailquake flood` over STARTTLS
//! and AUTH against a real fake remote.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use mailquake::scenario::LoadModel;
use mailquake::smtp::{
    ClientOptions, Connection, Credentials, FailureKind, Phase, Timeouts, TlsClient, TlsMode,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::time::timeout;
use tokio_rustls::TlsAcceptor;

use crate::support::binary::mailquake;
use crate::support::smtp::{endpoint, generate, load, read_line, WAIT};

/// What the test server offers.
#[derive(Clone)]
struct Offer {
    starttls: bool,
    /// The AUTH line's mechanisms, e.g. "PLAIN LOGIN"; empty = no AUTH.
    auth: &'static str,
}

struct TestServer {
    addr: SocketAddr,
    /// Messages accepted over TLS (and, when AUTH is offered, after a good AUTH).
    accepted: Arc<AtomicU64>,
    cert_pem: String,
}

const USER: &str = "gen";
const PASSWORD: &str = "s3cret";

fn tls_acceptor() -> (TlsAcceptor, String) {
    let key = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
        .expect("a certificate");
    let cert = CertificateDer::from(key.cert.der().to_vec());
    let private = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.key_pair.serialize_der()));
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert], private)
    .unwrap();
    (TlsAcceptor::from(Arc::new(config)), key.cert.pem())
}

async fn start(offer: Offer) -> TestServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (acceptor, cert_pem) = tls_acceptor();
    let accepted = Arc::new(AtomicU64::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, offer, counter) = (acceptor.clone(), offer.clone(), counter.clone());
            tokio::spawn(async move {
                let mut plain = BufReader::new(tcp);
                let _ = plain.write_all(b"220 tls.test ESMTP\r\n").await;
                if let Some(Upgrade) = speak(&mut plain, &offer, false, &counter).await {
                    let tcp = plain.into_inner();
                    if let Ok(Ok(tls)) = timeout(WAIT, acceptor.accept(tcp)).await {
                        let mut tls = BufReader::new(tls);
                        speak(&mut tls, &offer, true, &counter).await;
                    }
                }
            });
        }
    });
    TestServer {
        addr,
        accepted,
        cert_pem,
    }
}

struct Upgrade;

/// One session's command loop; `Some(Upgrade)` after a 220 to STARTTLS.
async fn speak<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut BufReader<S>,
    offer: &Offer,
    tls: bool,
    accepted: &AtomicU64,
) -> Option<Upgrade> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut authed = offer.auth.is_empty();
    while let Some(line) = read_line(s).await {
        let cmd = line.trim_end().to_string();
        let upper = cmd.to_ascii_uppercase();
        let reply: String = if upper.starts_with("EHLO") {
            let mut r = String::from("250-tls.test\r\n250-PIPELINING\r\n");
            if offer.starttls && !tls {
                r.push_str("250-STARTTLS\r\n");
            }
            if !offer.auth.is_empty() {
                r.push_str(&format!("250-AUTH {}\r\n", offer.auth));
            }
            r + "250 8BITMIME\r\n"
        } else if upper == "STARTTLS" && offer.starttls && !tls {
            let _ = s.write_all(b"220 go ahead\r\n").await;
            return Some(Upgrade);
        } else if let Some(initial) = upper.strip_prefix("AUTH PLAIN ").map(|_| &cmd[11..]) {
            let want = b64.encode(format!("\0{USER}\0{PASSWORD}"));
            authed = initial == want;
            if authed {
                "235 2.7.0 ok\r\n".into()
            } else {
                "535 5.7.8 bad\r\n".into()
            }
        } else if upper == "AUTH LOGIN" {
            let _ = s.write_all(b"334 VXNlcm5hbWU6\r\n").await;
            let user = read_line(s).await?;
            let _ = s.write_all(b"334 UGFzc3dvcmQ6\r\n").await;
            let pass = read_line(s).await?;
            authed = user.trim_end() == b64.encode(USER) && pass.trim_end() == b64.encode(PASSWORD);
            if authed {
                "235 2.7.0 ok\r\n".into()
            } else {
                "535 5.7.8 bad\r\n".into()
            }
        } else if upper.starts_with("MAIL") {
            if authed {
                "250 ok\r\n".into()
            } else {
                "530 5.7.0 auth first\r\n".into()
            }
        } else if upper.starts_with("RCPT") {
            if authed {
                "250 ok\r\n".into()
            } else {
                "503 5.5.1 no\r\n".into()
            }
        } else if upper == "DATA" {
            if !authed {
                "503 5.5.1 no\r\n".into()
            } else {
                let _ = s.write_all(b"354 go\r\n").await;
                while let Some(body) = read_line(s).await {
                    if body == ".\r\n" {
                        break;
                    }
                }
                if tls || !offer.starttls {
                    accepted.fetch_add(1, Ordering::Relaxed);
                }
                "250 queued\r\n".into()
            }
        } else if upper == "QUIT" {
            let _ = s.write_all(b"221 bye\r\n").await;
            return None;
        } else {
            "500 what\r\n".into()
        };
        if s.write_all(reply.as_bytes()).await.is_err() {
            return None;
        }
    }
    None
}

fn options(tls: TlsClient, auth: Option<Credentials>) -> ClientOptions {
    ClientOptions {
        tls,
        auth,
        ..ClientOptions::plain(
            "gen.test",
            Timeouts::uniform(Duration::from_secs(5), Duration::from_secs(5)),
        )
    }
}

fn credentials(password: &str) -> Option<Credentials> {
    Some(Credentials {
        user: USER.into(),
        password: password.into(),
    })
}

/// Opens a session with `options` and sends one message: whether the session was
/// encrypted, or why it failed (a refused message counts as its reply).
async fn one_message(server: &TestServer, options: &ClientOptions) -> Result<bool, FailureKind> {
    let mut nobody = ();
    let open = Connection::open_observed(server.addr, "127.0.0.1", options, &mut nobody);
    let mut conn = timeout(WAIT, open).await.unwrap().map_err(|f| f.kind)?;
    let rcpts = vec!["mq.1.0@ok.test".to_string()];
    let outcome = timeout(WAIT, conn.send("mq.1@bounces.test", &rcpts, b"hello\r\n"))
        .await
        .unwrap();
    let tls = conn.tls;
    timeout(WAIT, conn.quit()).await.unwrap();
    match outcome.result {
        Ok((_, reply)) if !outcome_accepted(&reply) => Err(FailureKind::Reply(reply)),
        Ok(_) => Ok(tls),
        Err(f) => Err(f.kind),
    }
}

fn outcome_accepted(reply: &mailquake::smtp::ReceivedReply) -> bool {
    reply.code == 250
}

#[tokio::test]
async fn starttls_required_verified_against_a_ca_file() {
    let server = start(Offer {
        starttls: true,
        auth: "",
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &server.cert_pem).unwrap();
    let verified = TlsClient::new(TlsMode::Required, true, Some(&ca)).unwrap();
    assert_eq!(
        one_message(&server, &options(verified, None)).await,
        Ok(true)
    );
    assert_eq!(server.accepted.load(Ordering::Relaxed), 1);
    // The same certificate is not trusted by the Mozilla roots: the handshake fails.
    let mozilla = TlsClient::new(TlsMode::Required, true, None).unwrap();
    let err = one_message(&server, &options(mozilla, None))
        .await
        .unwrap_err();
    assert!(matches!(err, FailureKind::Tls(_)), "{err:?}");
    // verify: false takes it.
    let any = TlsClient::new(TlsMode::Opportunistic, false, None).unwrap();
    assert_eq!(one_message(&server, &options(any, None)).await, Ok(true));
}

#[tokio::test]
async fn starttls_opportunistic_falls_back_and_required_refuses_when_not_offered() {
    let server = start(Offer {
        starttls: false,
        auth: "",
    })
    .await;
    let opportunistic = TlsClient::new(TlsMode::Opportunistic, false, None).unwrap();
    assert_eq!(
        one_message(&server, &options(opportunistic, None)).await,
        Ok(false)
    );
    let required = TlsClient::new(TlsMode::Required, false, None).unwrap();
    let err = one_message(&server, &options(required, None))
        .await
        .unwrap_err();
    assert_eq!(err, FailureKind::NotOffered("STARTTLS"));
}

#[tokio::test]
async fn auth_plain_and_login_over_tls() {
    for mechanisms in ["PLAIN LOGIN", "LOGIN"] {
        let server = start(Offer {
            starttls: true,
            auth: mechanisms,
        })
        .await;
        let tls = TlsClient::new(TlsMode::Required, false, None).unwrap();
        assert_eq!(
            one_message(&server, &options(tls.clone(), credentials(PASSWORD))).await,
            Ok(true),
            "{mechanisms}"
        );
        let err = one_message(&server, &options(tls.clone(), credentials("wrong")))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, FailureKind::Reply(r) if r.code == 535),
            "{mechanisms}: {err:?}"
        );
        let err = one_message(&server, &options(tls, None)).await.unwrap_err();
        assert!(
            matches!(&err, FailureKind::Reply(r) if r.code == 530),
            "no AUTH: {err:?}"
        );
        assert_eq!(server.accepted.load(Ordering::Relaxed), 1, "{mechanisms}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generator_times_starttls_and_auth_per_phase() {
    let server = start(Offer {
        starttls: true,
        auth: "PLAIN",
    })
    .await;
    let client = options(
        TlsClient::new(TlsMode::Required, false, None).unwrap(),
        credentials(PASSWORD),
    );
    let (report, _) = generate(
        load(LoadModel::Closed, 0.0, 1, 2),
        vec![endpoint(server.addr, 1)],
        client,
        None,
    )
    .await;
    let all = report.stats.overall();
    assert!(all.accepted > 10, "{}", all.accepted);
    assert_eq!(all.accepted, server.accepted.load(Ordering::Relaxed));
    for phase in [Phase::Starttls, Phase::Auth, Phase::Ehlo] {
        let h = all.phases.get(phase).expect("timed");
        assert!(!h.is_empty(), "{phase:?}");
    }
    // EHLO twice per session: before and after STARTTLS.
    let sessions = all.phases.get(Phase::Starttls).unwrap().len();
    assert_eq!(all.phases.get(Phase::Ehlo).unwrap().len(), 2 * sessions);
    assert_eq!(all.replies[Phase::Auth.index()].get(&235), Some(&sessions));
}

/// The same client against a real fake remote: STARTTLS verified against the fake
/// remotes' test CA, and AUTH checked by the remote (a wrong password gets 535 and
/// nothing is accepted).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flood_over_starttls_and_auth_against_a_fake_remote() {
    use fake_remotes::{serve, CountingSink, ServerConfig};
    use tokio::sync::{mpsc, watch};
    use tokio_util::sync::CancellationToken;

    let listener = fake_remotes::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = listener.local_addr().unwrap();
    let (events_tx, mut events) = mpsc::channel(fake_remotes::event::CHANNEL_CAPACITY);
    let shutdown = CancellationToken::new();
    let config = ServerConfig {
        faults: watch::channel(Vec::new()).1,
        starttls: true,
        auth: Some((USER.into(), PASSWORD.into())),
        ..ServerConfig::healthy("mx.tls.test")
    };
    let sink = CountingSink {
        name: "mx".into(),
        events: events_tx.clone(),
    };
    tokio::spawn(serve(listener, config, sink, events_tx, shutdown.clone()));
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    fake_remotes::tls::write_ca_pem(&ca).unwrap();

    let flood = |auth: &str, out: &str| {
        let (target, ca, auth, out) = (
            addr.to_string(),
            ca.display().to_string(),
            auth.to_string(),
            dir.path().join(out).display().to_string(),
        );
        async move {
            mailquake(&[
                "flood", &target, "--rate", "20/s", "--for", "1s", "--tls", "required", "--ca",
                &ca, "--auth", &auth, "--out", &out,
            ])
            .run_async(Duration::from_secs(60))
            .await
            .parts()
        }
    };
    let (code, stdout, stderr) = flood(&format!("{USER}:{PASSWORD}"), "good").await;
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("good/flood.json")).unwrap())
            .unwrap();
    assert_eq!(report["totals"]["accepted"], 20, "{report}");
    assert!(
        report["load"]["phases"]["starttls"]["count"]
            .as_u64()
            .unwrap()
            > 0
    );
    assert!(report["load"]["phases"]["auth"]["count"].as_u64().unwrap() > 0);

    let (code, stdout, stderr) = flood(&format!("{USER}:wrong"), "bad").await;
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("bad/flood.json")).unwrap())
            .unwrap();
    assert_eq!(report["totals"]["accepted"], 0, "{report}");
    assert!(
        report["submit_replies"]["auth"]["535"].as_u64().unwrap() > 0,
        "{report}"
    );

    shutdown.cancel();
    let mut arrived = 0;
    while let Ok(Some(e)) = timeout(WAIT, events.recv()).await {
        if matches!(e.kind, fake_remotes::RemoteEventKind::Message { .. }) {
            arrived += 1;
        }
    }
    assert_eq!(
        arrived, 20,
        "only the authenticated flood's messages arrived"
    );
}
