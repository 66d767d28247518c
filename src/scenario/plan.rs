//! The validated scenario: what every stage downstream takes. Built once from the raw
//! YAML by `validate.rs`; nothing here can be inconsistent (every fault names a known
//! remote or node, every checked domain is served, the mix sums to 100%).

use std::path::PathBuf;
use std::time::Duration;

use fake_remotes::Fault;

use crate::smtp::{Credentials, TlsMode};

/// The domain of VERP senders (bounces come back here), and the name of the implicit
/// remote that collects them when the scenario declares none: the `fake-remotes`
/// binary adds the same remote.
pub use fake_remotes::scenario::{BOUNCE_DOMAIN, BOUNCE_REMOTE};

#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    pub name: String,
    pub description: String,
    /// Every random decision derives from it.
    pub seed: u64,
    /// The file it came from (for messages).
    pub source: PathBuf,
    /// The `--set KEY=VALUE` arguments it was read with (the file is read again with
    /// them, and with the environment, when a run attaches to remotes served elsewhere).
    pub sets: Vec<String>,
    pub target: Target,
    /// Fake remotes; always includes one serving [`BOUNCE_DOMAIN`] — except for remotes
    /// served elsewhere before the run attaches to them (then it is empty).
    pub remotes: Vec<RemoteSpec>,
    /// `Some`: the remotes are served elsewhere (`remotes: { external: URL }`); the run
    /// attaches to them and validates again against what they serve.
    pub external_remotes: Option<ExternalRemotes>,
    pub load: Load,
    /// The timeline, sorted by `at`.
    pub faults: Vec<FaultWindow>,
    pub checks: Vec<Check>,
    /// The checks the run stops on once they can no longer pass (`abort_on_fail`).
    pub abort_on_fail: Vec<AbortOnFail>,
    /// Longest wait for mail in flight after the load (and the fault timeline) ends.
    pub settle: Duration,
    /// Queue probes of an external cluster's nodes (`target.probes`).
    pub probes: Vec<Probe>,
    /// The routing preflight of an external target (`preflight:`, `--skip-preflight`).
    pub preflight: Preflight,
    /// Allowed domains, caps, warnings and where the file holds secrets (`safety:`).
    pub safety: super::safety::Safety,
    /// `mailquake capacity`'s search and criteria (`capacity:`, defaults without it).
    pub capacity: super::CapacitySpec,
}

/// Before the load, one canary per mix domain must cross an external target to its fake
/// remote (see `crate::preflight`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Preflight {
    /// Longest wait for the canaries to arrive (`preflight.timeout`).
    pub timeout: Duration,
    /// `--skip-preflight`: the command line, not the scenario, says so.
    pub skip: bool,
}

impl Preflight {
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
}

impl Default for Preflight {
    fn default() -> Self {
        Preflight {
            timeout: Self::DEFAULT_TIMEOUT,
            skip: false,
        }
    }
}

/// A way to read a node's queue depth, sampled every second during a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Probe {
    /// `postqueue -c DIR -j` on a local Postfix instance.
    Postfix { config_dir: PathBuf },
}

#[derive(Clone, Debug, PartialEq)]
pub enum Target {
    /// The embedded reference cluster (the default).
    Embedded(EmbeddedSpec),
    /// An external cluster: SMTP endpoints (nodes, or one load balancer).
    Smtp(Vec<Endpoint>),
}

impl From<&str> for Endpoint {
    /// An endpoint of weight 1.
    fn from(addr: &str) -> Self {
        Endpoint {
            addr: addr.to_owned(),
            weight: 1,
        }
    }
}

/// One SMTP endpoint of an external target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// `HOST:PORT` as written.
    pub addr: String,
    /// Share of the sessions' connections relative to the other endpoints (default 1).
    pub weight: u32,
}

