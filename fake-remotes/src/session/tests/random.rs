//! Random bytes mixed with real commands, under random faults and server settings: the
//! session answers or closes, and never panics or hangs.

use super::*;

fn any_fault() -> impl Strategy<Value = Vec<Fault>> {
    let stage = prop::sample::select(vec![
        Stage::Banner,
        Stage::Ehlo,
        Stage::Mail,
        Stage::Rcpt,
        Stage::Data,
        Stage::Dot,
        Stage::Quit,
        Stage::Starttls,
    ]);
    let code = prop::sample::select(vec![250u16, 354, 421, 451, 554]);
    let fault = prop_oneof![
        (stage.clone(), code, 0.0..=1.0f64).prop_map(|(stage, code, probability)| {
            Fault::Reply(ReplyFault {
                stage,
                code,
                text: None,
                probability,
            })
        }),
        (stage, 0.0..=1.0f64)
            .prop_map(|(stage, probability)| Fault::Disconnect(Disconnect { stage, probability })),
        Just(Fault::BLACKHOLE),
        (1..120u64).prop_map(|s| Fault::Greylist(crate::behavior::Greylist {
            retry_after: Duration::from_secs(s)
        })),
        (prop::option::of(1..4u32), prop::option::of(1..3u32)).prop_map(
            |(messages, connections)| {
                Fault::RateLimit(crate::behavior::RateLimit {
                    messages,
                    per: messages.map(|_| Duration::from_secs(60)),
                    connections: connections.or(messages.is_none().then_some(1)),
                })
            }
        ),
        prop::sample::select(crate::behavior::TlsFault::ALL.to_vec()).prop_map(Fault::Tls),
    ];
    prop::collection::vec(fault, 0..3)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// Random bytes mixed with real commands, under random faults: the session answers
    /// or closes, and never panics or hangs.
    #[test]
    fn random_input_never_panics(
        pieces in prop::collection::vec(prop_oneof![
            prop::collection::vec(any::<u8>(), 0..80),
            prop::sample::select(vec![
                b"EHLO c\r\n".to_vec(), b"MAIL FROM:<a@b.c>\r\n".to_vec(), b"RCPT TO:<x@y.z>\r\n".to_vec(),
                b"DATA\r\n".to_vec(), b"\r\n.\r\n".to_vec(), b"..\r\n".to_vec(), b"RSET\r\n".to_vec(),
                b"STARTTLS\r\n".to_vec(), b"AUTH PLAIN AGEAYg==\r\n".to_vec(), b"AUTH LOGIN\r\n".to_vec(),
                b"*\r\n".to_vec(),
            ]),
        ], 0..24),
        faults in any_fault(),
        auth in any::<bool>(),
        tls in any::<bool>(),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().unwrap();
        runtime.block_on(async {
            let mut h = start_in(&server(auth.then_some(("a", "b")), tls), faults);
            let shutdown = h.shutdown.clone();
            let input: Vec<u8> = pieces.concat();
            let (mut rd, mut wr) = tokio::io::split(&mut h.client);
            let write = async {
                let _ = wr.write_all(&input).await;
                let _ = wr.shutdown().await;
            };
            let mut out = Vec::new();
            // Paused clock: a blackholed session is held until shutdown; cut it there.
            let read = async {
                let r = timeout(WAIT, rd.read_to_end(&mut out)).await;
                if r.is_err() {
                    shutdown.cancel();
                }
            };
            tokio::join!(write, read);
        });
    }
}
