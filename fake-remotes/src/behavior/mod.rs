//! The fault catalogue: what a remote does instead of behaving.
//!
//! A [`Fault`] is data (its serde form is the scenario's YAML form). Each behaviour lives
//! in its own file and *decides* (refuse this connection, delay this reply by N, answer
//! 451 at RCPT); the session (`session/`) and the accept loop (`server/`) *execute*. So
//! behaviours are unit-tested without sockets. Several faults may be in force at once on
//! one remote (a tarpit plus a 30% 451); the [`SessionPlan`] of a session combines them:
//!
//! - the listener: the first `refuse`/`unreachable` in list order decides;
//! - at accept, the first `refuse`/`unreachable`/`reset`/`blackhole` in list order wins;
//! - at a stage, faults are asked in list order and the first one that fires wins (each
//!   probability is drawn from the session's seeded RNG, one draw per matching fault and
//!   occurrence, so a run with the same seed and the same traffic replays);
//! - the stateful faults (`rate_limit`, `greylist`) are asked after the others at their
//!   stage, so a reply or disconnect that fired first leaves their counts untouched;
//! - tarpits add up to the longest delay and the slowest rate; they never replace a reply.

use serde::{Deserialize, Serialize};

use crate::RemoteReply;

pub mod blackhole;
pub mod chance;
pub mod disconnect;
pub mod greylist;
pub mod outage;
mod plan;
pub mod rate_limit;
pub mod refuse;
pub mod reply;
pub mod reset;
pub mod tarpit;
pub mod tls;
pub mod unreachable;

pub use chance::Chance;
pub use disconnect::Disconnect;
pub use greylist::Greylist;
pub use outage::{OpenSessions, Outage};
pub use plan::{listener_state, ListenerState, SessionPlan};
pub use rate_limit::RateLimit;
pub use reply::ReplyFault;
pub use tarpit::{Pacing, Tarpit};
pub use tls::TlsFault;

/// One fault, in the form written in a scenario (`fault: refuse`,
/// `fault: { tarpit: { banner: 2s } }`, `fault: { reply: { stage: rcpt, code: 451 } }`,
/// `fault: { tls: expired_cert }`).
///
/// `refuse` and `unreachable` are written bare, or with their [`Outage`] settings
/// (`{ refuse: { open_sessions: keep } }`); the serde impls are in `outage.rs`. The
/// derive (`remote = "Self"`) leaves inherent `Fault::deserialize`/`Fault::serialize`
/// behind that do not know the bare forms: call `<Fault as Deserialize>::deserialize`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", rename_all = "snake_case", deny_unknown_fields)]
pub enum Fault {
    /// Nothing listens: connect() gets ECONNREFUSED; open sessions are reset.
    Refuse(Outage),
    /// connect() never completes: SYNs are dropped; open sessions go silent.
    Unreachable(Outage),
    /// TCP accepted, then reset (RST) before any byte.
    Reset,
    /// TCP accepted, not a byte ever sent, never closed (on a share of connections
    /// with `probability`; written bare, `blackhole`, for all).
    Blackhole(Chance),
    /// Delays: banner, every reply, and/or replies dribbled at N bytes/s.
    Tarpit(Tarpit),
    /// A chosen reply code at a stage, with a probability.
    Reply(ReplyFault),
    /// Close the connection without a reply at a stage, with a probability.
    Disconnect(Disconnect),
    /// 451 4.7.1 at RCPT on the first attempts of each (client, sender, recipient).
    Greylist(Greylist),
    /// 421 4.7.0 beyond N messages per period and/or N connections per client IP.
    RateLimit(RateLimit),
    /// STARTTLS refused, a hanging handshake, or a bad certificate.
    Tls(TlsFault),
}

impl Fault {
    /// Every kind, in the order of the catalogue (for messages that list them).
    pub const KINDS: [&'static str; 10] = [
        "refuse",
        "unreachable",
        "reset",
        "blackhole",
        "tarpit",
        "reply",
        "disconnect",
        "greylist",
        "rate_limit",
        "tls",
    ];

    /// Short name for events and reports (`refuse`, `tarpit`, …).
    pub fn kind(&self) -> &'static str {
        match self {
            Fault::Refuse(_) => "refuse",
            Fault::Unreachable(_) => "unreachable",
            Fault::Reset => "reset",
            Fault::Blackhole(_) => "blackhole",
            Fault::Tarpit(_) => "tarpit",
            Fault::Reply(_) => "reply",
            Fault::Disconnect(_) => "disconnect",
            Fault::Greylist(_) => "greylist",
            Fault::RateLimit(_) => "rate_limit",
            Fault::Tls(_) => "tls",
        }
    }

    /// Checks the values serde cannot (ranges, settings that need each other), with a
    /// message a person can act on.
    pub fn validate(&self) -> Result<(), String> {
        match self {
            Fault::Refuse(o) | Fault::Unreachable(o) => o.validate(),
            Fault::Blackhole(c) => chance::check_probability(c.probability),
            Fault::Reset => Ok(()),
            Fault::Tls(_) => Ok(()),
            Fault::Tarpit(t) => t.validate(),
            Fault::Reply(r) => r.validate(),
            Fault::Disconnect(d) => d.validate(),
            Fault::Greylist(g) => g.validate(),
            Fault::RateLimit(r) => r.validate(),
        }
    }
}

