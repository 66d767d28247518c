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

/// The first `refuse` or `unreachable` in list order decides; otherwise open. One with
/// a `probability` leaves the listener open (it picks connections at accept).
pub fn listener_state(faults: &[Fault]) -> ListenerState {
    faults
        .iter()
        .find_map(|f| match f {
            Fault::Refuse(o) if o.whole() => Some(ListenerState::Closed),
            Fault::Unreachable(o) if o.whole() => Some(ListenerState::Jammed),
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
    /// The connection's seed: which faults with a `probability` pick it (`chance.rs`).
    seed: u64,
    /// Jitter draws, apart so that a jittered tarpit does not shift the other draws.
    jitter: fastrand::Rng,
}

impl SessionPlan {
    /// `seed` should already be unique per connection (see [`connection_seed`]).
    pub fn new(faults: Vec<Fault>, seed: u64) -> SessionPlan {
        SessionPlan {
            faults,
            rng: fastrand::Rng::with_seed(seed),
            seed,
            jitter: fastrand::Rng::with_seed(seed ^ 0x0017_7E12_0000_0000),
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
        self.faults.iter().enumerate().find_map(|(i, fault)| {
            let picked = |p| chance::picks(p, self.seed, i);
            let action = match fault {
                Fault::Refuse(o) if picked(o.probability) => refuse::on_accept(),
                Fault::Unreachable(o) if picked(o.probability) => unreachable::on_accept(),
                Fault::Reset => reset::on_accept(),
                Fault::Blackhole(c) if picked(c.probability) => blackhole::on_accept(),
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
        let (rng, seed) = (&mut self.rng, self.seed);
        self.faults.iter().enumerate().find_map(|(i, fault)| {
            let action = match fault {
                Fault::Reply(r) => r.fires(stage, rng).map(StageAction::Reply),
                Fault::Disconnect(d) => d.fires(stage, rng).then_some(StageAction::Disconnect),
                Fault::Reset => reset::at_stage(stage),
                Fault::Blackhole(c) => chance::picks(c.probability, seed, i)
                    .then(|| blackhole::at_stage(stage))
                    .flatten(),
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

    /// How long to wait before the banner, if a tarpit says so (jitter drawn anew).
    pub fn banner_delay(&mut self) -> Option<Duration> {
        let (faults, seed) = (&self.faults, self.seed);
        tarpit::banner_delay(tarpits(faults, seed), &mut self.jitter)
    }

    /// How long to hold the reply to the final dot, if a tarpit says so.
    pub fn dot_delay(&self) -> Option<Duration> {
        tarpit::dot_delay(tarpits(&self.faults, self.seed))
    }

    /// How to pace the next reply after the banner, if a tarpit says so (jitter drawn
    /// anew for each reply).
    pub fn pacing(&mut self) -> Option<Pacing> {
        let (faults, seed) = (&self.faults, self.seed);
        tarpit::pacing(tarpits(faults, seed), &mut self.jitter)
    }

    /// The slowest dribbling rate of the tarpits that picked this connection (no draw).
    pub fn dribble_rate(&self) -> Option<u32> {
        tarpits(&self.faults, self.seed)
            .filter_map(|t| t.bytes_per_sec)
            .min()
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

    fn rate_limits(&self) -> impl Iterator<Item = &RateLimit> {
        self.faults.iter().filter_map(|f| match f {
            Fault::RateLimit(r) => Some(r),
            _ => None,
        })
    }
}

/// The tarpits in force that picked the connection seeded with `seed`.
fn tarpits(faults: &[Fault], seed: u64) -> impl Iterator<Item = &Tarpit> {
    faults.iter().enumerate().filter_map(move |(i, f)| match f {
        Fault::Tarpit(t) if chance::picks(t.probability, seed, i) => Some(t),
        _ => None,
    })
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
            (vec![Fault::Reset, Fault::BLACKHOLE], ListenerState::Open),
            (vec![Fault::REFUSE], ListenerState::Closed),
            (vec![Fault::UNREACHABLE], ListenerState::Jammed),
            (
                vec![Fault::BLACKHOLE, Fault::UNREACHABLE, Fault::REFUSE],
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
                vec![Fault::Reset, Fault::BLACKHOLE],
                Some(("reset", AcceptAction::Reset)),
            ),
            (
                vec![Fault::BLACKHOLE, Fault::Reset],
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

    /// `probability` picks connections (deterministic per connection seed): a picked
    /// connection gets the whole fault, the others none of it; an outage with a
    /// probability leaves the listener up.
    #[test]
    fn a_probability_picks_connections() {
        let refuse = Fault::Refuse(Outage {
            probability: Some(0.3),
            ..Outage::default()
        });
        let hole = Fault::Blackhole(Chance {
            probability: Some(0.5),
        });
        let tarpit = Fault::Tarpit(Tarpit {
            banner: Some(Duration::from_secs(1)),
            probability: Some(0.2),
            ..Tarpit::default()
        });
        assert_eq!(
            listener_state(std::slice::from_ref(&refuse)),
            ListenerState::Open
        );
        assert_eq!(outage::open_sessions(std::slice::from_ref(&refuse)), None);
        let table = [
            (refuse, "refuse", AcceptAction::Reset, 0.3),
            (hole, "blackhole", AcceptAction::Blackhole, 0.5),
        ];
        for (fault, kind, action, p) in table {
            let n = 1000;
            let picked = (0..n)
                .filter(|c| {
                    let plan = SessionPlan::new(vec![fault.clone()], connection_seed(7, *c));
                    match plan.on_accept() {
                        Some(f) => (f.fault, f.action) == (kind, action),
                        None => false,
                    }
                })
                .count();
            let sd = (n as f64 * p * (1.0 - p)).sqrt();
            assert!(
                (picked as f64 - n as f64 * p).abs() < 5.0 * sd,
                "{kind}: {picked} of {n}"
            );
        }
        let mut slowed = 0;
        for c in 0..1000 {
            let mut plan = SessionPlan::new(vec![tarpit.clone()], connection_seed(7, c));
            let first = plan.banner_delay();
            // Picked for the whole connection: every later question agrees.
            assert_eq!(plan.banner_delay(), first);
            slowed += usize::from(first.is_some());
        }
        assert!((140..=260).contains(&slowed), "{slowed}");
    }

    #[test]
    fn a_probabilistic_blackhole_switched_on_silences_only_picked_sessions() {
        let hole = Fault::Blackhole(Chance {
            probability: Some(0.5),
        });
        let silenced = (0..200)
            .filter(|c| {
                let mut plan = SessionPlan::new(vec![], connection_seed(3, *c));
                plan.set_faults(vec![hole.clone()]);
                plan.at_stage(Stage::Mail).map(|f| f.action) == Some(StageAction::Blackhole)
            })
            .count();
        assert!((60..=140).contains(&silenced), "{silenced}");
    }
}
