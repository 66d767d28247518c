//! The generator: submits the load to the target and measures every phase.
//!
//! Open model (the default): a scheduler emits each message at its intended time (from
//! the load shape) into a bounded queue; a pool of `sessions` SMTP sessions takes them.
//! When every session is busy and the queue is full, the message is not sent and counted
//! as shortfall — never silently dropped. Closed model: `sessions` sessions each send
//! back to back for the steps' total duration (like `smtp-source`).
//!
//! Sessions send `messages_per_connection` per connection, spread over the target's
//! endpoints round robin (by weight), and record each phase's latency and reply into
//! their own [`histograms::Recorder`]; the stats task merges them (per phase, per node,
//! per endpoint, per interval for the `*.hlog` files).
//!
//! A shard (`config.part`, shard I of N) walks the same schedule as a single process and
//! sends every N-th message of it (slots `s % N == I`), drawing the mix and size of
//! every slot so its messages are the ones a single run would send at those times; its
//! k-th message is number `k * N + I`. In the closed model it numbers its messages the
//! same way (the run gives it its share of the sessions).

pub mod histograms;
pub mod hlog;
pub mod message;
pub mod mix;
mod session;
pub mod shape;

use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use tokio::sync::mpsc::{self, Sender};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::collector::Event;
use crate::scenario::{Load, LoadModel};
use crate::smtp::ClientOptions;
use crate::tracking::Part;
// The endpoint type is the target's; named here too for the generator's callers.
pub use crate::cluster::TargetEndpoint;
// The measurements are neutral (the report renders them); named here too.
pub use crate::measure::LoadMeasurements as GeneratorReport;

/// Host name the generator says in EHLO.
pub const HELO_NAME: &str = "generator.mailquake.test";
/// The closed model stops after this many messages (the ledger is sized for it).
pub const CLOSED_MODEL_CAP: u64 = 10_000_000;

/// What the generator needs besides the load shape.
#[derive(Debug)]
pub struct GeneratorConfig {
    pub run_id: String,
    pub endpoints: Vec<TargetEndpoint>,
    /// Domain names in mix order (index = domain index in events).
    pub domains: Vec<String>,
    pub seed: u64,
    /// Load start, as an instant and as Unix microseconds.
    pub t0: Instant,
    pub t0_us: u64,
    pub client: ClientOptions,
    /// Where to write the `*.hlog` files; none = no logs.
    pub hlog_dir: Option<PathBuf>,
    /// Closed model against a target that is not loopback: paced and stopped at the
    /// safety caps (its rate is not planned, so validation cannot hold it to them).
    pub cap: Option<crate::scenario::safety::Cap>,
    /// Which messages this process sends: all of them, or a shard's (`--shard I/N`).
    pub part: Part,
    /// Where the live view asks for the per-phase latency so far (`run --live`).
    pub phase_looks: Option<mpsc::Receiver<histograms::PhaseLook>>,
}

struct Job {
    seq: u64,
    domain: u16,
    size: usize,
}

/// [`run`] on a thread of its own with a single-threaded runtime, so the rest of the
/// harness (collector, embedded cluster, remotes) does not share its cores' scheduler.
/// One thread keeps every session's wake-up on the thread that polls its socket: on a
/// 2-core box this doubled the messages per second against the multi-threaded runtime
/// (BENCHMARKS.md). `Err` if the thread or its runtime could not start.
pub async fn run_on_own_thread(
    load: Load,
    config: GeneratorConfig,
    events: Sender<Event>,
    stop: CancellationToken,
) -> Result<GeneratorReport, String> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("mailquake-generator".into())
        .spawn(move || {
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => {
                    let _ = tx.send(Ok(rt.block_on(run(load, config, events, stop))));
                }
                Err(e) => {
                    let _ = tx.send(Err(format!("cannot start the generator's runtime: {e}")));
                }
            }
        })
        .map_err(|e| format!("cannot start the generator's thread: {e}"))?;
    rx.await
        .map_err(|_| "the generator's thread stopped early".to_string())?
}

