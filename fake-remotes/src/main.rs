//! `fake-remotes FILE [--api ADDR] [--token T]`: serves the fake remotes of a scenario
//! file (its `remotes` and the remote entries of its `faults`, the timeline running from
//! start-up), with the control API on `ADDR` (`IP:PORT` or `HOST:PORT`, default
//! 127.0.0.1:8025). See the crate's
//! README for the API.
//!
//! Exit codes: 0 after Ctrl-C or SIGTERM, 2 for a bad command line or file (or a
//! non-loopback API without a token), 3 if an address cannot be bound.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use fake_remotes::standalone::{self, file, Config};

#[derive(Parser, Debug)]
#[command(
    version,
    about = "Serve the fake remote MTAs of a scenario file, with a control API to watch them and switch faults live"
)]
struct Args {
    /// The scenario file: its `seed`, `remotes` and remote `faults` are read, other keys ignored.
    file: PathBuf,
    /// Where the control API listens, IP:PORT or HOST:PORT (e.g. localhost:8025: the
    /// name's first address); anything but loopback needs --token.
    #[arg(long, value_name = "ADDR", default_value = standalone::DEFAULT_API)]
    api: String,
    /// Every API request must carry `Authorization: Bearer TOKEN`.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "MAILQUAKE_REMOTES_TOKEN",
        hide_env_values = true
    )]
    token: Option<String>,
    /// Events kept in memory for GET /events (the oldest are dropped beyond it).
    #[arg(long, value_name = "N", default_value_t = standalone::log::DEFAULT_CAPACITY)]
    events_kept: usize,
}

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(a) => a,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let api = match standalone::resolve_api(&args.api) {
        Ok(api) => api,
        Err(e) => {
            eprintln!("fake-remotes: {e}");
            return ExitCode::from(2);
        }
    };
    let served = match file::load(&args.file) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let config = Config {
        api,
        token: args.token,
        events_kept: args.events_kept,
        ..Config::new(served.remotes, served.timeline, served.seed)
    };
    standalone::main(config, "fake-remotes")
}
