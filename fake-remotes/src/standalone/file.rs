//! The scenario file as the `fake-remotes` binary reads it: only `seed`, `remotes` and
//! `faults`; every other top-level key (`load`, `checks`, …) is ignored, so the same file
//! mailquake runs can be served standalone. `remotes` and `faults` are read and checked
//! by the code mailquake uses ([`crate::scenario`]): the same remotes, the same implicit
//! `bounces` remote (serving `bounces.test` unless a remote does), the same errors.
//! Node faults and `exec` entries are skipped: there are no nodes here.
//!
//! Errors are one line: `FILE:LINE:COL: KEY: message`.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::{RemoteDef, TimelineEntry};
use crate::scenario::resolve::{self, Origin};
use crate::scenario::validate::{self, SpecError, Subject};
use crate::scenario::{yaml, RawFault, RawRemotes, MAX_SPAN};
use crate::scenario_input;

/// What a scenario file asks to serve.
#[derive(Clone, Debug, PartialEq)]
pub struct Served {
    pub seed: u64,
    pub remotes: Vec<RemoteDef>,
    pub timeline: Vec<TimelineEntry>,
}

/// Why a file cannot be served; `Display` is one line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileError {
    pub file: PathBuf,
    /// 1-based; 0 when the problem has no place in the file.
    pub line: u64,
    pub col: u64,
    /// The key, e.g. `faults[0].remote`; empty when unknown.
    pub key: String,
    pub message: String,
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.col.max(1))?;
        }
        if !self.key.is_empty() {
            write!(f, ": {}", self.key)?;
        }
        let message: String = self
            .message
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        write!(f, ": {message}")
    }
}

impl std::error::Error for FileError {}

/// Reads a scenario file's remotes and fault timeline, with `${NAME}` from the
/// environment resolved as mailquake's reader resolves them (`scenario::resolve`).
pub fn load(path: &Path) -> Result<Served, FileError> {
    let text = scenario_input::read_text(path).map_err(|e| FileError {
        file: path.to_owned(),
        line: e.line,
        col: e.col,
        key: String::new(),
        message: e.message,
    })?;
    let at = |origin: Origin| match origin {
        Origin::File { line, col } => (line, col),
        Origin::Set(_) => (0, 0),
    };
    let env = |name: &str| std::env::var(name).ok();
    let resolved = resolve::resolve(&text, &[], &env).map_err(|e| FileError {
        file: path.to_owned(),
        line: at(e.origin.clone()).0,
        col: at(e.origin).1,
        key: e.path,
        message: e.message,
    })?;
    parse(&resolved.text, path).map_err(|e| match e.line {
        0 => e,
        line => {
            let (line, col) = at(resolved.origin(line, e.col));
            FileError { line, col, ..e }
        }
    })
}

/// Parses scenario text; `file` is only used in messages.
pub fn parse(text: &str, file: &Path) -> Result<Served, FileError> {
    let raw: RawFile = yaml::deserialize(text).map_err(|e| FileError {
        file: file.to_owned(),
        line: e.line,
        col: e.col,
        key: e.path,
        message: e.message,
    })?;
    let err = |e: SpecError| FileError {
        file: file.to_owned(),
        line: e.at.line(),
        col: e.at.column(),
        key: e.path,
        message: e.message,
    };

    let Some(entries) = raw.remotes else {
        return Err(FileError {
            file: file.to_owned(),
            line: 0,
            col: 0,
            key: "remotes".into(),
            message: "missing: nothing to serve, e.g. remotes: { ok: { domains: [ok.test] } }"
                .into(),
        });
    };
    // Caps first: the rules below compare entries with each other.
    validate::remote_caps(&entries.value).map_err(err)?;
    let faults = raw.faults.unwrap_or_default();
    validate::fault_cap(&faults).map_err(err)?;
    if let Some((key, _)) = &entries.value.external {
        return Err(FileError {
            file: file.to_owned(),
            line: key.referenced.line(),
            col: key.referenced.column(),
            key: "remotes.external".into(),
            message:
                "this scenario attaches to remotes served elsewhere: there is nothing to serve here"
                    .into(),
        });
    }
    validate::no_stray_external_keys(&entries.value).map_err(err)?;
    let mut remotes = validate::remotes(&entries).map_err(err)?;

    let mut timeline = Vec::new();
    for (i, entry) in faults.iter().enumerate() {
        let p = format!("faults[{i}]");
        let (remote, kind) = match validate::subject(&p, entry).map_err(err)? {
            Subject::Remote(remote, kind) => (remote, kind),
            // mailquake's business: there are no nodes and no target here.
            Subject::Node(..) | Subject::Exec(_) => continue,
        };
        let fault = validate::remote_fault(&p, remote, kind, Some(&remotes)).map_err(err)?;
        let f = &entry.value;
        let at = validate::span(&f.at, &format!("{p}.at"), MAX_SPAN, false).map_err(err)?;
        let duration = match &f.duration {
            None => None,
            Some(d) => Some(validate::span(d, &format!("{p}.for"), MAX_SPAN, true).map_err(err)?),
        };
        timeline.push(TimelineEntry {
            remote: remote.value.clone(),
            at,
            duration,
            fault,
        });
    }
    validate::add_bounce_remote(&entries, &mut remotes).map_err(err)?;
    Ok(Served {
        seed: raw.seed.unwrap_or(1),
        remotes,
        timeline,
    })
}

