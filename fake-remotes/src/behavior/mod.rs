//! The fault catalogue: what a remote does instead of behaving.
//!
//! A [`Fault`] is data (its serde form is the scenario's YAML form). Each behaviour lives
//! in its own file and *decides* (refuse this connection, delay this reply by N, answer
//! 451 at RCPT); the session in `session.rs` *executes*. So behaviours are unit-tested
//! without sockets. Several faults may be in force at once on one remote (a tarpit plus a
//! 30% 451); the [`Plan`] of a session combines them:
//!
//! - at accept, the first `refuse`/`reset`/`blackhole` in list order wins;
//! - at a stage, faults are asked in list order and the first one that fires wins (each
//!   probability is drawn from the session's seeded RNG, one draw per matching fault and
//!   occurrence, so a run with the same seed and the same traffic replays);
//! - tarpits add up to the longest delay and the slowest rate; they never replace a reply.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::Reply;

pub mod blackhole;
pub mod disconnect;
pub mod refuse;
pub mod reply;
pub mod reset;
pub mod tarpit;

pub use disconnect::Disconnect;
pub use reply::ReplyFault;
pub use tarpit::{Pacing, Tarpit};

/// One fault, in the form written in a scenario (`fault: refuse`,
/// `fault: { tarpit: { banner: 2s } }`, `fault: { reply: { stage: rcpt, code: 451 } }`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Fault {
    /// Nothing listens: connect() gets ECONNREFUSED.
    Refuse,
    /// TCP accepted, then reset (RST) before any byte.
    Reset,
    /// TCP accepted, not a byte ever sent, never closed.
    Blackhole,
    /// Delays: banner, every reply, and/or replies dribbled at N bytes/s.
    Tarpit(Tarpit),
    /// A chosen reply code at a stage, with a probability.
    Reply(ReplyFault),
    /// Close the connection without a reply at a stage, with a probability.
    Disconnect(Disconnect),
}

impl Fault {
    /// Short name for events and reports (`refuse`, `tarpit`, …).
    pub fn kind(&self) -> &'static str {
        match self {
            Fault::Refuse => "refuse",
            Fault::Reset => "reset",
            Fault::Blackhole => "blackhole",
            Fault::Tarpit(_) => "tarpit",
            Fault::Reply(_) => "reply",
            Fault::Disconnect(_) => "disconnect",
        }
    }

    /// Checks the values serde cannot (ranges), with a message a person can act on.
    pub fn validate(&self) -> Result<(), String> {
        match self {
            Fault::Refuse | Fault::Reset | Fault::Blackhole => Ok(()),
            Fault::Tarpit(t) => t.validate(),
            Fault::Reply(r) => r.validate(),
            Fault::Disconnect(d) => d.validate(),
        }
    }
}

/// The points of an SMTP session at which a fault can act.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// The banner (before any command).
    Connect,
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
}

