//! The [`SessionPlan`]: the decisions of one session, combining every fault in force (the order
//! rules are in the module above), and [`listener_state`], the one decision of the
//! accept loop.

use std::time::Duration;

use super::tls::{self, Handshake};
use super::*;

/// What the listening socket should be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListenerState {
    /// Listening and accepting.
    Open,
    /// Closed: connect() is refused (`refuse`).
    Closed,
    /// Jammed: a full accept queue, SYNs dropped (`unreachable`).
    Jammed,
}

/// The first `refuse` or `unreachable` in list order decides; otherwise open.
pub fn listener_state(faults: &[Fault]) -> ListenerState {
    faults
        .iter()
        .find_map(|f| match f {
            Fault::Refuse(_) => Some(ListenerState::Closed),
            Fault::Unreachable(_) => Some(ListenerState::Jammed),
            _ => None,
        })
        .unwrap_or(ListenerState::Open)
}

/// The decisions of one session: the faults in force plus the session's seeded RNG (not
/// mailquake's scenario `Plan`).
#[derive(Clone, Debug)]
pub struct SessionPlan {
    faults: Vec<Fault>,
    rng: fastrand::Rng,
}

impl SessionPlan {
    /// `seed` should already be unique per connection (see [`connection_seed`]).
    pub fn new(faults: Vec<Fault>, seed: u64) -> SessionPlan {
        SessionPlan {
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
                Fault::Refuse(_) => refuse::on_accept(),
                Fault::Unreachable(_) => unreachable::on_accept(),
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

    /// `None`: answer normally at this stage (then ask the stateful faults).
    pub fn at_stage(&mut self, stage: Stage) -> Option<Fired<StageAction>> {
        let rng = &mut self.rng;
        self.faults.iter().find_map(|fault| {
            let action = match fault {
                Fault::Reply(r) => r.fires(stage, rng).map(StageAction::Reply),
                Fault::Disconnect(d) => d.fires(stage, rng).then_some(StageAction::Disconnect),
                Fault::Reset => reset::at_stage(stage),
                Fault::Blackhole => blackhole::at_stage(stage),
                Fault::Tls(t) if stage == Stage::Starttls => {
                    tls::at_starttls(*t).map(StageAction::Reply)
                }
                Fault::Refuse(_)
                | Fault::Unreachable(_)
                | Fault::Tarpit(_)
                | Fault::Greylist(_)
                | Fault::RateLimit(_)
                | Fault::Tls(_) => None,
            }?;
            Some(Fired {
                fault: fault.kind(),
                action,
            })
        })
    }

    /// After `220 Ready to start TLS`: `None` completes the handshake with the valid
    /// certificate.
    pub fn handshake(&self) -> Option<Fired<Handshake>> {
        self.faults.iter().find_map(|fault| match fault {
            Fault::Tls(t) => tls::handshake(*t).map(|action| Fired {
                fault: fault.kind(),
                action,
            }),
            _ => None,
        })
    }

    /// How long to wait before the banner, if a tarpit says so.
    pub fn banner_delay(&self) -> Option<Duration> {
        tarpit::banner_delay(self.tarpits())
    }

    /// How long to hold the reply to the final dot, if a tarpit says so.
    pub fn dot_delay(&self) -> Option<Duration> {
        tarpit::dot_delay(self.tarpits())
    }

    /// How to pace every reply after the banner, if a tarpit says so.
    pub fn pacing(&self) -> Option<Pacing> {
        tarpit::pacing(self.tarpits())
    }

    /// The lowest concurrent-connection limit in force, if any.
    pub fn connection_limit(&self) -> Option<u32> {
        rate_limit::connection_limit(self.rate_limits())
    }

    /// Every `(messages, per)` window in force (empty: no message limit).
    pub fn message_windows(&self) -> Vec<(u32, Duration)> {
        rate_limit::message_windows(self.rate_limits())
    }

    /// The greylisting delay in force, if any.
    pub fn greylist(&self) -> Option<Duration> {
        greylist::retry_after(self.faults.iter().filter_map(|f| match f {
            Fault::Greylist(g) => Some(g),
            _ => None,
        }))
    }

    fn tarpits(&self) -> impl Iterator<Item = &Tarpit> {
        self.faults.iter().filter_map(|f| match f {
            Fault::Tarpit(t) => Some(t),
            _ => None,
        })
    }

    fn rate_limits(&self) -> impl Iterator<Item = &RateLimit> {
        self.faults.iter().filter_map(|f| match f {
            Fault::RateLimit(r) => Some(r),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::tls::Certificate;
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
        let mut plan = SessionPlan::new(vec![], 1);
        assert_eq!(plan.on_accept(), None);
        assert_eq!(plan.banner_delay(), None);
        assert_eq!(plan.pacing(), None);
        assert_eq!(plan.handshake(), None);
        assert_eq!(plan.connection_limit(), None);
        assert!(plan.message_windows().is_empty());
        assert_eq!(plan.greylist(), None);
        for stage in [Stage::Banner, Stage::Rcpt, Stage::Dot, Stage::Starttls] {
            assert_eq!(plan.at_stage(stage), None);
        }
    }

    #[test]
    fn listener_follows_the_first_refuse_or_unreachable() {
        let table = [
            (vec![], ListenerState::Open),
            (vec![Fault::Reset, Fault::Blackhole], ListenerState::Open),
            (vec![Fault::REFUSE], ListenerState::Closed),
            (vec![Fault::UNREACHABLE], ListenerState::Jammed),
            (
                vec![Fault::Blackhole, Fault::UNREACHABLE, Fault::REFUSE],
                ListenerState::Jammed,
            ),
            (
                vec![Fault::REFUSE, Fault::UNREACHABLE],
                ListenerState::Closed,
            ),
        ];
        for (faults, want) in table {
            assert_eq!(listener_state(&faults), want, "{faults:?}");
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
            // connections that raced in just before the listener closed or jammed
            (vec![Fault::REFUSE], Some(("refuse", AcceptAction::Reset))),
            (
                vec![Fault::UNREACHABLE],
                Some(("unreachable", AcceptAction::Blackhole)),
            ),
            (vec![reply(Stage::Rcpt, 451, 1.0)], None),
            (vec![Fault::Greylist(Greylist::default())], None),
        ];
        for (faults, want) in table {
            let plan = SessionPlan::new(faults.clone(), 1);
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
        let grey = Fault::Greylist(Greylist {
            retry_after: Duration::from_secs(30),
        });
        let limit = Fault::RateLimit(RateLimit {
            messages: Some(10),
            per: Some(Duration::from_secs(60)),
            connections: Some(2),
        });
        let tls = Fault::Tls(TlsFault::ExpiredCert);
        let mut plan = SessionPlan::new(
            vec![tarpit, grey, limit, tls, reply(Stage::Rcpt, 451, 1.0)],
            1,
        );
        assert_eq!(plan.pacing().map(|p| p.delay), Some(Duration::from_secs(1)));
        assert_eq!(plan.greylist(), Some(Duration::from_secs(30)));
        assert_eq!(plan.connection_limit(), Some(2));
        assert_eq!(
            plan.message_windows(),
            [(10, Duration::from_secs(60))].to_vec()
        );
        assert_eq!(
            plan.handshake().map(|f| (f.fault, f.action)),
            Some(("tls", Handshake::Present(Certificate::Expired)))
        );
        // The plain reply fires at RCPT (the session asks the greylist only after it).
        let fired = plan.at_stage(Stage::Rcpt).expect("reply fires");
        assert_eq!(fired.fault, "reply");
        assert!(matches!(
            fired.action,
            StageAction::Reply(RemoteReply { code: 451, .. })
        ));
        assert_eq!(plan.at_stage(Stage::Mail), None);
        assert_eq!(plan.at_stage(Stage::Starttls), None);
    }

    #[test]
    fn tls_faults_act_at_starttls_first_in_list_order() {
        let table = [
            (vec![Fault::Tls(TlsFault::StarttlsRefused)], Some(454), None),
            (
                vec![
                    Fault::Tls(TlsFault::HandshakeHang),
                    Fault::Tls(TlsFault::WrongName),
                ],
                None,
                Some(Handshake::Hang),
            ),
            (vec![reply(Stage::Starttls, 554, 1.0)], Some(554), None),
        ];
        for (faults, code, handshake) in table {
            let mut plan = SessionPlan::new(faults.clone(), 1);
            let got = plan.at_stage(Stage::Starttls).map(|f| match f.action {
                StageAction::Reply(r) => r.code,
                other => panic!("{other:?}"),
            });
            assert_eq!(got, code, "{faults:?}");
            assert_eq!(plan.handshake().map(|f| f.action), handshake, "{faults:?}");
            assert_eq!(plan.at_stage(Stage::Rcpt), None);
        }
    }

    #[test]
    fn first_fault_that_fires_wins_at_a_stage() {
        let disconnect = Fault::Disconnect(Disconnect {
            stage: Stage::Dot,
            probability: 0.0,
        });
        let mut plan = SessionPlan::new(vec![disconnect, reply(Stage::Dot, 554, 1.0)], 1);
        let fired = plan.at_stage(Stage::Dot).expect("reply fires");
        assert_eq!(fired.fault, "reply");
    }

    #[test]
    fn same_seed_replays_and_live_switch_applies() {
        let faults = vec![reply(Stage::Rcpt, 451, 0.5)];
        let run = |seed| {
            let mut plan = SessionPlan::new(faults.clone(), seed);
            (0..64)
                .map(|_| plan.at_stage(Stage::Rcpt).is_some())
                .collect::<Vec<_>>()
        };
        assert_eq!(run(connection_seed(7, 3)), run(connection_seed(7, 3)));
        assert_ne!(run(connection_seed(7, 3)), run(connection_seed(7, 4)));
        let fired = run(connection_seed(7, 3)).iter().filter(|f| **f).count();
        assert!((16..=48).contains(&fired), "about half fire: {fired}");

        let mut plan = SessionPlan::new(vec![], 1);
        assert_eq!(plan.at_stage(Stage::Rcpt), None);
        plan.set_faults(vec![Fault::Reset]);
        assert_eq!(
            plan.at_stage(Stage::Rcpt).map(|f| f.action),
            Some(StageAction::Reset)
        );
    }
}