/// The points of an SMTP session at which a fault can act.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// The banner (before any command). `connect`, its former name, is still accepted;
    /// it is not the client's `connect` phase (the TCP connect), which no fault acts on.
    #[serde(alias = "connect")]
    Banner,
    /// EHLO or HELO.
    Ehlo,
    /// MAIL FROM.
    Mail,
    /// RCPT TO.
    Rcpt,
    /// The DATA command (before the body).
    Data,
    /// The final `.` that ends the body.
    Dot,
    /// QUIT.
    Quit,
    /// STARTTLS (the command and the handshake after it).
    Starttls,
}

impl Stage {
    pub fn as_str(&self) -> &'static str {
        match self {
            Stage::Banner => "banner",
            Stage::Ehlo => "ehlo",
            Stage::Mail => "mail",
            Stage::Rcpt => "rcpt",
            Stage::Data => "data",
            Stage::Dot => "dot",
            Stage::Quit => "quit",
            Stage::Starttls => "starttls",
        }
    }
}

/// What to do with a freshly accepted connection instead of serving it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AcceptAction {
    /// Close with RST before any byte.
    Reset,
    /// Hold the connection silently until the client gives up.
    Blackhole,
}

/// What to do at a stage instead of the normal answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StageAction {
    /// Answer this instead (421 also closes the connection).
    Reply(RemoteReply),
    /// Close without a reply.
    Disconnect,
    /// Close with RST (a `reset` fault switched on while the session was open).
    Reset,
    /// Go silent and hold the connection (a `blackhole` switched on mid-session).
    Blackhole,
}

/// A decision and the fault that made it, so the session can report `FaultFired`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fired<A> {
    pub fault: &'static str,
    pub action: A,
}

/// Draws one occurrence of a probability. Always draws, even at 0 or 1, so that changing
/// one fault's probability does not shift the draws of the others.
pub(crate) fn draw(probability: f64, rng: &mut fastrand::Rng) -> bool {
    rng.f64() < probability
}

