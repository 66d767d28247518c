//! Command-line definitions (clap). `main.rs` dispatches; nothing here does work.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::builder::PossibleValue;
use clap::{Parser, Subcommand, ValueEnum};

use crate::scenario::LoadModel;
use crate::smtp::TlsMode;

/// Chaos and load tests for SMTP clusters: flood a cluster while fake remote MTAs
/// misbehave on a timeline, then prove message by message that queues isolated the
/// failure and drained in time.
///
/// Exit codes: 0 every check passed · 1 a check failed or was inconclusive (its data
/// incomplete, its fault never fired) · 2 the scenario or the command line is invalid ·
/// 3 the run could not be carried out or was aborted.
///
/// Ctrl-C, SIGTERM and SIGHUP stop a run alike: the load stops, every `exec` undo runs,
/// every fault is healed, the reports are written with verdict ABORTED (never a pass),
/// exit 3. A second signal says what is still being undone; a third exits at once.
#[derive(Debug, Parser)]
#[command(name = "mailquake", version, about, long_about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

// Parsed once per process: the size of the largest variant (`flood`'s flags) costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a scenario and judge the target: writes the reports (summary.json, junit.xml,
    /// report.html, timeseries.csv, per-phase *.hlog) into DIR, exits 0 (pass), 1 (a check
    /// failed or was inconclusive), 2 (invalid scenario) or 3 (could not run — e.g. the
    /// routing preflight failed, no load sent — or aborted: Ctrl-C, SIGTERM, SIGHUP, a
    /// failed exec, the target or the remotes stopped answering — verdict ABORTED,
    /// reports still written).
    Run {
        /// The scenario file (YAML, see scenarios/README.md).
        file: PathBuf,
        #[command(flatten)]
        params: Params,
        /// Output folder (default: reports/<name>-<UTC time>/). It must be writable before
        /// the run starts (else exit 3); if it fails at the end, the files go to
        /// ./mailquake-rescued-<name>-<run id>/ (or the temp folder) and a line says where.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Write into an --out DIR that holds an earlier run (its summary.json, run.json,
        /// ledger.bin, shard.json or actions.journal); without it, such a DIR is refused
        /// (exit 2, one line). A run that cannot start still writes its reports there,
        /// with verdict ABORTED and the error as the reason.
        #[arg(long)]
        force: bool,
        /// Do not send the routing preflight's canaries. By default, before any load on
        /// an external target (`target: { smtp: [...] }`), one canary per mix domain must
        /// cross the cluster to its fake remote within `preflight.timeout` (30 s), or the
        /// run stops with exit 3 and one line per domain. The reports say it was skipped.
        #[arg(long)]
        skip_preflight: bool,
        /// Run shard I of N of the load (`--shard /N`, or MAILQUAKE_SHARDS=N without this
        /// flag: I from JOB_COMPLETION_INDEX). Every shard sends every N-th message of the
        /// schedule; shard 0 alone applies the faults (through the remotes' control API).
        /// Needs `remotes: { external: URL }` and `target: { smtp: [...] }`. A shard writes
        /// its data and shard.json, no verdict: exit 0 its data is complete · 3 aborted
        /// or incomplete · 2 bad input · 4 started more than --late-tolerance after T0
        /// (nothing sent). Judge the shards together with `mailquake merge`.
        #[arg(long, value_name = "I/N")]
        shard: Option<String>,
        /// The run's start for every shard, RFC 3339 (e.g. 2030-01-02T03:04:05Z); a shard
        /// waits for it.
        #[arg(long, value_name = "RFC3339", env = "MAILQUAKE_T0")]
        t0: Option<String>,
        /// The run id every shard shares (starts every tracking id).
        #[arg(long, value_name = "ID", env = "MAILQUAKE_RUN_ID")]
        run_id: Option<String>,
        /// A shard starting later than this after T0 exits 4 without sending.
        #[arg(long, value_name = "DURATION", default_value = "5s")]
        late_tolerance: String,
        /// Serve the game-day live view at ADDR (default 127.0.0.1:8026) while the run
        /// goes: one self-contained page (fault timeline, each check so far, delivered/s,
        /// backlog and oldest undelivered per destination, queue per node, planned vs
        /// submitted, and report.html's charts drawn from the run so far), a server-sent
        /// event stream with replay, and Prometheus `GET /metrics`. The URL is printed at
        /// start; the run never waits for a browser. Anything but loopback needs
        /// --live-token.
        #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = crate::live::DEFAULT_ADDR)]
        live: Option<SocketAddr>,
        /// With --live: the page gets controls — inject a fault (the scenario's forms)
        /// on a remote, heal one remote, heal all (stops the timeline), stop the load
        /// (the run settles and judges). Every action is recorded; the verdict line says
        /// the run was steered by hand.
        #[arg(long, requires = "live")]
        live_control: bool,
        /// With --live: every request needs this token (`Authorization: Bearer TOKEN`,
        /// or `?token=TOKEN` on the page's URL).
        #[arg(
            long,
            value_name = "TOKEN",
            env = "MAILQUAKE_LIVE_TOKEN",
            hide_env_values = true,
            requires = "live"
        )]
        live_token: Option<String>,
    },
    /// Find the highest rate the cluster sustains under the scenario's conditions.
    ///
    /// Steps of one constant rate each (`capacity.step`, 10 s; then up to
    /// `capacity.settle`, 10 s, for mail in flight): the rate doubles from
    /// `capacity.start` (10/s) until a step is not sustained or `capacity.max_rate`
    /// (1000/s) is reached, then bisects until the sustained and the failed rate are
    /// within `capacity.resolution` (5%); at most `capacity.max_steps` (12) steps. A step
    /// is sustained when ≥ `capacity.acceptance` (99%) of its messages are accepted, their
    /// p99 submit latency is ≤ `capacity.submit_p99` (1 s), and over the second half of
    /// its load the cluster delivers ≥ `capacity.keep_up` (95%) of what it accepts. Faults
    /// at offset 0 are held through every step; later ones are not applied; checks are
    /// not judged. Writes capacity.json, capacity.html and a run folder per step under
    /// DIR/steps/, and prints a table of the steps.
    ///
    /// Exit codes: 0 a sustained rate was found · 1 not even the first rate was
    /// sustained · 2 invalid scenario or command line · 3 the search could not be carried
    /// out or was aborted (what was measured is still reported).
    Capacity {
        #[command(flatten)]
        args: crate::capacity::CapacityArgs,
    },
    /// Judge the shards of one run together: `mailquake merge DIR... --out DIR`.
    ///
    /// Checks that the folders are shards 0..N-1 of one run (each once, same N, T0, run
    /// id and scenario), unions their ledgers, sums their per-phase latency histograms
    /// interval by interval (exact percentiles, never averaged), judges every check on
    /// the union and writes summary.json (with `shards`), junit.xml, report.html,
    /// timeseries.csv and the terminal summary like one run. Exit codes as `run`: 0 every
    /// check passed · 1 a check failed · 2 the shards do not make one run (one line says
    /// why) · 3 a shard was aborted or a report could not be written.
    Merge {
        /// The shards' output folders.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Where the merged run's reports go.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Render every report again from the data a run saved in its folder (scenario.yaml,
    /// ledger.bin): summary.json, junit.xml, report.html, timeseries.csv and the terminal
    /// summary. Exits 0 (rendered), 2 (the folder or its data cannot be read) or 3 (a
    /// report could not be written, or a stop signal came first).
    Report {
        /// The output folder of a run.
        dir: PathBuf,
    },
    /// Print one message's life from a run's folder: look up an evidence id of a report.
    ///
    /// In time order: when it was submitted, which node accepted it (or how the cluster refused it), each delivery attempt the fake remotes
    /// saw (remote, recipient, reply, time), the copies that arrived and through which
    /// node, its bounce, whether it was still queued at the end, and which fault windows
    /// it crossed. Times are since load start. ID is a tracking id `<run>.<seq>` as the
    /// reports list them under "evidence" (or just the sequence number).
    ///
    /// Exit codes: 0 found · 2 unknown id, or the folder or its data cannot be read (one
    /// line naming the file).
    Explain {
        /// The output folder of a run.
        dir: PathBuf,
        /// The message's tracking id, e.g. `k3v9qa.1042`.
        id: String,
    },
    /// Undo what a killed run left in force: reads DIR/actions.journal and, for every
    /// action still in force, runs the `exec` action's `undo` (sh -c, in the run's working
    /// directory, within 60 s) or heals the attached remote (DELETE /remotes/NAME/fault),
    /// then records it undone. Running it again finds nothing in force.
    ///
    /// Exit codes: 0 nothing is left in force (it says what it undid, or "nothing in
    /// force") · 2 DIR has no readable actions journal · 3 an undo failed (one line names
    /// each; the others are still tried).
    Heal {
        /// The output folder of the run.
        dir: PathBuf,
        /// The control API's token, for faults on attached remotes.
        #[arg(
            long,
            value_name = "TOKEN",
            env = "MAILQUAKE_REMOTES_TOKEN",
            hide_env_values = true
        )]
        token: Option<String>,
    },
    /// Watches a run (started by `run`; reads its token on stdin) and heals from DIR's
    /// journal when the run dies without finishing.
    #[command(hide = true)]
    Guard {
        /// The run's output folder.
        dir: PathBuf,
    },
    /// Parse and check a scenario without running it: exits 0 (valid) or 2 (invalid).
    ///
    /// A valid file gets its wall-clock plan: the load's length, each fault's window, when
    /// settle ends at the latest, and the longest the run can take (load and settle plus
    /// the run's bounded waits: an external target's reachability check and routing
    /// preflight, remotes served elsewhere answering and healing).
    Validate {
        /// The scenario file.
        file: PathBuf,
        #[command(flatten)]
        params: Params,
    },
    /// Print the transport map that sends the scenario's test domains to its fake remotes
    /// (for a real MTA under test, e.g. targets/postfix). Remotes need fixed `listen:` ports.
    Routes {
        /// The scenario file.
        file: PathBuf,
        /// Which MTA's map format.
        #[arg(long, value_enum, default_value = "postfix")]
        format: crate::cluster::routes::RouteFormat,
    },
    /// Serve the scenario's fake remotes standalone, until Ctrl-C, SIGTERM or SIGHUP
    /// (then exit 0): its remotes listen
    /// where the file says, its remote faults run on their timeline from start-up, and a
    /// control API (HTTP, loopback by default) shows counters, streams events and
    /// switches faults live. A run attaches with `remotes: { external: URL }`. Prints
    /// where everything listens, and where the STARTTLS test CA is: ca.pem in a folder
    /// of its own in the temp folder ($TMPDIR/fake-remotes-PID/), removed at exit.
    /// Exits 2 (invalid scenario, or a non-loopback API without a token) or 3 (an
    /// address cannot be bound).
    Remotes {
        /// The scenario file; its `remotes` and remote `faults` are served. A file with
        /// only `remotes` (and `faults`, `seed`) will do; one with `load` is checked whole.
        file: PathBuf,
        #[command(flatten)]
        params: Params,
        /// Where the control API listens, IP:PORT or HOST:PORT (e.g. localhost:8025: the
        /// name's first address); anything but loopback needs --token.
        #[arg(long, value_name = "ADDR", default_value = fake_remotes::standalone::DEFAULT_API)]
        api: String,
        /// Every API request must carry `Authorization: Bearer TOKEN`.
        #[arg(
            long,
            value_name = "TOKEN",
            env = "MAILQUAKE_REMOTES_TOKEN",
            hide_env_values = true
        )]
        token: Option<String>,
    },
    /// Serve the scenario's embedded reference cluster (`target: { embedded: … }`) in a
    /// process of its own, until Ctrl-C, SIGTERM or SIGHUP (then exit 0): its nodes take
    /// SMTP on loopback and relay to the remotes served by `mailquake remotes` (routes
    /// from their control API); a control API switches node faults
    /// (`GET /nodes`, `PUT`/`DELETE /nodes/NAME/fault` with body `"stuck"`). Prints where
    /// everything listens; exits 2 (invalid scenario or arguments) or 3 (the remotes'
    /// API does not answer within 10 s, an address cannot be bound).
    Cluster {
        #[command(flatten)]
        args: crate::cluster::serve::ClusterArgs,
    },
    /// Flood one SMTP server with the generator alone and print per-phase latency.
    ///
    /// For test servers only: it sends real mail as fast as asked to whatever HOST:PORT
    /// says (recipients mq.<seq>.<n>@flood.test unless --to says otherwise). At the end it
    /// prints submitted/accepted/shortfall, the submit latency, and for each phase
    /// (connect, banner, ehlo, starttls, auth, mail, rcpt, data, dot, quit) the count,
    /// p50/p90/p99/max and the reply codes.
    ///
    /// Safety: --to must be a domain reserved for testing (.test, .example, .invalid,
    /// .localhost, example.com/.net/.org) unless --allow-domain names it too: if the server
    /// relays the mail, that is where it goes. Against a target that is not loopback, the
    /// rate is capped at 2000/s and the total at 1000000 messages (--max-rate and
    /// --max-messages raise them; the closed model is held to both while it runs).
    ///
    /// Exit codes: 0 it ran · 2 bad arguments · 3 unreachable target, or stopped by
    /// Ctrl-C, SIGTERM or SIGHUP (after printing what it measured).
    #[command(
        after_help = "Examples:\n  mailquake flood 127.0.0.1:2525 --rate 500/s --for 30s\n  mailquake flood 127.0.0.1:2525 --model closed --sessions 20 --for 10s --size 4KiB\n  MAILQUAKE_AUTH_PASSWORD=secret mailquake flood mx.test:25 --rate 50/s --for 1m --tls required --ca ca.pem --auth user\n  mailquake flood mx.staging.example:25 --rate 5000/s --for 1m --max-rate 5000/s"
    )]
    Flood {
        #[command(flatten)]
        args: crate::flood::FloodArgs,
    },
}

