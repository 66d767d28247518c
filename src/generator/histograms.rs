//! Per-phase latency histograms without a shared lock on the hot path.
//!
//! Each session owns a [`Recorder`]: the client reports to it (it is the session's
//! [`Observer`]) and it appends 8-byte samples to its own buffer. The buffer goes to the
//! stats task as a [`Batch`] when it is full, when the session moves to another node or
//! endpoint, and at each histogram-log interval boundary. The stats task ([`aggregate`])
//! is the only owner of the HdrHistograms: per phase overall, per phase and node (the
//! banner host name) and endpoint, and per interval for the `*.hlog` files.
//!
//! Why samples rather than per-session histograms: a 3-significant-digit histogram is
//! 16–64 KiB, so ten phases per session would cost hundreds of megabytes at 10,000
//! sessions; a batch costs 8 KiB and recording stays a push onto a `Vec`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use super::hlog::HlogFiles;
// The measurement types are neutral (the report renders them); named here too.
pub use crate::measure::{
    IntervalSummary, PhaseHistograms, PhaseLook, PhaseStats, SlotStats, NO_BANNER,
};
use crate::smtp::observe::no_reply;
use crate::smtp::{FailureKind, Observer, Phase};

/// Samples per batch before it is sent.
const BATCH: usize = 1024;
/// How long after an interval's end the stats task waits for late batches before it
/// writes the interval out (sessions flush at the boundary when they next wake).
const GRACE: Duration = Duration::from_secs(2);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// `value` = microseconds.
    Timing,
    /// `value` = reply code (or a [`no_reply`] pseudo code).
    Reply,
    /// A transaction ended; `value` = 1 if the message was accepted.
    Transaction,
}

#[derive(Clone, Copy, Debug)]
struct Sample {
    value: u32,
    phase: u8,
    kind: Kind,
}

/// One session's samples for one interval, endpoint and node.
#[derive(Debug)]
pub struct Batch {
    interval: u32,
    endpoint: u16,
    node: Arc<str>,
    samples: Vec<Sample>,
}

/// A session's recording buffer, and its [`Observer`].
pub struct Recorder {
    tx: mpsc::UnboundedSender<Batch>,
    t0: Instant,
    interval: Duration,
    /// Interval of the samples in `buf`, and when it ends.
    batch_interval: u32,
    boundary: Instant,
    endpoint: u16,
    node: Arc<str>,
    buf: Vec<Sample>,
}

impl Recorder {
    pub fn new(tx: mpsc::UnboundedSender<Batch>, t0: Instant, interval: Duration) -> Self {
        let mut r = Recorder {
            tx,
            t0,
            interval,
            batch_interval: 0,
            boundary: t0,
            endpoint: 0,
            node: Arc::from(NO_BANNER),
            buf: Vec::with_capacity(BATCH),
        };
        r.enter_interval(Instant::now());
        r
    }

    fn enter_interval(&mut self, at: Instant) {
        let since = at.saturating_duration_since(self.t0);
        let i = (since.as_nanos() / self.interval.as_nanos().max(1)).min(u32::MAX as u128);
        self.batch_interval = i as u32;
        self.boundary = self.t0 + self.interval * (self.batch_interval + 1);
    }

    /// A new connection to endpoint `index`: until the banner names the node, what is
    /// recorded belongs to "no banner" there.
    pub fn connecting(&mut self, endpoint: u16) {
        if endpoint != self.endpoint || &*self.node != NO_BANNER {
            self.flush();
            self.endpoint = endpoint;
            self.node = Arc::from(NO_BANNER);
        }
    }

    /// The current node's name (the banner host name; empty before any banner).
    pub fn node(&self) -> &Arc<str> {
        &self.node
    }

    /// A transaction (or a failed attempt to open a session for one) ended.
    pub fn transaction(&mut self, accepted: bool) {
        self.push(
            None,
            Sample {
                value: accepted as u32,
                phase: Phase::Dot as u8,
                kind: Kind::Transaction,
            },
        );
    }