/// Only the keys this reader needs; the others are skipped unread.
#[derive(Deserialize)]
struct RawFile {
    #[serde(default)]
    seed: Option<u64>,
    #[serde(default)]
    remotes: Option<Spanned<RawRemotes>>,
    #[serde(default)]
    faults: Option<Vec<Spanned<RawFault>>>,
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::Fault;

    const FILE: &str = "\
version: 1
name: day
seed: 7
load: { steps: [ { rate: 10/s, for: 10s } ], mix: { ok.test: 100% } }
remotes:
  ok:   { domains: [ok.test, Also.test] }
  down: { domains: [down.test], listen: 127.0.0.1:0 }
faults:
  - { remote: down, at: 10s, for: 20s, fault: refuse }
  - { node: n1, at: 0s, fault: stuck }
  - { at: 5s, for: 10s, exec: { run: postfix stop, undo: postfix start } }
  - { remote: down, at: 0, fault: { tarpit: { banner: 2s } } }
checks: [ no_loss ]
";

    #[test]
    fn reads_remotes_and_remote_faults_and_ignores_the_rest() {
        let served = parse(FILE, Path::new("day.yaml")).expect("valid");
        assert_eq!(served.seed, 7);
        let names: Vec<&str> = served.remotes.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(
            names,
            ["ok", "down", "bounces"],
            "bounces added as mailquake does"
        );
        assert_eq!(served.remotes[0].domains, ["ok.test", "also.test"]);
        assert_eq!(served.remotes[2].domains, ["bounces.test"]);
        assert_eq!(
            served.timeline.len(),
            2,
            "the node fault and exec are skipped"
        );
        assert_eq!(served.timeline[0].fault, Fault::REFUSE);
        assert_eq!(served.timeline[0].duration, Some(Duration::from_secs(20)));
        assert_eq!(served.timeline[1].at, Duration::ZERO);
    }

    #[test]
    fn errors_are_one_line_with_file_line_and_key() {
        let table = [
            ("ok: 1", "x.yaml: remotes: missing: nothing to serve, e.g. remotes: { ok: { domains: [ok.test] } }"),
            (
                "remotes: { ok: { domains: [ok.test] } }\nfaults: [ { remote: dwn, at: 1s, fault: refuse } ]",
                "x.yaml:2:21: faults[0].remote: no remote named `dwn` (remotes: ok)",
            ),
            (
                "remotes: { ok: { domains: [ok.test] } }\nfaults: [ { remote: ok, at: soon, fault: refuse } ]",
                "x.yaml:2:29: faults[0].at: invalid duration `soon`: expected a number and a unit, e.g. 500ms, 30s, 2m",
            ),
            (
                "remotes: { external: http://127.0.0.1:8025 }",
                "x.yaml:1:12: remotes.external: this scenario attaches to remotes served elsewhere: there is nothing to serve here",
            ),
            // Worded as mailquake words it, with the key path.
            (
                "remotes: { ok: { domains: [ok.test], lisen: x } }",
                "x.yaml:1:38: remotes.ok.lisen: unknown key `lisen`, expected one of domains, listen",
            ),
            (
                "remotes: { ok: { domains: [ok.test] } }\nfaults: [ { remote: ok, at: 1s, fault: tarpit } ]",
                "x.yaml:2:33: faults[0].fault: invalid type: string \"tarpit\", expected the fault's settings as a map, e.g. fault: { tarpit: { banner: 2s } }",
            ),
            (
                "remotes: { ok: { domains: [ok.test] } }\nfaults: [ { remote: ok, at: 1s, exec: { run: x } } ]",
                "x.yaml:2:21: faults[0].remote: an `exec` entry runs commands: it takes no `remote`, `node` or `fault`",
            ),
            (
                "remotes: { bounces: { domains: [b.test] } }",
                "x.yaml:1:12: remotes.bounces: the remote named `bounces` must serve `bounces.test` (bounces are collected there); add it to its domains or rename the remote",
            ),
        ];
        for (text, want) in table {
            let got = parse(text, Path::new("x.yaml")).unwrap_err().to_string();
            assert_eq!(got, want);
        }
    }
}