/// The embedded reference cluster's shape and tuning.
#[derive(Clone, Debug, PartialEq)]
pub struct EmbeddedSpec {
    pub nodes: usize,
    pub queue: QueueDesign,
    /// Connections at once per destination (`per-destination`) or workers in the pool (`shared`).
    pub concurrency: usize,
    pub connect_timeout: Duration,
    /// Wait for the banner and each reply.
    pub reply_timeout: Duration,
    /// First retry delay; doubles up to `max_backoff`.
    pub min_backoff: Duration,
    pub max_backoff: Duration,
    /// Failed connections in a row after which a destination is marked dead (`per-destination`).
    pub dead_after: u32,
    /// Undelivered mail older than this bounces.
    pub max_queue_lifetime: Duration,
}

impl Default for EmbeddedSpec {
    fn default() -> Self {
        EmbeddedSpec {
            nodes: 3,
            queue: QueueDesign::PerDestination,
            concurrency: 8,
            connect_timeout: Duration::from_secs(5),
            reply_timeout: Duration::from_secs(10),
            min_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(8),
            dead_after: 5,
            max_queue_lifetime: Duration::from_secs(600),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueueDesign {
    /// A queue and a concurrency limit per destination, dead-destination detection.
    PerDestination,
    /// One FIFO drained by one worker pool (the naive design).
    Shared,
}

/// Remotes served by `mailquake remotes` or `fake-remotes` (this or another host),
/// reached through their control API.
#[derive(Clone, PartialEq)]
pub struct ExternalRemotes {
    /// The control API, `http://HOST:PORT`.
    pub url: String,
    /// Sent as `Authorization: Bearer TOKEN`; without it, `MAILQUAKE_REMOTES_TOKEN` is used.
    pub token: Option<String>,
    /// The lease on every fault the run sets there: renewed every third of it while in
    /// force, so a run killed without healing leaves its faults for at most this long.
    pub lease: std::time::Duration,
}

impl std::fmt::Debug for ExternalRemotes {
    // The token stays out of debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExternalRemotes")
            .field("url", &self.url)
            .field("token", &self.token.as_ref().map(|_| "…"))
            .field("lease", &self.lease)
            .finish()
    }
}

/// A remote: its name, domains and where it listens (port 0 picks a free port; for
/// remotes served elsewhere, where they listen as reached from here). The type the
/// `fake-remotes` reader builds too.
pub use fake_remotes::standalone::RemoteDef as RemoteSpec;

#[derive(Clone, Debug, PartialEq)]
pub struct Load {
    pub model: LoadModel,
    /// Open model: the rate over time. Closed model: only the durations count (their sum
    /// is how long the sessions send); the rates are 0.
    pub steps: Vec<Step>,
    /// (domain, share in 0..=1); shares sum to 1.
    pub mix: Vec<(String, f64)>,
    pub message: MessageSpec,
    /// Most SMTP sessions open at once (bounds memory).
    pub sessions: usize,
    /// Messages sent on one connection before QUIT.
    pub messages_per_connection: u32,
    /// STARTTLS towards the target.
    pub tls: TlsSpec,
    /// AUTH towards the target.
    pub auth: Option<Credentials>,
    /// Length of each interval in the `*.hlog` histogram logs.
    pub hlog_interval: Duration,
    /// Open model: the share of the planned messages that may go unsent (shortfall)
    /// before the load-dependent checks are inconclusive, 0..=1 (default 1%).
    pub max_shortfall: f64,
}

/// How messages are paced.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LoadModel {
    /// Messages are due at the steps' rates whether or not the target keeps up; latency
    /// counts from the intended send time; what no session was free to send is shortfall.
    #[default]
    Open,
    /// `sessions` sessions each send back to back (like `smtp-source`) for the steps'
    /// total duration: the rate is whatever the target sustains.
    Closed,
}

/// STARTTLS settings: when to say it and how to check the certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsSpec {
    pub mode: TlsMode,
    /// Check the server certificate (against `ca`, or the Mozilla roots).
    pub verify: bool,
    /// PEM file of the certificates to trust instead of the Mozilla roots.
    pub ca: Option<PathBuf>,
}