    /// Sends the buffer if its interval is over (call when the session wakes).
    pub fn tick(&mut self, now: Instant) {
        if now >= self.boundary {
            self.flush();
            self.enter_interval(now);
        }
    }

    /// When the current interval ends (an idle session should wake then to flush).
    pub fn boundary(&self) -> Instant {
        self.boundary
    }

    fn push(&mut self, at: Option<Instant>, sample: Sample) {
        if let Some(at) = at {
            if at >= self.boundary {
                self.flush();
                self.enter_interval(at);
            }
        }
        if self.buf.len() >= BATCH {
            self.flush();
        }
        self.buf.push(sample);
    }

    pub fn flush(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        let samples = std::mem::replace(&mut self.buf, Vec::with_capacity(BATCH));
        let _ = self.tx.send(Batch {
            interval: self.batch_interval,
            endpoint: self.endpoint,
            node: self.node.clone(),
            samples,
        });
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.flush();
    }
}

impl Observer for Recorder {
    fn server(&mut self, name: &str) {
        if *self.node != *name {
            self.flush();
            self.node = Arc::from(name);
        }
    }

    fn timed(&mut self, phase: Phase, start: Instant, end: Instant) {
        let micros = end.saturating_duration_since(start).as_micros();
        self.push(
            Some(end),
            Sample {
                value: micros.clamp(1, u32::MAX as u128) as u32,
                phase: phase as u8,
                kind: Kind::Timing,
            },
        );
    }

    fn replied(&mut self, phase: Phase, code: u16) {
        self.push(
            None,
            Sample {
                value: code as u32,
                phase: phase as u8,
                kind: Kind::Reply,
            },
        );
    }

    fn failed(&mut self, phase: Phase, kind: &FailureKind) {
        self.replied(phase, no_reply::code(kind));
    }
}

/// One interval's histograms for the logs: all nodes, per node, and per endpoint (its
/// index in the target's endpoint list).
#[derive(Default)]
pub struct IntervalHistograms {
    pub all: PhaseHistograms,
    pub by_node: HashMap<Arc<str>, PhaseHistograms>,
    pub by_endpoint: BTreeMap<u16, PhaseHistograms>,
}

/// Where the live view asks for the figures so far, and the endpoints' names.
pub struct Looks {
    pub asks: mpsc::Receiver<PhaseLook>,
    pub endpoints: Vec<String>,
}