// `flood --model`, `flood --tls`: the plan's own types take their values by name
// (no help per value, so the command's help lists just the names).
impl ValueEnum for LoadModel {
    fn value_variants<'a>() -> &'a [Self] {
        &[LoadModel::Open, LoadModel::Closed]
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(PossibleValue::new(match self {
            LoadModel::Open => "open",
            LoadModel::Closed => "closed",
        }))
    }
}

impl ValueEnum for TlsMode {
    fn value_variants<'a>() -> &'a [Self] {
        &[TlsMode::None, TlsMode::Opportunistic, TlsMode::Required]
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(PossibleValue::new(self.as_str()))
    }
}

/// Parameters of a scenario from the command line (`run`, `validate`, `remotes`).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Params {
    /// Set a value of the scenario without editing the file, e.g. `--set
    /// load.steps[0].rate=400/s`, `--set checks[0].isolation.p99=2s`, `--set
    /// safety.max_rate=5000/s` (repeatable). KEY is a key path as errors print it (a key
    /// holding dots may be quoted: `load.mix."ok.test"=80%`); VALUE is YAML on one line
    /// (`30s`, `[a.test, b.test]`, `{ rate: 5/s, for: 10s }`), put in place of the key's
    /// value, or added to its map when the file has no such key. Applied before
    /// validation, so every rule still holds; the run saves the resolved scenario.yaml.
    /// Values in the file may also be written `${NAME}` or `${NAME:-default}` (from the
    /// environment; `$${` is a literal `${`).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
}

#[cfg(test)]
#[path = "cli_tests.rs"]
mod tests;
