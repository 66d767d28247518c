//! One mail transaction on an open [`Connection`]: MAIL, RCPT…, DATA, the body, the
//! final dot. Pipelined (RFC 2920: MAIL, every RCPT and DATA in one write) when the
//! server offers PIPELINING, else one command at a time. A transaction that ends early
//! is reset with RSET so the connection can carry the next message. [`Connection::chain`]
//! also pipelines across messages: one message's body and dot go out in the same write
//! as the next message's MAIL, RCPTs and DATA.

use tokio::time::Instant;

use super::body::Body;
use super::client::{Connection, Failure, Phase};
use super::observe::Observer;
use super::reply::ReceivedReply;

/// How one transaction ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxOutcome {
    /// The reply to each RCPT, in order (fewer if the transaction ended earlier).
    pub rcpt_replies: Vec<ReceivedReply>,
    /// The reply that decided the transaction: the dot's reply when it got that far,
    /// else the negative MAIL/RCPT/DATA reply; or a failure without reply.
    pub result: Result<(Phase, ReceivedReply), Failure>,
}

impl TxOutcome {
    /// The message was taken (2xx to the final dot).
    pub fn accepted(&self) -> bool {
        matches!(&self.result, Ok((Phase::Dot, r)) if r.is_positive())
    }
}

impl Connection {
    /// Sends one message. `body` is the message as it should arrive (it is dot-stuffed here).
    pub async fn send(&mut self, from: &str, rcpts: &[String], body: &[u8]) -> TxOutcome {
        self.send_observed(from, rcpts, Body::bytes(body), &mut ())
            .await
    }

    /// [`Connection::send`], reporting each phase to `obs`.
    pub async fn send_observed(
        &mut self,
        from: &str,
        rcpts: &[String],
        body: Body<'_>,
        obs: &mut dyn Observer,
    ) -> TxOutcome {
        let outcome = if self.pipelining {
            self.send_pipelined(from, rcpts, body, obs).await
        } else {
            self.send_lockstep(from, rcpts, body, obs).await
        };
        self.settle(outcome, obs).await
    }

    async fn send_lockstep(
        &mut self,
        from: &str,
        rcpts: &[String],
        body: Body<'_>,
        obs: &mut dyn Observer,
    ) -> TxOutcome {
        let mut rcpt_replies = Vec::with_capacity(rcpts.len());
        let result = async {
            self.queue_command(format_args!("MAIL FROM:<{from}>"));
            let mail = self.exchange(Phase::Mail, obs).await?;
            if !mail.is_positive() {
                return Ok((Phase::Mail, mail));
            }
            for rcpt in rcpts {
                self.queue_command(format_args!("RCPT TO:<{rcpt}>"));
                let r = self.exchange(Phase::Rcpt, obs).await?;
                rcpt_replies.push(r);
            }
            if !rcpt_replies.iter().any(ReceivedReply::is_positive) {
                let last = rcpt_replies.last().cloned();
                return Ok((Phase::Rcpt, last.unwrap_or_else(no_rcpt_reply)));
            }
            self.queue_command(format_args!("DATA"));
            let data = self.exchange(Phase::Data, obs).await?;
            if data.code != 354 {
                return Ok((Phase::Data, data));
            }
            self.send_body(body, obs).await
        }
        .await;
        TxOutcome {
            rcpt_replies,
            result,
        }
    }