impl Stage {
    pub fn as_str(&self) -> &'static str {
        match self {
            Stage::Connect => "connect",
            Stage::Ehlo => "ehlo",
            Stage::Mail => "mail",
            Stage::Rcpt => "rcpt",
            Stage::Data => "data",
            Stage::Dot => "dot",
            Stage::Quit => "quit",
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
    Reply(Reply),
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

/// The decisions of one session: the faults in force plus the session's seeded RNG.
#[derive(Clone, Debug)]
pub struct Plan {
    faults: Vec<Fault>,
    rng: fastrand::Rng,
}

impl Plan {
    /// `seed` should already be unique per connection (see [`connection_seed`]).
    pub fn new(faults: Vec<Fault>, seed: u64) -> Plan {
        Plan {
            faults,
            rng: fastrand::Rng::with_seed(seed),
        }
    }

    /// A live switch: the new faults apply from the next decision; the RNG keeps going.
    pub fn set_faults(&mut self, faults: Vec<Fault>) {
        self.faults = faults;
    }

    pub fn faults(&self) -> &[Fault] {
        &self.faults
    }

    /// `None`: serve the connection.
    pub fn on_accept(&self) -> Option<Fired<AcceptAction>> {
        self.faults.iter().find_map(|fault| {
            let action = match fault {
                Fault::Refuse => refuse::on_accept(),
                Fault::Reset => reset::on_accept(),
                Fault::Blackhole => blackhole::on_accept(),
                _ => None,
            }?;
            Some(Fired {
                fault: fault.kind(),
                action,
            })
        })
    }

    /// `None`: answer normally at this stage.
    pub fn at_stage(&mut self, stage: Stage) -> Option<Fired<StageAction>> {
        let rng = &mut self.rng;
        self.faults.iter().find_map(|fault| {
            let action = match fault {
                Fault::Reply(r) => r.fires(stage, rng).map(StageAction::Reply),
                Fault::Disconnect(d) => d.fires(stage, rng).then_some(StageAction::Disconnect),
                Fault::Reset => reset::at_stage(stage),
                Fault::Blackhole => blackhole::at_stage(stage),
                Fault::Refuse | Fault::Tarpit(_) => None,
            }?;
            Some(Fired {
                fault: fault.kind(),
                action,
            })
        })
    }

    /// How long to wait before the banner, if a tarpit says so.
    pub fn banner_delay(&self) -> Option<Duration> {
        tarpit::banner_delay(self.tarpits())
    }

    /// How to pace every reply after the banner, if a tarpit says so.
    pub fn pacing(&self) -> Option<Pacing> {
        tarpit::pacing(self.tarpits())
    }

    fn tarpits(&self) -> impl Iterator<Item = &Tarpit> {
        self.faults.iter().filter_map(|f| match f {
            Fault::Tarpit(t) => Some(t),
            _ => None,
        })
    }
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
    use super::*;

    fn reply(stage: Stage, code: u16, probability: f64) -> Fault {
        Fault::Reply(ReplyFault {
            stage,
            code,
            text: None,
            probability,
        })
    }

    #[test]
    fn healthy_plan_decides_nothing() {
        let mut plan = Plan::new(vec![], 1);
        assert_eq!(plan.on_accept(), None);
        assert_eq!(plan.banner_delay(), None);
        assert_eq!(plan.pacing(), None);
        for stage in [Stage::Connect, Stage::Rcpt, Stage::Dot, Stage::Quit] {
            assert_eq!(plan.at_stage(stage), None);
        }
    }

    #[test]
    fn first_connection_fault_in_list_order_wins() {
        let table = [
            (
                vec![Fault::Reset, Fault::Blackhole],
                Some(("reset", AcceptAction::Reset)),
            ),
            (
                vec![Fault::Blackhole, Fault::Reset],
                Some(("blackhole", AcceptAction::Blackhole)),
            ),
            // a connection that raced in just before the listener closed
            (vec![Fault::Refuse], Some(("refuse", AcceptAction::Reset))),
            (vec![reply(Stage::Rcpt, 451, 1.0)], None),
        ];
        for (faults, want) in table {
            let plan = Plan::new(faults.clone(), 1);
            let got = plan.on_accept().map(|f| (f.fault, f.action));
            assert_eq!(got, want, "{faults:?}");
        }
    }

    #[test]
    fn overlapping_faults_combine() {
        let tarpit = Fault::Tarpit(Tarpit {
            reply: Some(Duration::from_secs(1)),
            ..Tarpit::default()
        });
        let mut plan = Plan::new(vec![tarpit, reply(Stage::Rcpt, 451, 1.0)], 1);
        assert_eq!(plan.pacing().map(|p| p.delay), Some(Duration::from_secs(1)));
        let fired = plan.at_stage(Stage::Rcpt).expect("reply fires");
        assert_eq!(fired.fault, "reply");
        assert!(matches!(
            fired.action,
            StageAction::Reply(Reply { code: 451, .. })
        ));
        assert_eq!(plan.at_stage(Stage::Mail), None);
    }

    #[test]
    fn first_fault_that_fires_wins_at_a_stage() {
        let disconnect = Fault::Disconnect(Disconnect {
            stage: Stage::Dot,
            probability: 0.0,
        });
        let mut plan = Plan::new(vec![disconnect, reply(Stage::Dot, 554, 1.0)], 1);
        let fired = plan.at_stage(Stage::Dot).expect("reply fires");
        assert_eq!(fired.fault, "reply");
    }

    #[test]
    fn same_seed_replays_and_live_switch_applies() {
        let faults = vec![reply(Stage::Rcpt, 451, 0.5)];
        let run = |seed| {
            let mut plan = Plan::new(faults.clone(), seed);
            (0..64)
                .map(|_| plan.at_stage(Stage::Rcpt).is_some())
                .collect::<Vec<_>>()
        };
        assert_eq!(run(connection_seed(7, 3)), run(connection_seed(7, 3)));
        assert_ne!(run(connection_seed(7, 3)), run(connection_seed(7, 4)));
        let fired = run(connection_seed(7, 3)).iter().filter(|f| **f).count();
        assert!((16..=48).contains(&fired), "about half fire: {fired}");

        let mut plan = Plan::new(vec![], 1);
        assert_eq!(plan.at_stage(Stage::Rcpt), None);
        plan.set_faults(vec![Fault::Reset]);
        assert_eq!(
            plan.at_stage(Stage::Rcpt).map(|f| f.action),
            Some(StageAction::Reset)
        );
    }

    #[test]
    fn validate_reports_ranges() {
        assert!(reply(Stage::Rcpt, 451, 0.3).validate().is_ok());
        assert!(reply(Stage::Rcpt, 451, 1.5).validate().is_err());
        assert!(reply(Stage::Rcpt, 99, 1.0).validate().is_err());
        assert!(Fault::Tarpit(Tarpit {
            bytes_per_sec: Some(0),
            ..Tarpit::default()
        })
        .validate()
        .is_err());
    }

    #[test]
    fn serde_form_is_the_scenario_form() {
        let table = [
            (r#""refuse""#, Fault::Refuse),
            (
                r#"{"reply":{"stage":"rcpt","code":451}}"#,
                reply(Stage::Rcpt, 451, 1.0),
            ),
            (
                r#"{"tarpit":{"banner":"2s"}}"#,
                Fault::Tarpit(Tarpit {
                    banner: Some(Duration::from_secs(2)),
                    ..Tarpit::default()
                }),
            ),
        ];
        for (json, want) in table {
            let got: Fault = serde_json::from_str(json).expect(json);
            assert_eq!(got, want);
        }
    }
}
