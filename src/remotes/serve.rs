//! `mailquake remotes FILE [--api ADDR] [--token T]`: serves a scenario's fake remotes
//! standalone — its `remotes` (with the implicit `bounces` collector) and the remote
//! entries of its `faults` timeline, running from start-up — with the control API, until
//! Ctrl-C, SIGTERM or SIGHUP (exit 0). A whole scenario (one with `load`) is validated
//! by the normal loader first (exit 2 if invalid); its load, checks and node faults are
//! not used here. A file without `load` holds only what is served: its `seed`, `remotes`
//! and `faults` are read by fake-remotes' reader, the one the `fake-remotes` binary uses.

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

pub fn main(file: &Path, sets: &[String], api: &str, token: Option<String>) -> ExitCode {
    let api = match standalone::resolve_api(api) {
        Ok(api) => api,
        Err(e) => {
            eprintln!("mailquake: {e}");
            return ExitCode::from(2);
        }
    };
    // `--set` and `${NAME}` resolved first, whichever reader reads the file.
    let source = match scenario::Source::read(file, sets) {
        Ok(source) => source,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let config = if is_whole_scenario(source.text()) {
        match whole(file, &source) {
            Ok(config) => config,
            Err(code) => return code,
        }
    } else {
        // Only remotes (and their faults): read as the `fake-remotes` binary reads them.
        match fake_remotes::standalone::file::parse(source.text(), file) {
            Ok(served) => Config::new(served.remotes, served.timeline, served.seed),
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::from(2);
            }
        }
    };
    standalone::main(
        Config {
            api,
            token,
            ..config
        },
        "mailquake",
    )
}

/// A file with `load` is a whole scenario: checked as `run` checks it, then its remotes
/// served. `Err` is the exit code, its line printed.
fn whole(file: &Path, source: &scenario::Source) -> Result<Config, ExitCode> {
    let plan = source.plan().map_err(|e| {
        eprintln!("{e}");
        ExitCode::from(2)
    })?;
    if let Some(external) = &plan.external_remotes {
        eprintln!(
            "{}: remotes.external: this scenario attaches to remotes served at {}: there is nothing to serve here",
            file.display(),
            external.url
        );
        return Err(ExitCode::from(2));
    }
    let nodes = plan
        .faults
        .iter()
        .filter(|w| !matches!(w.subject, FaultSubject::Remote { .. }))
        .count();
    if nodes > 0 {
        eprintln!("mailquake: {nodes} node fault(s) and exec action(s) left out: only remotes are served here");
    }
    Ok(config(&plan))
}

/// Whether the file has a `load` (else it holds only what is served here). A file that
/// is not YAML counts as whole: the scenario loader says what is wrong with it.
fn is_whole_scenario(text: &str) -> bool {
    #[derive(serde::Deserialize)]
    struct Top {
        #[serde(default)]
        load: Option<serde::de::IgnoredAny>,
    }
    fake_remotes::scenario::yaml::deserialize::<Top>(text).map_or(true, |t| t.load.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_with_load_is_a_whole_scenario() {
        let table = [
            ("remotes: { ok: { domains: [ok.test] } }", false),
            (
                "seed: 3\nremotes: { ok: { domains: [ok.test] } }\nfaults: []",
                false,
            ),
            ("remotes: {}\nload: { steps: [] }", true),
            ("load: [", true),
        ];
        for (text, whole) in table {
            assert_eq!(is_whole_scenario(text), whole, "{text}");
        }
    }
}