impl Default for TlsSpec {
    fn default() -> Self {
        TlsSpec {
            mode: TlsMode::None,
            verify: true,
            ca: None,
        }
    }
}

impl Load {
    /// Total duration of all steps.
    pub fn duration(&self) -> Duration {
        self.steps.iter().map(|s| s.duration).sum()
    }

    /// Messages the steps submit in total (the sum of [`Step::messages`]); 0 for the
    /// closed model, which sends as many as the target takes.
    pub fn planned_messages(&self) -> f64 {
        self.steps.iter().map(Step::messages).sum()
    }

    /// The shape's rate at `t_ms` since load start; `None` after the load.
    pub fn rate_at(&self, t_ms: u32) -> Option<f64> {
        let mut start = 0.0;
        let t = f64::from(t_ms) / 1000.0;
        for s in &self.steps {
            let d = s.duration.as_secs_f64();
            if t < start + d {
                let to = s.to.unwrap_or(s.rate);
                return Some(s.rate + (to - s.rate) * (t - start) / d.max(f64::EPSILON));
            }
            start += d;
        }
        None
    }

    /// Messages the shape calls for in `[0, t_ms)`.
    pub fn planned_by(&self, t_ms: u32) -> f64 {
        let mut start = 0.0;
        let mut total = 0.0;
        let t = f64::from(t_ms) / 1000.0;
        for s in &self.steps {
            let d = s.duration.as_secs_f64();
            let part = (t - start).clamp(0.0, d);
            let to = s.to.unwrap_or(s.rate);
            let at_end = s.rate + (to - s.rate) * part / d.max(f64::EPSILON);
            total += (s.rate + at_end) / 2.0 * part;
            start += d;
        }
        total
    }
}

/// Constant rate for `duration`, or a linear ramp from `rate` to `to`.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// Messages per second at the start of the step.
    pub rate: f64,
    /// Messages per second at the end (ramp); `None` = constant.
    pub to: Option<f64>,
    pub duration: Duration,
}

