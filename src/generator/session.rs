//! One SMTP session slot: keeps a connection open across up to
//! `messages_per_connection` messages, reconnects after a 421 or a failure (to the next
//! endpoint of the rotation), reports each message's fate to the collector and each
//! phase to its own [`Recorder`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use fake_remotes::event::now_us;
use tokio::sync::mpsc::{Sender, UnboundedSender};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::histograms::{Batch, Recorder};
use super::message::{self, Message, Sizes};
use super::{mix, GeneratorConfig, Job, CLOSED_MODEL_CAP};
use crate::collector::Event;
use crate::scenario::Load;
use crate::smtp::transaction::{Chained, TxOutcome};
use crate::smtp::{Connection, FailureKind};

/// A session idle this long says QUIT rather than risk the server's idle timeout.
const IDLE_QUIT: Duration = Duration::from_secs(2);
/// Closed model: pause after a session failed to open, so a dead target is not
/// hammered in a tight loop (the open model is paced by its schedule).
const RECONNECT_PAUSE: Duration = Duration::from_millis(50);

/// What every session of a run shares (read-only, apart from the sequence counter).
pub(super) struct Shared {
    pub config: GeneratorConfig,
    pub load: Load,
    pub events: Sender<Event>,
    pub stop: CancellationToken,
    /// Closed model: the next message's sequence number.
    pub next_seq: AtomicU64,
    /// Endpoint indexes in the order new connections use them.
    pub rotation: Vec<u16>,
    pub batches: UnboundedSender<Batch>,
}

/// One session's connection and buffers.
struct Session<'a> {
    shared: &'a Shared,
    conn: Option<Connection>,
    sent_on_conn: u32,
    next_endpoint: usize,
    recorder: Recorder,
    message: Message,
    /// The chained message whose dot reply is outstanding.
    pending_seq: Option<u64>,
}

impl<'a> Session<'a> {
    fn new(id: usize, shared: &'a Shared) -> Self {
        Session {
            shared,
            conn: None,
            sent_on_conn: 0,
            next_endpoint: id,
            recorder: Recorder::new(
                shared.batches.clone(),
                shared.config.t0,
                shared.load.hlog_interval,
            ),
            message: Message::default(),
            pending_seq: None,
        }
    }

    /// Sends one message, opening a connection first if needed. False if the session
    /// could not be opened (the message is reported not accepted).
    async fn send(&mut self, seq: u64, domain: u16, size: usize) -> bool {
        let (config, load) = (&self.shared.config, &self.shared.load);
        if self.conn.is_none() {
            let rotation = &self.shared.rotation;
            let index = rotation[self.next_endpoint % rotation.len()];
            self.next_endpoint += 1;
            let endpoint = &config.endpoints[index as usize];
            self.recorder.connecting(index);
            match Connection::open_observed(
                endpoint.addr,
                endpoint.host(),
                &config.client,
                &mut self.recorder,
            )
            .await
            {
                Ok(c) => {
                    self.sent_on_conn = 0;
                    self.conn = Some(c);
                }
                Err(failure) => {
                    let code = match &failure.kind {
                        FailureKind::Reply(r) => Some(r.code),
                        _ => None,
                    };
                    self.recorder.transaction(false);
                    let _ = self
                        .shared
                        .events
                        .send(Event::NotAccepted {
                            seq,
                            at_us: now_us(),
                            phase: failure.phase,
                            code,
                        })
                        .await;
                    return false;
                }
            }
        }
        let Some(c) = self.conn.as_mut() else {
            return false;
        };
        let domain_name = &config.domains[domain as usize];
        message::build_into(
            &mut self.message,
            &config.run_id,
            seq,
            domain_name,
            load.message.recipients,
            size,
        );
        let m = &self.message;
        if c.pipelining {
            // One write per message: this envelope goes out with the previous body.
            let (previous, this) = c
                .chain(&m.from, &m.rcpts, m.body(), &mut self.recorder)
                .await;
            if let (Some(outcome), Some(prev)) = (previous, self.pending_seq.take()) {
                self.report(prev, &outcome).await;
            }
            match this {
                Chained::Pending => self.pending_seq = Some(seq),
                Chained::Done(outcome) => self.report(seq, &outcome).await,
            }
        } else {
            let outcome = c
                .send_observed(&m.from, &m.rcpts, m.body(), &mut self.recorder)
                .await;
            self.report(seq, &outcome).await;
        }
        self.sent_on_conn += 1;
        let usable = self.conn.as_ref().is_some_and(|c| c.usable);
        if !usable || self.sent_on_conn >= load.messages_per_connection {
            self.quit().await;
        }
        true
    }