/// Runs the load to its end (or until `stop`), waits for the sessions to finish what
/// they took, and returns what was measured.
pub async fn run(
    load: Load,
    mut config: GeneratorConfig,
    events: Sender<Event>,
    stop: CancellationToken,
) -> GeneratorReport {
    let sessions = load.sessions.max(1);
    // Unbounded, but bounded by construction: a recorder flushes from a synchronous
    // callback (it cannot wait), and the stats task runs on this same one thread, so
    // between two of its turns each session runs at most once and sends a batch or two
    // (at most 1,024 samples of 8 bytes each): a few hundred KiB for 50 sessions. The soak
    // benchmark (bench/soak.sh, BENCHMARKS.md) measures the whole process flat.
    let (batch_tx, batch_rx) = mpsc::unbounded_channel();
    let hlog = config.hlog_dir.as_ref().map(|dir| {
        let start = std::time::UNIX_EPOCH + std::time::Duration::from_micros(config.t0_us);
        hlog::HlogFiles::new(dir, start, load.hlog_interval)
            .with_endpoints(config.endpoints.iter().map(|e| e.name.clone()).collect())
    });
    let looks = config.phase_looks.take().map(|asks| histograms::Looks {
        asks,
        endpoints: config.endpoints.iter().map(|e| e.name.clone()).collect(),
    });
    let stats = tokio::spawn(histograms::aggregate(
        batch_rx,
        config.t0,
        load.hlog_interval,
        hlog,
        looks,
    ));
    let shared = Arc::new(session::Shared {
        rotation: rotation(&config.endpoints),
        config,
        load: load.clone(),
        events: events.clone(),
        stop: stop.clone(),
        next_seq: AtomicU64::new(0),
        batches: batch_tx,
    });
    let mut report = GeneratorReport {
        model: load.model,
        sessions,
        endpoints: shared
            .config
            .endpoints
            .iter()
            .map(|e| e.name.clone())
            .collect(),
        ..Default::default()
    };
    let mut workers = tokio::task::JoinSet::new();
    match load.model {
        LoadModel::Open => {
            let (tx, rx) = async_channel::bounded::<Job>(sessions);
            for id in 0..sessions {
                let (rx, shared) = (rx.clone(), shared.clone());
                workers.spawn(async move { session::open_model(id, rx, &shared).await });
            }
            drop(rx);
            let (planned, shortfall) = schedule(&shared, &tx).await;
            report.planned = planned;
            report.shortfall = shortfall;
        }
        LoadModel::Closed => {
            let end = shared.config.t0 + load.duration();
            for id in 0..sessions {
                let shared = shared.clone();
                workers.spawn(async move { session::closed_model(id, end, &shared).await });
            }
        }
    }
    while workers.join_next().await.is_some() {}
    // The last recorders went with their sessions; this is the last sender.
    drop(shared);
    report.stats = stats.await.unwrap_or_default();
    report
}

/// Open model: emits each message at its intended time. Returns (planned, shortfall).
async fn schedule(shared: &session::Shared, tx: &async_channel::Sender<Job>) -> (u64, u64) {
    let (load, config, events) = (&shared.load, &shared.config, &shared.events);
    let shares: Vec<f64> = load.mix.iter().map(|(_, s)| *s).collect();
    let mut mix = mix::Mix::new(&shares, config.seed);
    let mut sizes = message::Sizes::new(&load.message.size, config.seed);
    let part = config.part;
    let mut k = 0u64;
    let mut shortfall = 0u64;
    let mut unreported = 0u64;
    let total = shape::Schedule::total(&load.steps);
    // A shard plans its own slots: ⌈(total − I) / N⌉.
    let planned = total.saturating_sub(part.index).div_ceil(part.count.max(1));
    for (slot, offset) in shape::Schedule::new(&load.steps).enumerate() {
        if !part.owns(slot as u64) {
            // Another shard's message: drawn all the same, so every shard's mix and
            // sizes follow the single run's.
            mix.pick();
            sizes.pick();
            continue;
        }
        let seq = part.seq(k);
        let due = config.t0 + offset;
        if due > Instant::now() {
            if unreported > 0 {
                let _ = events.send(Event::Shortfall { count: unreported }).await;
                unreported = 0;
            }
            tokio::select! {
                _ = tokio::time::sleep_until(due) => {}
                _ = shared.stop.cancelled() => return (planned, shortfall),
            }
        }
        let domain = mix.pick();
        let size = sizes.pick();
        // After a late wake-up the scheduler catches up in a burst: let the sessions
        // take what is queued before calling a full queue back-pressure.
        if tx.is_full() {
            tokio::task::yield_now().await;
        }
        // One producer: if there is room now, the send below cannot fail for lack of it.
        if tx.is_full() {
            shortfall += 1;
            unreported += 1;
            continue;
        }
        let _ = events
            .send(Event::Submitted {
                seq,
                domain,
                rcpts: load.message.recipients,
                intended_us: config.t0_us + offset.as_micros() as u64,
            })
            .await;
        if tx.try_send(Job { seq, domain, size }).is_err() {
            break;
        }
        k += 1;
    }
    if unreported > 0 {
        let _ = events.send(Event::Shortfall { count: unreported }).await;
    }
    (planned, shortfall)
}

/// The endpoint order new connections follow: smooth weighted round robin, so weights
/// 2:1 give `a b a`, not `a a b`. Sessions start at different places in it.
fn rotation(endpoints: &[TargetEndpoint]) -> Vec<u16> {
    let total: i64 = endpoints.iter().map(|e| i64::from(e.weight.max(1))).sum();
    let mut current = vec![0i64; endpoints.len()];
    let mut order = Vec::with_capacity(total as usize);
    for _ in 0..total {
        for (c, e) in current.iter_mut().zip(endpoints) {
            *c += i64::from(e.weight.max(1));
        }
        let Some((best, _)) = current
            .iter()
            .enumerate()
            .max_by_key(|(i, c)| (**c, -(*i as i64)))
        else {
            break;
        };
        current[best] -= total;
        order.push(best as u16);
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(weight: u32) -> TargetEndpoint {
        TargetEndpoint {
            addr: "127.0.0.1:1".parse().unwrap(),
            name: "127.0.0.1:1".into(),
            weight,
        }
    }

    #[test]
    fn rotation_follows_weights_smoothly() {
        assert_eq!(rotation(&[ep(1), ep(1), ep(1)]), [0, 1, 2]);
        assert_eq!(rotation(&[ep(2), ep(1)]), [0, 1, 0]);
        let r = rotation(&[ep(5), ep(1), ep(2)]);
        assert_eq!(r.len(), 8);
        assert_eq!(r.iter().filter(|i| **i == 0).count(), 5);
        assert_eq!(r.iter().filter(|i| **i == 2).count(), 2);
        assert_eq!(ep(1).host(), "127.0.0.1");
    }
}