/// The stats task: records every batch until all recorders are gone, writing each
/// interval to the histogram logs once it is over (plus a grace period for late
/// batches; a batch later still counts in the oldest interval not yet written), and
/// answering `looks` (the live view's questions) between batches.
pub async fn aggregate(
    mut batches: mpsc::UnboundedReceiver<Batch>,
    t0: Instant,
    interval: Duration,
    mut hlog: Option<HlogFiles>,
    mut looks: Option<Looks>,
) -> PhaseStats {
    let mut stats = PhaseStats {
        interval,
        ..PhaseStats::default()
    };
    let mut open: BTreeMap<u32, IntervalHistograms> = BTreeMap::new();
    // Intervals below this are written.
    let mut written_below = 0u32;
    let mut tick = tokio::time::interval(interval.min(Duration::from_secs(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            // Batches first: a look answers with every sample that has arrived.
            biased;
            batch = batches.recv() => match batch {
                Some(b) => record(&mut stats, &mut open, written_below, b),
                None => break,
            },
            Some(reply) = ask(&mut looks) => {
                let endpoints = looks.as_ref().map_or(&[][..], |l| &l.endpoints[..]);
                let _ = reply.send(stats.figures(endpoints));
            }
            _ = tick.tick() => {
                let now = Instant::now();
                while let Some((&i, _)) = open.first_key_value() {
                    if t0 + interval * (i + 1) + GRACE > now {
                        break;
                    }
                    let (i, hists) = open.pop_first().expect("just seen");
                    written_below = i + 1;
                    write(&mut hlog, &mut stats, i, &hists);
                }
            }
        }
    }
    while let Some((i, hists)) = open.pop_first() {
        write(&mut hlog, &mut stats, i, &hists);
    }
    if let Some(files) = hlog {
        match files.finish() {
            Ok(paths) => stats.hlog_files = paths,
            Err(e) => {
                stats.hlog_error.get_or_insert(e);
            }
        }
    }
    stats
}

/// The next question, if anyone asks (never ready without `looks`, or once they are gone).
async fn ask(looks: &mut Option<Looks>) -> Option<PhaseLook> {
    match looks {
        Some(l) => match l.asks.recv().await {
            Some(reply) => Some(reply),
            None => {
                *looks = None;
                None
            }
        },
        None => std::future::pending().await,
    }
}

fn write(hlog: &mut Option<HlogFiles>, stats: &mut PhaseStats, i: u32, hists: &IntervalHistograms) {
    for phase in Phase::ALL {
        if let Some(h) = hists.all.get(phase) {
            stats.intervals.push(IntervalSummary {
                interval: i,
                phase,
                count: h.len(),
                p50_us: h.value_at_quantile(0.50),
                p99_us: h.value_at_quantile(0.99),
                max_us: h.max(),
            });
        }
    }
    if let Some(files) = hlog.as_mut() {
        if let Err(e) = files.write_interval(i, hists) {
            stats.hlog_error.get_or_insert(e);
            *hlog = None;
        }
    }
}

fn record(
    stats: &mut PhaseStats,
    open: &mut BTreeMap<u32, IntervalHistograms>,
    written_below: u32,
    batch: Batch,
) {
    let slot = stats
        .slots
        .entry((batch.endpoint, batch.node.clone()))
        .or_default();
    let interval = open.entry(batch.interval.max(written_below)).or_default();
    let mut by_node = interval.by_node.remove(&batch.node).unwrap_or_default();
    let mut by_endpoint = interval
        .by_endpoint
        .remove(&batch.endpoint)
        .unwrap_or_default();
    for s in &batch.samples {
        let phase = s.phase as usize;
        match s.kind {
            Kind::Timing => {
                slot.phases.record(phase, s.value as u64);
                interval.all.record(phase, s.value as u64);
                by_node.record(phase, s.value as u64);
                by_endpoint.record(phase, s.value as u64);
            }
            Kind::Reply => {
                if let Some(codes) = slot.replies.get_mut(phase) {
                    *codes.entry(s.value as u16).or_default() += 1;
                }
            }
            Kind::Transaction => {
                slot.submitted += 1;
                slot.accepted += s.value as u64;
            }
        }
    }
    if !by_node.is_empty() {
        interval.by_node.insert(batch.node, by_node);
    }
    if !by_endpoint.is_empty() {
        interval.by_endpoint.insert(batch.endpoint, by_endpoint);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The live view asks while sessions record: the answer is what has arrived so far,
    /// per endpoint (by name) and phase; after the recorders are gone, no one answers.
    #[tokio::test(start_paused = true)]
    async fn the_stats_task_answers_the_live_views_looks() {
        let t0 = Instant::now();
        let (tx, rx) = mpsc::unbounded_channel();
        let (ask_tx, asks) = mpsc::channel(1);
        let looks = Looks {
            asks,
            endpoints: vec!["a:25".into(), "b:25".into()],
        };
        let interval = Duration::from_secs(1);
        let stats = tokio::spawn(aggregate(rx, t0, interval, None, Some(looks)));
        let look = || async {
            let (reply, answer) = tokio::sync::oneshot::channel();
            ask_tx.send(reply).await.ok()?;
            answer.await.ok()
        };
        assert_eq!(look().await, Some(vec![]), "nothing recorded yet");
        let mut r = Recorder::new(tx, t0, interval);
        r.connecting(1);
        r.server("n1");
        for us in [100, 300] {
            let start = Instant::now();
            r.timed(Phase::Connect, start, start + Duration::from_micros(us));
            r.timed(Phase::Rcpt, start, start + Duration::from_micros(us * 10));
        }
        r.flush();
        let got = look().await.unwrap();
        let rows: Vec<(&str, &str, u64)> = got
            .iter()
            .map(|f| (f.phase, f.endpoint.as_str(), f.count))
            .collect();
        assert_eq!(rows, [("connect", "b:25", 2), ("rcpt", "b:25", 2)]);
        let rcpt = &got[1];
        // 1 ms and 3 ms.
        assert!((3_990.0..=4_010.0).contains(&rcpt.sum_us), "{rcpt:?}");
        assert!(rcpt.p50_us <= rcpt.p99_us && (2_990..=3_010).contains(&rcpt.p99_us));
        drop(r);
        stats.await.unwrap();
        assert_eq!(look().await, None, "the stats task is done");
    }

    #[tokio::test(start_paused = true)]
    async fn recorders_batch_by_interval_and_node_and_the_stats_task_merges() {
        let t0 = Instant::now();
        let (tx, rx) = mpsc::unbounded_channel();
        let stats = tokio::spawn(aggregate(rx, t0, Duration::from_secs(1), None, None));
        let mut a = Recorder::new(tx.clone(), t0, Duration::from_secs(1));
        let mut b = Recorder::new(tx, t0, Duration::from_secs(1));
        a.connecting(0);
        a.server("n1");
        b.connecting(1);
        b.server("n2");
        for i in 0..3000u64 {
            let start = Instant::now();
            let end = start + Duration::from_micros(100 + i % 100);
            a.timed(Phase::Mail, start, end);
            a.replied(Phase::Mail, 250);
            b.timed(Phase::Rcpt, start, end);
            b.replied(Phase::Rcpt, if i % 10 == 0 { 451 } else { 250 });
            b.transaction(i % 10 != 0);
        }
        // A slow reply far beyond the histogram's starting range is kept, not clamped.
        let start = Instant::now();
        a.timed(Phase::Dot, start, start + Duration::from_secs(30));
        tokio::time::advance(Duration::from_millis(1500)).await;
        a.tick(Instant::now());
        a.timed(Phase::Quit, Instant::now(), Instant::now());
        a.failed(Phase::Quit, &FailureKind::Timeout);
        drop((a, b));
        let stats = stats.await.unwrap();
        let all = stats.overall();
        assert_eq!(all.phases.get(Phase::Mail).unwrap().len(), 3000);
        assert_eq!(all.phases.get(Phase::Rcpt).unwrap().len(), 3000);
        assert_eq!(all.phases.get(Phase::Quit).unwrap().len(), 1);
        let dot_max = all.phases.get(Phase::Dot).unwrap().max();
        assert!((29_900_000..=30_100_000).contains(&dot_max), "{dot_max}");
        assert_eq!((all.submitted, all.accepted), (3000, 2700));
        assert_eq!(all.replies[Phase::Rcpt.index()].get(&451), Some(&300));
        assert_eq!(
            all.replies[Phase::Quit.index()].get(&no_reply::TIMEOUT),
            Some(&1)
        );
        let nodes = stats.by_node();
        assert_eq!(nodes.len(), 2);
        assert_eq!(&*nodes[0].0, "n1");
        assert!(nodes[0].1.phases.get(Phase::Rcpt).is_none());
        assert_eq!(nodes[1].1.phases.get(Phase::Rcpt).unwrap().len(), 3000);
        let eps = stats.by_endpoint();
        assert_eq!(eps.iter().map(|(e, _)| *e).collect::<Vec<_>>(), [0, 1]);
        // Per interval, by when each reply came: Mail and Rcpt in the first second, the
        // slow Dot (30 s later) and Quit in interval 30.
        let per_interval: Vec<(u32, Phase, u64)> = stats
            .intervals
            .iter()
            .map(|s| (s.interval, s.phase, s.count))
            .collect();
        assert_eq!(
            per_interval,
            [
                (0, Phase::Mail, 3000),
                (0, Phase::Rcpt, 3000),
                (30, Phase::Dot, 1),
                (30, Phase::Quit, 1)
            ]
        );
        let rcpt = &stats.intervals[1];
        assert!((100..=199).contains(&rcpt.p50_us), "{rcpt:?}");
        assert!(
            rcpt.p50_us <= rcpt.p99_us && rcpt.p99_us <= rcpt.max_us,
            "{rcpt:?}"
        );
    }
}