/// The RNG seed of the `n`th connection of a server seeded with `seed` (splitmix64), so
/// sessions are independent yet a run replays.
pub fn connection_seed(seed: u64, n: u64) -> u64 {
    let mut z = seed ^ n.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

pub(crate) fn check_probability(p: f64) -> Result<(), String> {
    if (0.0..=1.0).contains(&p) {
        Ok(())
    } else {
        Err(format!(
            "probability {p} is out of range: expected a number from 0 to 1"
        ))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn kinds_name_every_variant_in_serde_form() {
        let table = [
            Fault::REFUSE,
            Fault::UNREACHABLE,
            Fault::Reset,
            Fault::BLACKHOLE,
            Fault::Tarpit(Tarpit::default()),
            Fault::Reply(ReplyFault {
                stage: Stage::Rcpt,
                code: 451,
                text: None,
                probability: 1.0,
            }),
            Fault::Disconnect(Disconnect {
                stage: Stage::Dot,
                probability: 1.0,
            }),
            Fault::Greylist(Greylist::default()),
            Fault::RateLimit(RateLimit {
                connections: Some(1),
                ..RateLimit::default()
            }),
            Fault::Tls(TlsFault::WrongName),
        ];
        let kinds: Vec<&str> = table.iter().map(Fault::kind).collect();
        assert_eq!(kinds, Fault::KINDS);
        for fault in table {
            let json = serde_json::to_string(&fault).unwrap();
            assert!(json.contains(fault.kind()), "{json}");
            let back: Fault = serde_json::from_str(&json).unwrap();
            assert_eq!(back, fault);
        }
    }

    #[test]
    fn validate_reports_ranges() {
        let reply = |probability| {
            Fault::Reply(ReplyFault {
                stage: Stage::Rcpt,
                code: 451,
                text: None,
                probability,
            })
        };
        let table = [
            (reply(0.3), true),
            (reply(1.5), false),
            (
                Fault::Tarpit(Tarpit {
                    bytes_per_sec: Some(0),
                    ..Tarpit::default()
                }),
                false,
            ),
            (Fault::Greylist(Greylist::default()), true),
            (
                Fault::Greylist(Greylist {
                    retry_after: Duration::ZERO,
                }),
                false,
            ),
            (Fault::RateLimit(RateLimit::default()), false),
            (Fault::Tls(TlsFault::UnknownCa), true),
            (Fault::UNREACHABLE, true),
            (
                Fault::Refuse(Outage {
                    probability: Some(0.0),
                    ..Outage::default()
                }),
                false,
            ),
            (
                Fault::Refuse(Outage {
                    probability: Some(0.3),
                    open_sessions: Some(OpenSessions::Keep),
                }),
                false,
            ),
            (
                Fault::Blackhole(Chance {
                    probability: Some(1.5),
                }),
                false,
            ),
            (
                Fault::Blackhole(Chance {
                    probability: Some(1.0),
                }),
                true,
            ),
        ];
        for (fault, ok) in table {
            assert_eq!(fault.validate().is_ok(), ok, "{fault:?}");
        }
    }

    #[test]
    fn serde_form_is_the_scenario_form() {
        let table = [
            (r#""refuse""#, Fault::REFUSE),
            (r#""unreachable""#, Fault::UNREACHABLE),
            (
                r#"{"reply":{"stage":"rcpt","code":451}}"#,
                Fault::Reply(ReplyFault {
                    stage: Stage::Rcpt,
                    code: 451,
                    text: None,
                    probability: 1.0,
                }),
            ),
            (
                r#"{"tarpit":{"banner":"2s"}}"#,
                Fault::Tarpit(Tarpit {
                    banner: Some(Duration::from_secs(2)),
                    ..Tarpit::default()
                }),
            ),
            (
                r#"{"greylist":{"retry_after":"30s"}}"#,
                Fault::Greylist(Greylist {
                    retry_after: Duration::from_secs(30),
                }),
            ),
            (
                r#"{"rate_limit":{"messages":100,"per":"1m","connections":5}}"#,
                Fault::RateLimit(RateLimit {
                    messages: Some(100),
                    per: Some(Duration::from_secs(60)),
                    connections: Some(5),
                }),
            ),
            (
                r#"{"tls":"handshake_hang"}"#,
                Fault::Tls(TlsFault::HandshakeHang),
            ),
            (
                r#"{"disconnect":{"stage":"starttls"}}"#,
                Fault::Disconnect(Disconnect {
                    stage: Stage::Starttls,
                    probability: 1.0,
                }),
            ),
        ];
        for (json, want) in table {
            let got: Fault = serde_json::from_str(json).expect(json);
            assert_eq!(got, want);
        }
        // Probability and jitter (Toxiproxy's toxicity and jitter).
        let chance_table = [
            (
                r#"{"refuse":{"probability":0.3}}"#,
                Fault::Refuse(Outage {
                    probability: Some(0.3),
                    ..Outage::default()
                }),
            ),
            (r#""blackhole""#, Fault::BLACKHOLE),
            (
                r#"{"blackhole":{"probability":0.3}}"#,
                Fault::Blackhole(Chance {
                    probability: Some(0.3),
                }),
            ),
            (
                r#"{"tarpit":{"reply":"2s","jitter":"500ms","probability":0.5}}"#,
                Fault::Tarpit(Tarpit {
                    reply: Some(Duration::from_secs(2)),
                    jitter: Some(Duration::from_millis(500)),
                    probability: Some(0.5),
                    ..Tarpit::default()
                }),
            ),
        ];
        for (json, want) in chance_table {
            let got: Fault = serde_json::from_str(json).expect(json);
            assert_eq!(got, want);
            let back: Fault = serde_json::from_str(&serde_json::to_string(&got).unwrap()).unwrap();
            assert_eq!(back, want, "{json} round trip");
        }
        assert_eq!(
            serde_json::to_string(&Fault::BLACKHOLE).unwrap(),
            r#""blackhole""#
        );
        let err = serde_json::from_str::<Fault>(r#"{"tls":"wrong"}"#).unwrap_err();
        assert!(err.to_string().contains("starttls_refused"), "{err}");
    }

    /// The banner stage is `banner`; `connect`, its former name, is still read as it.
    #[test]
    fn banner_stage_accepts_connect_as_an_alias() {
        for name in ["banner", "connect"] {
            let json = format!(r#"{{"reply":{{"stage":"{name}","code":554}}}}"#);
            let got: Fault = serde_json::from_str(&json).expect(&json);
            assert!(
                matches!(&got, Fault::Reply(r) if r.stage == Stage::Banner),
                "{json}: {got:?}"
            );
        }
        assert_eq!(Stage::Banner.as_str(), "banner");
        assert_eq!(
            serde_json::to_string(&Stage::Banner).unwrap(),
            r#""banner""#
        );
        let err = serde_json::from_str::<Stage>(r#""greeting""#).unwrap_err();
        assert!(err.to_string().contains("`banner`"), "{err}");
    }
}