    async fn send_pipelined(
        &mut self,
        from: &str,
        rcpts: &[String],
        body: Body<'_>,
        obs: &mut dyn Observer,
    ) -> TxOutcome {
        let mut rcpt_replies = Vec::with_capacity(rcpts.len());
        let result = async {
            self.queue_command(format_args!("MAIL FROM:<{from}>"));
            for rcpt in rcpts {
                self.queue_command(format_args!("RCPT TO:<{rcpt}>"));
            }
            self.queue_command(format_args!("DATA"));
            let mut since = Instant::now();
            self.flush(Phase::Mail).await?;
            // Each pipelined reply is timed from the one before it, so the phases add up
            // to the batch's round trip.
            let mut timed = |obs: &mut dyn Observer, phase| {
                let now = Instant::now();
                obs.timed(phase, since, now);
                since = now;
            };
            let mail = self.read(Phase::Mail, obs).await?;
            timed(obs, Phase::Mail);
            for _ in rcpts {
                rcpt_replies.push(self.read(Phase::Rcpt, obs).await?);
                timed(obs, Phase::Rcpt);
            }
            let data = self.read(Phase::Data, obs).await?;
            timed(obs, Phase::Data);
            let any_rcpt = rcpt_replies.iter().any(ReceivedReply::is_positive);
            if data.code == 354 && (!mail.is_positive() || !any_rcpt) {
                // A server that said 354 with nobody to deliver to: end the empty message.
                self.wbuf.extend_from_slice(b".\r\n");
                self.flush(Phase::Dot).await?;
                self.read(Phase::Dot, &mut ()).await?;
            }
            if !mail.is_positive() {
                return Ok((Phase::Mail, mail));
            }
            if !any_rcpt {
                let last = rcpt_replies.last().cloned();
                return Ok((Phase::Rcpt, last.unwrap_or_else(no_rcpt_reply)));
            }
            if data.code != 354 {
                return Ok((Phase::Data, data));
            }
            self.send_body(body, obs).await
        }
        .await;
        TxOutcome {
            rcpt_replies,
            result,
        }
    }

    async fn send_body(
        &mut self,
        body: Body<'_>,
        obs: &mut dyn Observer,
    ) -> Result<(Phase, ReceivedReply), Failure> {
        self.queue_body(body);
        let start = Instant::now();
        self.flush(Phase::Dot).await?;
        let reply = self.read(Phase::Dot, obs).await?;
        obs.timed(Phase::Dot, start, Instant::now());
        Ok((Phase::Dot, reply))
    }
}

fn no_rcpt_reply() -> ReceivedReply {
    ReceivedReply {
        code: 554,
        text: "no recipients".into(),
        esc: [5, 5, 1],
    }
}

/// A chained message waiting for its dot reply: what it got so far.
pub(super) struct PendingDot {
    rcpt_replies: Vec<ReceivedReply>,
}

/// What [`Connection::chain`] did with the message it was given.
#[derive(Debug)]
pub enum Chained {
    /// Its body and dot are queued behind the next write; [`Connection::chain`] (for the
    /// next message) or [`Connection::finish`] reports its outcome.
    Pending,
    /// It ended before the body (a refused MAIL or RCPT, a DATA error, a failure).
    Done(TxOutcome),
}

impl Connection {
    /// True while a chained message's dot reply is outstanding.
    pub fn has_pending(&self) -> bool {
        self.pending.is_some()
    }

