//! Misrouting: a message (or its bounce) that reaches a remote not serving its domain.
//!
//! On the internet each destination is its own host; on loopback every remote shares
//! one machine, and a cluster that reuses an open connection for every destination on
//! the same IP (Exim's "continued delivery") can hand one remote's mail to another.
//! Such a message is **misrouted**: it never counts as delivered (nor bounced) there,
//! it is counted per (remote reached, domain), and the `routing` rule fails the run
//! (`checks/routing.rs`). A RCPT that a remote refused as not its own (`550 5.7.1`)
//! counts too: the message reached the wrong remote all the same.

use super::Collector;
use crate::scenario::BOUNCE_DOMAIN;
use crate::tracking::{parse_rcpt, parse_verp};

/// The domain part of an address, as written.
pub(super) fn domain_of(addr: &str) -> &str {
    addr.rsplit_once('@').map_or("", |(_, d)| d)
}

impl Collector {
    /// Whether `rcpt` arriving at `remote` is misrouted: the plan says which domains
    /// `remote` serves, and `rcpt`'s is not one of them. Unknown remotes (and a ledger
    /// without a routing table) are never judged.
    pub(super) fn is_misrouted(&self, remote: &str, rcpt: &str) -> bool {
        let Some(domains) = self.ledger.served.get(remote) else {
            return false;
        };
        let domain = domain_of(rcpt);
        !domains.iter().any(|d| d.eq_ignore_ascii_case(domain))
    }

    /// Records that `rcpt` reached `remote`, which does not serve its domain (once its
    /// message is submitted: a report that overtakes the submission waits for it).
    pub(super) fn mark_misrouted(&mut self, remote: &str, rcpt: &str) {
        let domain = domain_of(rcpt).to_ascii_lowercase();
        let seq = if domain == BOUNCE_DOMAIN {
            parse_verp(rcpt)
        } else {
            parse_rcpt(rcpt).map(|(seq, _)| seq)
        };
        let Some(seq) = seq else {
            self.ledger.foreign += 1;
            return;
        };
        if self.ledger.part.owns(seq) && !self.is_submitted(seq) {
            if self.early_misrouted.len() < super::MAX_EARLY {
                self.early_misrouted.push((seq, remote.to_string(), domain));
            } else {
                self.ledger.foreign += 1;
            }
            return;
        }
        self.misroute_now(seq, remote, domain);
    }

