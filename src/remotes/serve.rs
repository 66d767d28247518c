//! `mailquake remotes FILE [--api ADDR] [--token T]`: serves a scenario's fake remotes
//! standalone — its `remotes` (with the implicit `bounces` collector) and the remote
//! entries of its `faults` timeline, running from start-up — with the control API, until
//! Ctrl-C, SIGTERM or SIGHUP (exit 0). The scenario is validated by the normal loader
//! first (exit 2 if invalid); its load, checks and node faults are not used here.

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;

use fake_remotes::standalone::{self, Config, RemoteDef, TimelineEntry};

use crate::scenario::{self, FaultSubject, Plan};

/// What `mailquake remotes` serves for a plan.
pub fn config(plan: &Plan) -> Config {
    let remotes = plan
        .remotes
        .iter()
        .map(|r| RemoteDef {
            name: r.name.clone(),
            domains: r.domains.clone(),
            listen: r.listen,
        })
        .collect();
    let timeline = plan
        .faults
        .iter()
        .filter_map(|w| match &w.subject {
            FaultSubject::Remote { remote, fault } => Some(TimelineEntry {
                remote: remote.clone(),
                at: w.at,
                duration: w.duration,
                fault: fault.clone(),
            }),
            FaultSubject::Node { .. } | FaultSubject::Exec { .. } => None,
        })
        .collect();
    Config::new(remotes, timeline, plan.seed)
}

pub fn main(file: &Path, sets: &[String], api: SocketAddr, token: Option<String>) -> ExitCode {
    let plan = match scenario::load_with(file, sets) {
        Ok(plan) => plan,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    if let Some(external) = &plan.external_remotes {
        eprintln!(
            "{}: remotes.external: this scenario attaches to remotes served at {}: there is nothing to serve here",
            file.display(),
            external.url
        );
        return ExitCode::from(2);
    }
    let nodes = plan
        .faults
        .iter()
        .filter(|w| !matches!(w.subject, FaultSubject::Remote { .. }))
        .count();
    if nodes > 0 {
        eprintln!("mailquake: {nodes} node fault(s) and exec action(s) left out: only remotes are served here");
    }
    let config = Config {
        api,
        token,
        ..config(&plan)
    };
    standalone::main(config, "mailquake")
}
