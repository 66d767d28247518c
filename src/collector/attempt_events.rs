//! Which observations become entries of the attempt log ([`super::attempts`]): the
//! collector calls these beside updating the ledger, for messages of this run only.

use fake_remotes::{RemoteEvent, RemoteEventKind};

use super::attempts::{Attempt, Kind, NONE_U8};
use super::Collector;
use crate::scenario::BOUNCE_DOMAIN;
use crate::smtp::Phase;
use crate::tracking::{parse_rcpt, parse_tracking, parse_verp};

impl Collector {
    /// Message `seq` exists in this run (a stray address names no message of ours).
    fn is_ours(&self, seq: u64) -> Option<u32> {
        let seq32 = u32::try_from(seq).ok()?;
        let r = self.ledger.records.get(seq as usize)?;
        r.is(super::ledger::flag::SUBMITTED).then_some(seq32)
    }

    pub(super) fn log_not_accepted(&mut self, seq: u64, at: u32, code: Option<u16>, phase: Phase) {
        let Some(seq) = self.is_ours(seq) else {
            return;
        };
        let label = self.ledger.attempts.label_index(phase.as_str());
        self.ledger.attempts.push(Attempt {
            code: code.unwrap_or(0),
            label,
            ..Attempt::new(seq, at, Kind::NotAccepted)
        });
    }

    /// Logs what a remote saw of our messages: one entry per recipient it names.
    pub(super) fn log_remote(&mut self, event: &RemoteEvent, at: u32) {
        let (kind, rcpts, code, label, node): (Kind, &[String], u16, Option<String>, _) =
            match &event.kind {
                RemoteEventKind::Rcpt { rcpt, code } => {
                    (Kind::Rcpt, std::slice::from_ref(rcpt), *code, None, None)
                }
                RemoteEventKind::Message {
                    rcpts,
                    tracking,
                    received_by,
                    ..
                } => {
                    let foreign = tracking
                        .as_deref()
                        .and_then(parse_tracking)
                        .is_some_and(|(run, _)| run != self.ledger.run_id);
                    if foreign {
                        return;
                    }
                    let node = received_by.first().map(|n| self.ledger.node_index(n));
                    (Kind::Arrived, rcpts.as_slice(), 250, None, node)
                }
                RemoteEventKind::Rejected {
                    stage, code, rcpts, ..
                } => (
                    Kind::Rejected,
                    rcpts.as_slice(),
                    *code,
                    Some(stage.as_str().to_string()),
                    None,
                ),
                RemoteEventKind::FaultFired {
                    fault,
                    stage,
                    rcpts,
                } => (
                    Kind::FaultFired,
                    rcpts.as_slice(),
                    0,
                    Some(format!("{fault} at {}", stage.as_str())),
                    None,
                ),
                // A relay refusal also comes as its RCPT answer (550), logged above.
                RemoteEventKind::Connected { .. }
                | RemoteEventKind::LeaseExpired { .. }
                | RemoteEventKind::FaultChanged { .. }
                | RemoteEventKind::RelayDenied { .. } => return,
            };
        let remote = self.ledger.attempts.remote_index(&event.remote);
        let label = label.map(|l| self.ledger.attempts.label_index(&l));
        for rcpt in rcpts {
            let (seq, n, kind) = if kind == Kind::Arrived && is_bounce(rcpt) {
                match parse_verp(rcpt) {
                    Some(seq) => (seq, NONE_U8, Kind::Bounced),
                    None => continue,
                }
            } else {
                match parse_rcpt(rcpt) {
                    Some((seq, n)) => (seq, n, kind),
                    None => continue,
                }
            };
            let Some(seq) = self.is_ours(seq) else {
                continue;
            };
            let mut a = Attempt {
                code,
                remote,
                rcpt: n,
                ..Attempt::new(seq, at, kind)
            };
            if let Some(label) = label {
                a.label = label;
            }
            if let Some(node) = node {
                a.node = node;
            }
            self.ledger.attempts.push(a);
        }
    }
}