    /// Marks message `seq` misrouted at `remote` (counted once, at the first).
    pub(super) fn misroute_now(&mut self, seq: u64, remote: &str, domain: String) {
        let mut first = false;
        self.update_now(seq, |r, p| {
            if !r.misrouted() {
                r.flags |= super::ledger::flag::MISROUTED;
                p.misrouted += 1;
                first = true;
            }
        });
        if first {
            *self
                .ledger
                .misrouted
                .entry(remote.to_string())
                .or_default()
                .entry(domain)
                .or_default() += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use fake_remotes::{RemoteEvent, RemoteEventKind};

    use super::super::{Event, Ledger};
    use super::*;

    /// `ok` serves ok.test, `down` serves down.test, `bounces` the bounce domain.
    fn collector() -> Collector {
        let served = [
            ("ok", "ok.test"),
            ("down", "down.test"),
            ("bounces", BOUNCE_DOMAIN),
        ]
        .into_iter()
        .map(|(r, d)| (r.to_string(), vec![d.to_string()]))
        .collect();
        let mut c = Collector::new(Ledger {
            run_id: "r1".into(),
            t0_us: 1_000_000,
            domains: vec!["ok.test".into(), "down.test".into()],
            served,
            ..Default::default()
        });
        for (seq, domain) in [(0, 0), (1, 1), (2, 1)] {
            c.apply(Event::Submitted {
                seq,
                domain,
                rcpts: 1,
                intended_us: 1_000_000,
            });
            c.apply(Event::Accepted {
                seq,
                at_us: 1_001_000,
                node: Arc::from("n1"),
            });
        }
        c
    }

    fn at(remote: &str, kind: RemoteEventKind) -> Event {
        Event::Remote(RemoteEvent {
            at_us: 1_500_000,
            remote: remote.into(),
            kind,
        })
    }

    fn message(rcpt: &str, tracking: &str) -> RemoteEventKind {
        RemoteEventKind::Message {
            mail_from: "mq.0@bounces.test".into(),
            rcpts: vec![rcpt.into()],
            tracking: Some(tracking.into()),
            received_by: vec!["n1".into()],
            size: 10,
        }
    }

    /// A message delivered at a remote that does not serve its domain is misrouted,
    /// not delivered; one refused there as not its own is misrouted too; mail at the
    /// right remote is delivered as before.
    #[test]
    fn delivery_at_the_wrong_remote_is_misrouted_not_delivered() {
        let mut c = collector();
        c.apply(at("ok", message("mq.0.0@ok.test", "r1.0")));
        c.apply(at("ok", message("mq.1.0@down.test", "r1.1")));
        c.apply(at(
            "ok",
            RemoteEventKind::Rcpt {
                rcpt: "mq.2.0@down.test".into(),
                code: 550,
            },
        ));
        c.apply(at(
            "ok",
            RemoteEventKind::RelayDenied {
                rcpt: "mq.2.0@down.test".into(),
            },
        ));
        let r = &c.ledger.records;
        assert!(r[0].delivered() && !r[0].misrouted());
        assert!(!r[1].delivered() && r[1].misrouted());
        assert!(!r[2].delivered() && r[2].misrouted());
        assert_eq!(r[2].attempts, 1, "a refused RCPT is still an attempt");
        assert_eq!(c.progress.misrouted, 2);
        assert_eq!(c.progress.delivered, 1);
        assert_eq!(c.ledger.misrouted["ok"]["down.test"], 2);
        assert_eq!(c.ledger.remotes["ok"].relay_denied, 1);
        // The same message reaching the wrong remote again is not counted twice.
        c.apply(at("ok", message("mq.1.0@down.test", "r1.1")));
        assert_eq!(c.ledger.misrouted["ok"]["down.test"], 2);
        // A bounce at a remote other than the bounce remote is misrouted too.
        c.apply(at("down", message("mq.0@bounces.test", "r1.0")));
        assert!(!r_bounced(&c, 0));
        assert_eq!(c.ledger.misrouted["down"][BOUNCE_DOMAIN], 1);
    }

    fn r_bounced(c: &Collector, seq: usize) -> bool {
        c.ledger.records[seq].bounced()
    }

    /// Without a routing table (remotes unknown) nothing is judged misrouted.
    #[test]
    fn unknown_remotes_are_not_judged() {
        let mut c = collector();
        c.ledger.served.clear();
        c.apply(at("ok", message("mq.1.0@down.test", "r1.1")));
        assert!(c.ledger.records[1].delivered());
        assert_eq!(c.progress.misrouted, 0);
    }

    /// A refusal as not its own that the remote reports before the message's
    /// submission reached the collector is counted when the submission comes, once.
    #[test]
    fn a_misrouting_seen_before_its_submission_counts_when_it_comes() {
        let mut c = collector();
        c.apply(at(
            "ok",
            RemoteEventKind::Rcpt {
                rcpt: "mq.3.0@down.test".into(),
                code: 550,
            },
        ));
        assert_eq!(c.progress.misrouted, 0);
        c.apply(Event::Submitted {
            seq: 3,
            domain: 1,
            rcpts: 1,
            intended_us: 1_000_000,
        });
        c.close_early();
        let r = &c.ledger.records[3];
        assert!(r.misrouted() && r.attempts == 1, "{r:?}");
        assert_eq!(c.ledger.misrouted["ok"]["down.test"], 1);
        assert_eq!(c.ledger.foreign, 0);
    }
}
