//! The scenario file as the `fake-remotes` binary reads it: only `seed`, `remotes` and
//! the remote entries of `faults`; every other top-level key (`load`, `checks`, …) is
//! ignored, so the same file mailquake runs can be served standalone. Inside `remotes`
//! and `faults` the keys are those of mailquake's scenario format, and a misspelt one
//! is an error. Node faults (`node:`) are skipped: there are no nodes here.
//!
//! Unlike mailquake, this reader adds no `bounces` remote: serve `bounces.test` yourself
//! if the cluster's bounces should be collected. Errors are one line:
//! `FILE:LINE:COL: KEY: message`.

use std::fmt;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use serde::de::{self, value::MapAccessDeserializer, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use serde_saphyr::{Location, MessageFormatter, Spanned};

use super::{RemoteDef, TimelineEntry};
use crate::scenario_input::{self, MAX_DOMAINS, MAX_FAULTS, MAX_REMOTES};
use crate::{units, Fault};

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

/// Reads a scenario file's remotes and fault timeline.
pub fn load(path: &Path) -> Result<Served, FileError> {
    let text = scenario_input::read_text(path).map_err(|e| FileError {
        file: path.to_owned(),
        line: e.line,
        col: e.col,
        key: String::new(),
        message: e.message,
    })?;
    parse(&text, path)
}

/// Parses scenario text; `file` is only used in messages.
pub fn parse(text: &str, file: &Path) -> Result<Served, FileError> {
    let raw: RawFile = serde_saphyr::from_str_with_options(text, scenario_input::yaml_options())
        .map_err(|e| {
            let (line, col) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
            FileError {
                file: file.to_owned(),
                line,
                col,
                key: String::new(),
                message: scenario_input::limit_message(&e).unwrap_or_else(|| {
                    serde_saphyr::DefaultMessageFormatter
                        .format_message(&e)
                        .into_owned()
                }),
            }
        })?;
    let err = |at: Location, key: String, message: String| FileError {
        file: file.to_owned(),
        line: at.line(),
        col: at.column(),
        key,
        message,
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
    let named = &entries.value.0;
    if let Some((name, _)) = named.get(MAX_REMOTES) {
        let message = format!("{} remotes: at most {MAX_REMOTES} are allowed", named.len());
        return Err(err(name.referenced, "remotes".into(), message));
    }
    let domains: usize = named
        .iter()
        .map(|(_, entry)| match entry {
            RawEntry::Remote(r) => r.domains.value.len(),
            RawEntry::Attach => 0,
        })
        .sum();
    if domains > MAX_DOMAINS {
        let message =
            format!("{domains} domains in all remotes: at most {MAX_DOMAINS} are allowed");
        return Err(err(entries.referenced, "remotes".into(), message));
    }
    let faults = raw.faults.unwrap_or_default();
    if let Some(fault) = faults.get(MAX_FAULTS) {
        let message = format!("{} faults: at most {MAX_FAULTS} are allowed", faults.len());
        return Err(err(fault.referenced, "faults".into(), message));
    }
    let mut remotes: Vec<RemoteDef> = Vec::new();
    for (name, entry) in entries.value.0 {
        let remote = match entry {
            RawEntry::Remote(r) => r,
            RawEntry::Attach => {
                return Err(err(
                    name.referenced,
                    format!("remotes.{}", name.value),
                    "this scenario attaches to remotes served elsewhere: there is nothing to serve here".into(),
                ))
            }
        };
        let key = format!("remotes.{}", name.value);
        if remote.domains.value.is_empty() {
            return Err(err(
                remote.domains.referenced,
                format!("{key}.domains"),
                "needs at least one domain".into(),
            ));
        }
        let mut domains = Vec::new();
        for d in &remote.domains.value {
            let domain = d.value.to_ascii_lowercase();
            if let Some(owner) = remotes.iter().find(|r| r.domains.contains(&domain)) {
                return Err(err(
                    d.referenced,
                    format!("{key}.domains"),
                    format!(
                        "domain `{domain}` is served by both `{}` and `{}`",
                        owner.name, name.value
                    ),
                ));
            }
            domains.push(domain);
        }
        let listen = match &remote.listen {
            // Each remote on its own loopback address (`server::default_listen`).
            None => crate::default_listen(remotes.len(), 0),
            Some(text) => text.value.0.parse().map_err(|_| {
                err(
                    text.referenced,
                    format!("{key}.listen"),
                    format!(
                        "invalid listen address `{}`: expected IP:PORT, e.g. 127.0.0.1:2525",
                        text.value.0
                    ),
                )
            })?,
        };
        remotes.push(RemoteDef {
            name: name.value,
            domains,
            listen,
        });
    }
    if remotes.is_empty() {
        return Err(err(
            entries.referenced,
            "remotes".into(),
            "needs at least one remote".into(),
        ));
    }

    let mut timeline = Vec::new();
    for (i, entry) in faults.into_iter().enumerate() {
        let key = format!("faults[{i}]");
        let f = entry.value;
        let Some(remote) = f.remote else {
            continue; // a node fault: mailquake's business
        };
        if !remotes.iter().any(|r| r.name == remote.value) {
            let names: Vec<&str> = remotes.iter().map(|r| r.name.as_str()).collect();
            return Err(err(
                remote.referenced,
                format!("{key}.remote"),
                format!(
                    "no remote named `{}` (remotes: {})",
                    remote.value,
                    names.join(", ")
                ),
            ));
        }
        let fault = match f.fault.value {
            RawFault::Remote(fault) => fault,
            RawFault::Stuck => {
                return Err(err(
                    f.fault.referenced,
                    format!("{key}.fault"),
                    "`stuck` is a node fault".into(),
                ))
            }
        };
        fault
            .validate()
            .map_err(|m| err(f.fault.referenced, format!("{key}.fault"), m))?;
        let at = units::parse_duration(&f.at.value.0)
            .map_err(|m| err(f.at.referenced, format!("{key}.at"), m))?;
        let duration = match f.duration {
            None => None,
            Some(d) => Some(
                units::parse_duration(&d.value.0)
                    .map_err(|m| err(d.referenced, format!("{key}.for"), m))?,
            ),
        };
        timeline.push(TimelineEntry {
            remote: remote.value,
            at,
            duration,
            fault,
        });
    }
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
    remotes: Option<Spanned<Remotes>>,
    #[serde(default)]
    faults: Option<Vec<Spanned<RawFaultEntry>>>,
}

/// `remotes:` in file order; `external`/`token` mean "served elsewhere".
struct Remotes(Vec<(Spanned<String>, RawEntry)>);

enum RawEntry {
    Remote(RawRemote),
    Attach,
}

impl<'de> Deserialize<'de> for Remotes {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct RemotesVisitor<'a>(PhantomData<&'a ()>);
        impl<'de> Visitor<'de> for RemotesVisitor<'de> {
            type Value = Remotes;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map of remote names to { domains: [...], listen: IP:PORT }")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Remotes, A::Error> {
                let mut out = Vec::new();
                while let Some(name) = map.next_key::<Spanned<String>>()? {
                    let entry = if name.value == "external" || name.value == "token" {
                        map.next_value::<IgnoredAny>()?;
                        RawEntry::Attach
                    } else {
                        RawEntry::Remote(map.next_value()?)
                    };
                    out.push((name, entry));
                }
                Ok(Remotes(out))
            }
        }
        de.deserialize_map(RemotesVisitor(PhantomData))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRemote {
    domains: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    listen: Option<Spanned<Text>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFaultEntry {
    #[serde(default)]
    remote: Option<Spanned<String>>,
    #[serde(default)]
    #[allow(dead_code)]
    node: Option<IgnoredAny>,
    at: Spanned<Text>,
    #[serde(default, rename = "for")]
    duration: Option<Spanned<Text>>,
    fault: Spanned<RawFault>,
}

/// A remote fault in [`Fault`]'s own form, or the node fault `stuck`.
enum RawFault {
    Remote(Fault),
    Stuck,
}

impl<'de> Deserialize<'de> for RawFault {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct FaultVisitor;
        impl<'de> Visitor<'de> for FaultVisitor {
            type Value = RawFault;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "a fault: a name such as refuse, or a map such as { tarpit: { banner: 2s } }",
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawFault, E> {
                if v == "stuck" {
                    return Ok(RawFault::Stuck);
                }
                <Fault as Deserialize>::deserialize(de::IntoDeserializer::<E>::into_deserializer(v))
                    .map(RawFault::Remote)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawFault, A::Error> {
                let fault =
                    <Fault as Deserialize>::deserialize(MapAccessDeserializer::new(&mut map))?;
                if map.next_key::<IgnoredAny>()?.is_some() {
                    return Err(de::Error::custom("a fault is a map with exactly one key"));
                }
                Ok(RawFault::Remote(fault))
            }
        }
        de.deserialize_any(FaultVisitor)
    }
}

/// A scalar as written (`0`, `30s`, `127.0.0.1:25`), whatever YAML typed it as.
struct Text(String);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        impl Visitor<'_> for TextVisitor {
            type Value = Text;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a value such as 30s or 127.0.0.1:2525")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text, E> {
                Ok(Text(v.to_owned()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
        }
        de.deserialize_str(TextVisitor)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

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
  - { remote: down, at: 0, fault: { tarpit: { banner: 2s } } }
checks: [ no_loss ]
";

    #[test]
    fn reads_remotes_and_remote_faults_and_ignores_the_rest() {
        let served = parse(FILE, Path::new("day.yaml")).expect("valid");
        assert_eq!(served.seed, 7);
        assert_eq!(served.remotes.len(), 2);
        assert_eq!(served.remotes[0].domains, ["ok.test", "also.test"]);
        assert_eq!(served.timeline.len(), 2, "the node fault is skipped");
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
        ];
        for (text, want) in table {
            let got = parse(text, Path::new("x.yaml")).unwrap_err().to_string();
            assert_eq!(got, want);
        }
        let got = parse(
            "remotes: { ok: { domains: [ok.test], lisen: x } }",
            Path::new("x.yaml"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            got.starts_with("x.yaml:1:") && got.contains("unknown field `lisen`"),
            "{got}"
        );
        assert_eq!(got.lines().count(), 1);
    }
}