fn is_bounce(addr: &str) -> bool {
    addr.rsplit_once('@')
        .is_some_and(|(_, d)| d.eq_ignore_ascii_case(BOUNCE_DOMAIN))
}

#[cfg(test)]
mod tests {
    use fake_remotes::Stage;

    use super::super::attempts::Kind;
    use super::super::{Collector, Event, Ledger};
    use super::*;

    fn remote(kind: RemoteEventKind, at_us: u64) -> Event {
        Event::Remote(RemoteEvent {
            at_us,
            remote: "grey".into(),
            kind,
        })
    }

    /// Each kind of observation becomes its entry, for messages of this run only.
    #[test]
    fn observations_become_entries_of_our_messages_only() {
        let mut c = Collector::new(Ledger {
            run_id: "r1".into(),
            t0_us: 1_000_000,
            ..Default::default()
        });
        for seq in 0..2 {
            c.apply(Event::Submitted {
                seq,
                domain: 0,
                rcpts: 2,
                intended_us: 1_000_000,
            });
        }
        c.apply(Event::NotAccepted {
            seq: 1,
            at_us: 1_004_000,
            phase: Phase::Rcpt,
            code: Some(452),
        });
        let rcpts = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let events = [
            RemoteEventKind::Rcpt {
                rcpt: "mq.0.1@grey.test".into(),
                code: 451,
            },
            RemoteEventKind::FaultFired {
                fault: "greylist".into(),
                stage: Stage::Rcpt,
                rcpts: rcpts(&["mq.0.1@grey.test"]),
            },
            RemoteEventKind::Rejected {
                stage: Stage::Dot,
                code: 554,
                rcpts: rcpts(&["mq.0.0@grey.test"]),
                tracking: Some("r1.0".into()),
            },
            RemoteEventKind::Message {
                mail_from: "mq.0@bounces.test".into(),
                rcpts: rcpts(&["mq.0.0@grey.test", "mq.0.1@grey.test"]),
                tracking: Some("r1.0".into()),
                received_by: vec!["n2".into()],
                size: 10,
            },
            RemoteEventKind::Message {
                mail_from: String::new(),
                rcpts: rcpts(&["mq.0@bounces.test"]),
                tracking: None,
                received_by: vec![],
                size: 10,
            },
            // Not ours: another run's copy, a sequence number never submitted.
            RemoteEventKind::Message {
                mail_from: String::new(),
                rcpts: rcpts(&["mq.0.0@grey.test"]),
                tracking: Some("other.0".into()),
                received_by: vec![],
                size: 10,
            },
            RemoteEventKind::Rcpt {
                rcpt: "mq.7.0@grey.test".into(),
                code: 250,
            },
        ];
        for (i, kind) in events.into_iter().enumerate() {
            c.apply(remote(kind, 1_010_000 + i as u64 * 1000));
        }
        let log = &c.ledger.attempts;
        let got: Vec<(u32, u32, Kind, u16, u8, &str, &str)> = log
            .entries
            .iter()
            .map(|a| {
                let node = if a.node == crate::collector::ledger::NO_NODE {
                    "-"
                } else {
                    c.ledger.node_name(a.node)
                };
                (
                    a.seq,
                    a.at_ms,
                    a.kind,
                    a.code,
                    a.rcpt,
                    log.label(a.label),
                    node,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (1, 4, Kind::NotAccepted, 452, NONE_U8, "rcpt", "-"),
                (0, 10, Kind::Rcpt, 451, 1, "", "-"),
                (0, 11, Kind::FaultFired, 0, 1, "greylist at rcpt", "-"),
                (0, 12, Kind::Rejected, 554, 0, "dot", "-"),
                (0, 13, Kind::Arrived, 250, 0, "", "n2"),
                (0, 13, Kind::Arrived, 250, 1, "", "n2"),
                (0, 14, Kind::Bounced, 250, NONE_U8, "", "-"),
            ]
        );
        assert!(log.entries[1..]
            .iter()
            .all(|a| log.remote_name(a.remote) == "grey"));
    }
}
