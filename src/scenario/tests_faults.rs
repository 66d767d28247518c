//! The remote fault forms of the scenario format as the loader reads them: every form
//! maps to its fault, and each mistake in a fault's settings is one line naming the key.

use std::time::Duration;

use fake_remotes::behavior::{Greylist, RateLimit, TlsFault};
use fake_remotes::Fault;

use super::tests::{edit, parse_str};
use super::*;

fn banner_554() -> Fault {
    Fault::Reply(fake_remotes::behavior::ReplyFault {
        stage: fake_remotes::Stage::Banner,
        code: 554,
        text: None,
        probability: 1.0,
    })
}

#[test]
fn every_remote_fault_form_loads() {
    let secs = Duration::from_secs;
    let table = [
        ("unreachable", Fault::UNREACHABLE),
        (
            "{ refuse: { open_sessions: keep } }",
            Fault::Refuse(fake_remotes::behavior::Outage {
                open_sessions: Some(fake_remotes::behavior::OpenSessions::Keep),
                probability: None,
            }),
        ),
        (
            "{ unreachable: { open_sessions: reset } }",
            Fault::Unreachable(fake_remotes::behavior::Outage {
                open_sessions: Some(fake_remotes::behavior::OpenSessions::Reset),
                probability: None,
            }),
        ),
        (
            "{ greylist: { retry_after: 30s } }",
            Fault::Greylist(Greylist {
                retry_after: secs(30),
            }),
        ),
        ("{ greylist: {} }", Fault::Greylist(Greylist::default())),
        (
            "{ rate_limit: { messages: 100, per: 1m, connections: 5 } }",
            Fault::RateLimit(RateLimit {
                messages: Some(100),
                per: Some(secs(60)),
                connections: Some(5),
            }),
        ),
        (
            "{ rate_limit: { connections: 2 } }",
            Fault::RateLimit(RateLimit {
                connections: Some(2),
                ..RateLimit::default()
            }),
        ),
        (
            "{ tls: starttls_refused }",
            Fault::Tls(TlsFault::StarttlsRefused),
        ),
        (
            "{ tls: handshake_hang }",
            Fault::Tls(TlsFault::HandshakeHang),
        ),
        ("{ tls: expired_cert }", Fault::Tls(TlsFault::ExpiredCert)),
        ("{ tls: wrong_name }", Fault::Tls(TlsFault::WrongName)),
        ("{ tls: unknown_ca }", Fault::Tls(TlsFault::UnknownCa)),
        // The banner stage, by its name and by `connect`, its former one.
        ("{ reply: { stage: banner, code: 554 } }", banner_554()),
        ("{ reply: { stage: connect, code: 554 } }", banner_554()),
    ];
    // The `tls` faults only act on a cluster that uses STARTTLS: an external target.
    let external = "version: 1\nname: x\ntarget:\n  smtp: [127.0.0.1:2525]\n\
        remotes:\n  ok: { domains: [ok.test] }\n  down: { domains: [down.test] }\n\
        load:\n  steps: [ { rate: 1/s, for: 30s } ]\n  mix: { ok.test: 50%, down.test: 50% }\n\
        faults:\n  - { remote: down, at: 10s, for: 5s, fault: refuse }\nchecks: [ no_loss ]\n";
    for (yaml, want) in table {
        let text = if yaml.contains("tls") {
            external.replacen("fault: refuse", &format!("fault: {yaml}"), 1)
        } else {
            edit("fault: refuse", &format!("fault: {yaml}"))
        };
        let plan = parse_str(&text).unwrap();
        let got = plan.faults.iter().find_map(|f| match &f.subject {
            FaultSubject::Remote { fault, .. } if f.at == secs(10) => Some(fault.clone()),
            _ => None,
        });
        assert_eq!(got, Some(want), "{yaml}");
    }
}

#[test]
fn bad_remote_fault_settings_are_one_line_errors() {
    let table = [
        ("{ tls: wrong }",
         "t.yaml:27:54: faults[1].fault.tls: unknown value `wrong`, expected one of starttls_refused, handshake_hang, expired_cert, wrong_name, unknown_ca"),
        ("{ greylist: { retry_after: 2d } }",
         "t.yaml:27:47: faults[1].fault.greylist: greylist retry_after 2days is too long: at most 24h"),
        ("{ rate_limit: { per: 1m, connections: 3 } }",
         "t.yaml:27:47: faults[1].fault.rate_limit: rate_limit `per` needs `messages`, e.g. { messages: 100, per: 1m }"),
        ("{ rate_limit: { messages: 0, per: 1m } }",
         "t.yaml:27:73: faults[1].fault.rate_limit.messages: `0` is out of range: expected a whole number of at least 1 (at most 4294967295)"),
        ("greylist",
         "t.yaml:27:40: faults[1].fault: invalid type: string \"greylist\", expected the fault's settings as a map, e.g. fault: { greylist: { retry_after: 5m } }"),
    ];
    for (yaml, want) in table {
        let err = parse_str(&edit("fault: refuse", &format!("fault: {yaml}"))).unwrap_err();
        assert_eq!(err, want, "{yaml}");
    }
}
