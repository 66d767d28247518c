//! The generator: an open-model flood. A scheduler emits each message at its intended
//! time (from the load shape) into a bounded queue; a pool of at most `sessions` SMTP
//! sessions takes them, sending `messages_per_connection` per connection, spread round
//! robin over the target's endpoints. When every session is busy and the queue is full,
//! the message is not sent and counted as shortfall — never silently dropped.

pub mod message;
pub mod mix;
pub mod shape;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use fake_remotes::event::now_us;
use tokio::sync::mpsc::UnboundedSender;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::collector::Event;
use crate::scenario::Load;
use crate::smtp::{Connection, Timeouts};

/// Host name the generator says in EHLO.
pub const HELO_NAME: &str = "generator.mailquake.test";
/// A session idle this long says QUIT rather than risk the server's idle timeout.
const IDLE_QUIT: Duration = Duration::from_secs(2);

/// What the generator needs besides the load shape.
#[derive(Clone, Debug)]
pub struct GeneratorConfig {
    pub run_id: String,
    pub endpoints: Vec<SocketAddr>,
    /// Domain names in mix order (index = domain index in events).
    pub domains: Vec<String>,
    pub seed: u64,
    /// Load start, as an instant and as Unix microseconds.
    pub t0: Instant,
    pub t0_us: u64,
    pub timeouts: Timeouts,
}

struct Job {
    seq: u64,
    domain: u16,
}

/// Runs the load to the end of its shape (or until `stop`), then waits for the sessions
/// to finish what they took.
pub async fn run(
    load: Load,
    config: GeneratorConfig,
    events: UnboundedSender<Event>,
    stop: CancellationToken,
) {
    let sessions = load.sessions.max(1);
    let (tx, rx) = async_channel::bounded::<Job>(sessions);
    let config = Arc::new(config);
    let load = Arc::new(load);
    let mut workers = tokio::task::JoinSet::new();
    for id in 0..sessions {
        let rx = rx.clone();
        let (config, load, events, stop) =
            (config.clone(), load.clone(), events.clone(), stop.clone());
        workers.spawn(async move { session(id, rx, &config, &load, &events, &stop).await });
    }
    drop(rx);
    schedule(&load, &config, &tx, &events, &stop).await;
    drop(tx);
    while workers.join_next().await.is_some() {}
}

async fn schedule(
    load: &Load,
    config: &GeneratorConfig,
    tx: &async_channel::Sender<Job>,
    events: &UnboundedSender<Event>,
    stop: &CancellationToken,
) {
    let shares: Vec<f64> = load.mix.iter().map(|(_, s)| *s).collect();
    let mut mix = mix::Mix::new(&shares, config.seed);
    let mut seq = 0u64;
    let mut shortfall = 0u64;
    for offset in shape::Schedule::new(&load.steps) {
        let due = config.t0 + offset;
        if due > Instant::now() {
            if shortfall > 0 {
                let _ = events.send(Event::Shortfall { count: shortfall });
                shortfall = 0;
            }
            tokio::select! {
                _ = tokio::time::sleep_until(due) => {}
                _ = stop.cancelled() => return,
            }
        }
        let domain = mix.pick();
        // One producer: if there is room now, the send below cannot fail for lack of it.
        if tx.is_full() {
            shortfall += 1;
            continue;
        }
        let _ = events.send(Event::Submitted {
            seq,
            domain,
            rcpts: load.message.recipients,
            intended_us: config.t0_us + offset.as_micros() as u64,
        });
        if tx.try_send(Job { seq, domain }).is_err() {
            return;
        }
        seq += 1;
    }
    if shortfall > 0 {
        let _ = events.send(Event::Shortfall { count: shortfall });
    }
}

/// One SMTP session slot: keeps a connection open across up to `messages_per_connection` messages.
async fn session(
    id: usize,
    jobs: async_channel::Receiver<Job>,
    config: &GeneratorConfig,
    load: &Load,
    events: &UnboundedSender<Event>,
    stop: &CancellationToken,
) {
    let mut conn: Option<Connection> = None;
    let mut sent_on_conn = 0u32;
    let mut next_endpoint = id;
    loop {
        let job = if conn.is_some() {
            tokio::select! {
                j = tokio::time::timeout(IDLE_QUIT, jobs.recv()) => match j {
                    Ok(Ok(job)) => job,
                    Ok(Err(_)) => break,
                    Err(_) => {
                        if let Some(c) = conn.take() { c.quit().await; }
                        continue;
                    }
                },
                _ = stop.cancelled() => break,
            }
        } else {
            tokio::select! {
                j = jobs.recv() => match j { Ok(job) => job, Err(_) => break },
                _ = stop.cancelled() => break,
            }
        };
        let c = match conn.as_mut() {
            Some(c) => c,
            None => {
                let endpoint = config.endpoints[next_endpoint % config.endpoints.len()];
                next_endpoint += 1;
                match Connection::open(endpoint, HELO_NAME, config.timeouts).await {
                    Ok(c) => {
                        sent_on_conn = 0;
                        conn.insert(c)
                    }
                    Err(failure) => {
                        let code = match &failure.kind {
                            crate::smtp::FailureKind::Reply(r) => Some(r.code),
                            _ => None,
                        };
                        let _ = events.send(Event::NotAccepted {
                            seq: job.seq,
                            at_us: now_us(),
                            phase: failure.phase,
                            code,
                        });
                        continue;
                    }
                }
            }
        };
        let domain = &config.domains[job.domain as usize];
        let msg = message::build(
            &config.run_id,
            job.seq,
            domain,
            load.message.recipients,
            load.message.size,
        );
        let outcome = c.send(&msg.from, &msg.rcpts, &msg.body).await;
        let at_us = now_us();
        if outcome.accepted() {
            let _ = events.send(Event::Accepted {
                seq: job.seq,
                at_us,
                node: Arc::from(c.server_name()),
            });
        } else {
            let (phase, code) = match &outcome.result {
                Ok((phase, reply)) => (*phase, Some(reply.code)),
                Err(f) => (f.phase, None),
            };
            let _ = events.send(Event::NotAccepted {
                seq: job.seq,
                at_us,
                phase,
                code,
            });
        }
        sent_on_conn += 1;
        if !c.usable || sent_on_conn >= load.messages_per_connection {
            if let Some(c) = conn.take() {
                c.quit().await;
            }
        }
    }
    if let Some(c) = conn.take() {
        if !stop.is_cancelled() {
            c.quit().await;
        }
    }
}
