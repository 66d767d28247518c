//! Which observations become entries of the attempt log ([`super::attempts`]): the
//! collector calls these beside updating the ledger, for messages of this run only.

use fake_remotes::{RemoteEvent, RemoteEventKind};

use super::attempts::{Attempt, Kind, NONE_U8};
use super::Collector;
use crate::generator::message::{parse_rcpt, parse_tracking, parse_verp};
use crate::scenario::BOUNCE_DOMAIN;
use crate::smtp::Phase;

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
                RemoteEventKind::Connected { .. } | RemoteEventKind::LeaseExpired { .. } => return,
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