    /// Pipelines across messages (RFC 2920 §3.1: message content may open a group):
    /// writes the previous chained message's body and dot together with this message's
    /// MAIL, RCPTs and DATA — one write and one read per message instead of two. Returns
    /// the previous message's outcome (if one was pending) and what happened to this one.
    /// Only for servers that offer PIPELINING; call [`Connection::finish`] before waiting
    /// for more work or saying QUIT.
    pub async fn chain(
        &mut self,
        from: &str,
        rcpts: &[String],
        body: Body<'_>,
        obs: &mut dyn Observer,
    ) -> (Option<TxOutcome>, Chained) {
        self.queue_command(format_args!("MAIL FROM:<{from}>"));
        for rcpt in rcpts {
            self.queue_command(format_args!("RCPT TO:<{rcpt}>"));
        }
        self.queue_command(format_args!("DATA"));
        let start = Instant::now();
        let flushed = self.flush(Phase::Mail).await;
        let previous = match self.pending.take() {
            None => None,
            Some(p) => {
                let dot = match &flushed {
                    Err(f) => Err(Failure {
                        phase: Phase::Dot,
                        kind: f.kind.clone(),
                    }),
                    Ok(()) => self.read(Phase::Dot, obs).await,
                };
                if dot.is_ok() {
                    obs.timed(Phase::Dot, start, Instant::now());
                }
                let outcome = TxOutcome {
                    rcpt_replies: p.rcpt_replies,
                    result: dot.map(|r| (Phase::Dot, r)),
                };
                Some(self.settle(outcome, obs).await)
            }
        };
        if let Err(f) = flushed {
            return (previous, Chained::Done(self.settle(failed(f), obs).await));
        }
        if previous.as_ref().is_some_and(|p| p.result.is_err()) {
            let f = Failure {
                phase: Phase::Mail,
                kind: super::client::FailureKind::Closed,
            };
            return (previous, Chained::Done(failed(f)));
        }
        let mut rcpt_replies = Vec::with_capacity(rcpts.len());
        let envelope = async {
            let mut since = Instant::now();
            let mut timed = |obs: &mut dyn Observer, phase| {
                let now = Instant::now();
                obs.timed(phase, since, now);
                since = now;
            };
            let mail = self.read(Phase::Mail, obs).await?;
            timed(obs, Phase::Mail);
            for _ in rcpts {
                rcpt_replies.push(self.read(Phase::Rcpt, obs).await?);
                timed(obs, Phase::Rcpt);
            }
            let data = self.read(Phase::Data, obs).await?;
            timed(obs, Phase::Data);
            Ok::<_, Failure>((mail, data))
        }
        .await;
        let (mail, data) = match envelope {
            Ok(r) => r,
            Err(f) => {
                let outcome = TxOutcome {
                    rcpt_replies,
                    result: Err(f),
                };
                return (previous, Chained::Done(self.settle(outcome, obs).await));
            }
        };
        let any_rcpt = rcpt_replies.iter().any(ReceivedReply::is_positive);
        if data.code == 354 && mail.is_positive() && any_rcpt {
            self.queue_body(body);
            self.pending = Some(PendingDot { rcpt_replies });
            return (previous, Chained::Pending);
        }
        // Ended before the body: as in an unchained pipelined transaction.
        let result = async {
            if data.code == 354 {
                self.wbuf.extend_from_slice(b".\r\n");
                self.flush(Phase::Dot).await?;
                self.read(Phase::Dot, &mut ()).await?;
            }
            Ok(if !mail.is_positive() {
                (Phase::Mail, mail)
            } else if !any_rcpt {
                let last = rcpt_replies.last().cloned();
                (Phase::Rcpt, last.unwrap_or_else(no_rcpt_reply))
            } else {
                (Phase::Data, data)
            })
        }
        .await;
        let outcome = TxOutcome {
            rcpt_replies,
            result,
        };
        (previous, Chained::Done(self.settle(outcome, obs).await))
    }

    /// Writes the pending chained message's body and reads its dot reply.
    pub async fn finish(&mut self, obs: &mut dyn Observer) -> Option<TxOutcome> {
        let p = self.pending.take()?;
        let start = Instant::now();
        let result = async {
            self.flush(Phase::Dot).await?;
            self.read(Phase::Dot, obs).await
        }
        .await;
        if result.is_ok() {
            obs.timed(Phase::Dot, start, Instant::now());
        }
        let outcome = TxOutcome {
            rcpt_replies: p.rcpt_replies,
            result: result.map(|r| (Phase::Dot, r)),
        };
        Some(self.settle(outcome, obs).await)
    }

    /// After a transaction: mark the session unusable after a failure or a 421, reset a
    /// transaction that ended early. Returns the outcome.
    async fn settle(&mut self, outcome: TxOutcome, obs: &mut dyn Observer) -> TxOutcome {
        match &outcome.result {
            Err(f) => {
                obs.failed(f.phase, &f.kind);
                self.usable = false;
            }
            Ok((_, r)) if r.code == 421 => self.usable = false,
            Ok((Phase::Dot, _)) => {}
            Ok(_) => {
                self.queue_command(format_args!("RSET"));
                if self.exchange(Phase::Mail, &mut ()).await.is_err() {
                    self.usable = false;
                }
            }
        }
        outcome
    }
}

fn failed(f: Failure) -> TxOutcome {
    TxOutcome {
        rcpt_replies: Vec::new(),
        result: Err(f),
    }
}