impl Step {
    /// Messages this step submits: rate × duration, or the mean rate of a ramp × duration.
    pub fn messages(&self) -> f64 {
        let mean = (self.rate + self.to.unwrap_or(self.rate)) / 2.0;
        mean * self.duration.as_secs_f64()
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct MessageSpec {
    /// Body size in bytes (headers included, approximately).
    pub size: SizeSpec,
    /// Recipients per message (1..=64), all in the message's domain.
    pub recipients: u8,
}

/// Message sizes: one size, a uniform range, or weighted sizes. Drawn per message from
/// the scenario seed.
#[derive(Clone, Debug, PartialEq)]
pub enum SizeSpec {
    Fixed(usize),
    /// Uniform in `min..=max` bytes.
    Uniform {
        min: usize,
        max: usize,
    },
    /// (size in bytes, weight): a size is drawn with probability weight / sum of weights.
    Weighted(Vec<(usize, u32)>),
}

impl SizeSpec {
    /// The largest size it can draw.
    pub fn max(&self) -> usize {
        match self {
            SizeSpec::Fixed(s) => *s,
            SizeSpec::Uniform { max, .. } => *max,
            SizeSpec::Weighted(list) => list.iter().map(|(s, _)| *s).max().unwrap_or(0),
        }
    }
}

/// One entry of the fault timeline.
#[derive(Clone, Debug, PartialEq)]
pub struct FaultWindow {
    pub subject: FaultSubject,
    /// Offset from load start.
    pub at: Duration,
    /// `None`: until the end of the run.
    pub duration: Option<Duration>,
}

impl FaultWindow {
    /// Offset at which the fault heals, if it does before the run ends.
    pub fn end(&self) -> Option<Duration> {
        self.duration.map(|d| self.at + d)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum FaultSubject {
    /// A fault on a fake remote.
    Remote { remote: String, fault: Fault },
    /// A fault on a node of the target cluster.
    Node { node: String, fault: NodeFault },
    /// An operator action on the target: `run` (a shell command) when the window opens,
    /// `undo` when it closes — at `for`'s end, at the end of the run, on failure or on
    /// Ctrl-C, whichever comes first.
    Exec {
        /// How reports name it (`name:`, or the start of the command).
        name: String,
        run: String,
        undo: Option<String>,
    },
}

impl FaultSubject {
    /// What it is, for events and reports: `refuse`, `stuck`, `exec`.
    pub fn kind(&self) -> &str {
        match self {
            FaultSubject::Remote { fault, .. } => fault.kind(),
            FaultSubject::Node { .. } => "stuck",
            FaultSubject::Exec { .. } => "exec",
        }
    }

    /// Whom it acts on: `remote down`, `node n2`, `exec <name>`.
    pub fn target(&self) -> String {
        match self {
            FaultSubject::Remote { remote, .. } => format!("remote {remote}"),
            FaultSubject::Node { node, .. } => format!("node {node}"),
            FaultSubject::Exec { name, .. } => format!("exec `{name}`"),
        }
    }

    /// Short form for progress lines: `refuse@down`, `stuck@n2`, `exec:<name>`.
    pub fn short(&self) -> String {
        match self {
            FaultSubject::Remote { remote, fault } => format!("{}@{remote}", fault.kind()),
            FaultSubject::Node { node, .. } => format!("stuck@{node}"),
            FaultSubject::Exec { name, .. } => format!("exec:{name}"),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeFault {
    /// Accepts mail, never delivers it.
    Stuck,
}

/// A check of DESIGN §5; each is judged by `checks/`.
#[derive(Clone, Debug, PartialEq)]
pub enum Check {
    /// While faults are active, healthy domains' delivery latency stays under `limit` at
    /// `percentile`, and they deliver ≥ `min_delivered` of what was accepted.
    Isolation {
        healthy: Vec<String>,
        during: During,
        /// 0..100, e.g. 99.0 for `p99`.
        percentile: f64,
        limit: Duration,
        /// 0..=1
        min_delivered: f64,
        /// The steady-state baseline window (`baseline: { from, to }`), offsets from load
        /// start; `None`: from load start to the first fault (`checks/steady_state.rs`).
        baseline: Option<(Duration, Duration)>,
    },
    /// After the faults on the remote serving `domain` end, everything queued for it is
    /// delivered within `within`.
    Drain { domain: String, within: Duration },
    /// Every accepted message is delivered or bounced by the end of settle.
    NoLoss,
    /// No message delivered more than `max` extra times.
    NoDuplicates { max: u32 },
    /// Every node that accepted mail delivered some; delivered/accepted per node ≥ `min_ratio`.
    Nodes { min_ratio: f64 },
    /// The cluster accepted ≥ `min_accepted` of submissions; submit latency at `percentile` under `limit`.
    Acceptance {
        min_accepted: f64,
        percentile: f64,
        limit: Option<Duration>,
    },
    /// Probe-reported queue depth stays ≤ `max` on every node, and/or returns to its
    /// starting depth within `baseline_within` of the last fault's end.
    Queue {
        max: Option<u32>,
        baseline_within: Option<Duration>,
    },
    /// The cluster's own monitoring noticed the fault: a Prometheus alert fired within
    /// `fires_within` of its fault's start, not before, and resolved within
    /// `resolves_within` of its end (`checks/alert.rs`).
    Alert(Box<AlertCheck>),
}

/// How often an `alert` check's Prometheus is polled; a reading more than two periods
/// after the one before leaves a gap (the alert's state there is unknown).
pub const ALERT_POLL_EVERY: Duration = Duration::from_secs(1);

/// An `alert` check: which alert, where, and the fault window it relates to.
#[derive(Clone, Debug, PartialEq)]
pub struct AlertCheck {
    /// Prometheus's HTTP API, `http://HOST:PORT`.
    pub prometheus: String,
    /// The alerting rule's name (`alertname`).
    pub name: String,
    /// Labels an alert instance must carry (all of them, exact values) to count.
    pub labels: Vec<(String, String)>,
    /// The fault window: how reports name it (`node n2`, `exec `drain n2``), its start
    /// and its end (`None`: until the end of the run) from load start.
    pub during: (String, Duration, Option<Duration>),
    pub fires_within: Duration,
    pub resolves_within: Option<Duration>,
}

impl AlertCheck {
    /// `PostfixQueueBacklog{node="n2"}`.
    pub fn shown(&self) -> String {
        if self.labels.is_empty() {
            return self.name.clone();
        }
        let labels: Vec<String> = self
            .labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{v}\""))
            .collect();
        format!("{}{{{}}}", self.name, labels.join(","))
    }
}

/// `abort_on_fail` on a check: once it can no longer pass (and `grace` later), the load
/// stops, the faults heal, and the run is judged as far as it was measured: FAIL.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AbortOnFail {
    /// Index into [`Plan::checks`].
    pub check: usize,
    /// How long the run goes on once the check can no longer pass (more of the
    /// failure in the reports).
    pub grace: Duration,
}

impl Check {
    /// Whether a failure of this check can be final before the run ends (what
    /// `abort_on_fail` needs; `checks::so_far` decides when): copies only add up, a
    /// drain deadline or an isolation window passes. The others are judged at the end.
    pub fn decided_before_the_end(&self) -> bool {
        matches!(
            self,
            Check::Isolation { .. } | Check::Drain { .. } | Check::NoDuplicates { .. }
        )
    }

    /// The name used in reports (`isolation`, `drain`, …).
    pub fn name(&self) -> &'static str {
        match self {
            Check::Isolation { .. } => "isolation",
            Check::Drain { .. } => "drain",
            Check::NoLoss => "no_loss",
            Check::NoDuplicates { .. } => "no_duplicates",
            Check::Nodes { .. } => "nodes",
            Check::Acceptance { .. } => "acceptance",
            Check::Queue { .. } => "queue",
            Check::Alert(_) => "alert",
        }
    }
}

/// The window an isolation check looks at.
#[derive(Clone, Debug, PartialEq)]
pub enum During {
    /// Every window in which a remote fault is active (node faults excluded).
    Faults,
    /// An explicit window, offsets from load start.
    Window { from: Duration, to: Duration },
}

impl Plan {
    /// The remote serving `domain`, if any.
    pub fn remote_for(&self, domain: &str) -> Option<&RemoteSpec> {
        self.remotes
            .iter()
            .find(|r| r.domains.iter().any(|d| d.eq_ignore_ascii_case(domain)))
    }

    /// Remote-fault windows as (start, end) offsets; an open-ended window ends at `run_end`.
    pub fn remote_fault_windows(&self, run_end: Duration) -> Vec<(Duration, Duration)> {
        self.faults
            .iter()
            .filter(|f| matches!(f.subject, FaultSubject::Remote { .. }))
            .map(|f| (f.at, f.end().unwrap_or(run_end)))
            .collect()
    }

    /// When the timeline is over (last fault healed), from load start.
    pub fn timeline_end(&self) -> Duration {
        self.faults
            .iter()
            .filter_map(|f| f.end())
            .max()
            .unwrap_or(Duration::ZERO)
    }
}

/// Fewest healthy messages a baseline needs whatever the percentile.
const MIN_BASELINE_MESSAGES: usize = 20;

/// Fewest healthy messages a steady-state baseline needs to judge the percentile `pctl`:
/// enough that one late message does not decide it on its own (100 for p99), and at
/// least 20. Validation warns below it; `checks::steady_state` does not judge below it.
pub fn min_baseline_messages(pctl: f64) -> usize {
    let for_rank = (100.0 / (100.0 - pctl).max(0.1)).ceil() as usize;
    for_rank.max(MIN_BASELINE_MESSAGES)
}