    /// Tells the collector (and the recorder) how message `seq` ended.
    async fn report(&mut self, seq: u64, outcome: &TxOutcome) {
        let at_us = now_us();
        let accepted = outcome.accepted();
        self.recorder.transaction(accepted);
        let event = if accepted {
            Event::Accepted {
                seq,
                at_us,
                node: self.recorder.node().clone(),
            }
        } else {
            let (phase, code) = match &outcome.result {
                Ok((phase, reply)) => (*phase, Some(reply.code)),
                Err(f) => (f.phase, None),
            };
            Event::NotAccepted {
                seq,
                at_us,
                phase,
                code,
            }
        };
        let _ = self.shared.events.send(event).await;
    }

    /// Sends the chained message's body and collects its outcome (before waiting for
    /// more work, or QUIT).
    async fn finish(&mut self) {
        let Some(c) = self.conn.as_mut() else {
            return;
        };
        if let Some(outcome) = c.finish(&mut self.recorder).await {
            if let Some(seq) = self.pending_seq.take() {
                self.report(seq, &outcome).await;
            }
        }
    }

    async fn quit(&mut self) {
        self.finish().await;
        if let Some(c) = self.conn.take() {
            c.quit_observed(&mut self.recorder).await;
        }
    }

    /// At the end: QUIT unless the run was aborted, and hand over the last samples.
    async fn end(mut self) {
        if !self.shared.stop.is_cancelled() {
            self.quit().await;
        } else {
            // Aborted: still learn the chained message's fate (bounded by the timeouts).
            self.finish().await;
        }
        self.recorder.flush();
    }
}

/// Open model: takes due messages from the scheduler's queue until it closes.
pub(super) async fn open_model(id: usize, jobs: async_channel::Receiver<Job>, shared: &Shared) {
    let mut s = Session::new(id, shared);
    let mut idle_since = Instant::now();
    loop {
        // Wake at the histogram interval boundary too, so an idle session's samples
        // reach the logs in time.
        let quit_at = idle_since + IDLE_QUIT;
        let wake = if s.conn.is_some() {
            quit_at.min(s.recorder.boundary())
        } else {
            s.recorder.boundary()
        };
        let job = tokio::select! {
            j = jobs.recv() => match j { Ok(job) => job, Err(_) => break },
            _ = tokio::time::sleep_until(wake) => {
                let now = Instant::now();
                s.recorder.tick(now);
                if s.conn.is_some() && now >= quit_at {
                    s.quit().await;
                }
                continue;
            }
            _ = shared.stop.cancelled() => break,
        };
        s.send(job.seq, job.domain, job.size).await;
        if jobs.is_empty() {
            // Nothing more to chain behind it: send the body now.
            s.finish().await;
        }
        idle_since = Instant::now();
        s.recorder.tick(idle_since);
    }
    s.end().await;
}

/// Closed model: sends back to back until `end` (or the cap, or `stop`).
pub(super) async fn closed_model(id: usize, end: Instant, shared: &Shared) {
    let mut s = Session::new(id, shared);
    let (config, load) = (&shared.config, &shared.load);
    let shares: Vec<f64> = load.mix.iter().map(|(_, s)| *s).collect();
    let session_seed = config.seed
        ^ (id as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ config.part.index.wrapping_mul(0xD1B5_4A32_D192_ED03);
    let mut mix = mix::Mix::new(&shares, session_seed);
    let mut sizes = Sizes::new(&load.message.size, session_seed);
    while !shared.stop.is_cancelled() && Instant::now() < end {
        // A shard's k-th message is `k * count + index` (`tracking::Part`).
        let seq = config
            .part
            .seq(shared.next_seq.fetch_add(1, Ordering::Relaxed));
        if seq
            >= config
                .cap
                .map_or(CLOSED_MODEL_CAP, |c| c.messages.min(CLOSED_MODEL_CAP))
        {
            break;
        }
        if let Some(cap) = config.cap {
            // Message `seq` starts no earlier than seq / rate after t0: at most `rate` a second.
            let earliest = config.t0 + Duration::from_secs_f64(seq as f64 / cap.rate);
            tokio::select! {
                _ = tokio::time::sleep_until(earliest) => {}
                _ = shared.stop.cancelled() => break,
            }
            if Instant::now() >= end {
                break;
            }
        }
        let domain = mix.pick();
        let _ = shared
            .events
            .send(Event::Submitted {
                seq,
                domain,
                rcpts: load.message.recipients,
                intended_us: now_us(),
            })
            .await;
        let opened = tokio::select! {
            ok = s.send(seq, domain, sizes.pick()) => ok,
            _ = shared.stop.cancelled() => break,
        };
        s.recorder.tick(Instant::now());
        if !opened {
            tokio::select! {
                _ = tokio::time::sleep(RECONNECT_PAUSE) => {}
                _ = shared.stop.cancelled() => break,
            }
        }
    }
    s.end().await;
}
