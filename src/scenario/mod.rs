//! Scenario files: YAML → raw serde mirror (`raw/`) → validated [`Plan`] (`validate.rs`).
//! Errors carry `file:line:col`, the key path and what was expected, on one line.
//!
//! Only the first problem is reported: the user fixes it and runs `validate` again. Both
//! YAML/type errors (from the deserializer) and semantic errors (from `validate.rs`)
//! come out as the same [`ScenarioError`], so callers print `{err}` and exit 2.

use std::fmt;
use std::path::{Path, PathBuf};

pub mod capacity;
pub mod plan;
mod raw;
pub mod safety;
pub mod units;
mod validate;

pub use capacity::CapacitySpec;
pub use plan::*;

/// Why a scenario was rejected; `Display` is one line: `FILE:LINE:COL: KEY.PATH: message`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioError {
    pub file: PathBuf,
    /// 1-based; 0 when the problem has no place in the file (it could not be read).
    pub line: u64,
    /// 1-based; 0 when unknown.
    pub col: u64,
    /// Where in the document, e.g. `load.steps[0].rate`; empty for the document itself.
    pub path: String,
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        one_line(f, &self.file.display().to_string())?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.col.max(1))?;
        }
        f.write_str(": ")?;
        if !self.path.is_empty() {
            one_line(f, &self.path)?;
            f.write_str(": ")?;
        }
        one_line(f, &self.message)
    }
}

/// Writes `text` with control characters escaped: paths and messages quote user text
/// (keys, values, file names), and the error must stay on one line whatever it holds.
fn one_line(f: &mut fmt::Formatter<'_>, text: &str) -> fmt::Result {
    for c in text.chars() {
        if c.is_control() {
            write!(f, "{}", c.escape_default())?;
        } else {
            write!(f, "{c}")?;
        }
    }
    Ok(())
}

impl std::error::Error for ScenarioError {}

/// Reads and validates a scenario file (with `${NAME}` from the environment).
pub fn load(path: &Path) -> Result<Plan, ScenarioError> {
    Source::read(path, &[])?.plan()
}

/// [`load`] with `--set KEY=VALUE` arguments applied first.
pub fn load_with(path: &Path, sets: &[String]) -> Result<Plan, ScenarioError> {
    Source::read(path, sets)?.plan()
}

/// Reads and validates again a scenario whose remotes are served elsewhere, now that
/// the remotes found there are known (attach time; see `validate/external.rs`), with
/// the `--set` arguments it was first read with.
pub fn load_attached(
    path: &Path,
    sets: &[String],
    served: &[RemoteSpec],
) -> Result<Plan, ScenarioError> {
    Source::read(path, sets)?.plan_with(Some(served))
}

/// A scenario file's text with its parameters resolved (`--set`, then `${NAME}` from the
/// environment: `fake_remotes::scenario::resolve`), and the way back from a place in it
/// to the file's line and column, or to the `--set` argument that put it there.
#[derive(Clone, Debug)]
pub struct Source {
    pub file: PathBuf,
    sets: Vec<String>,
    resolved: fake_remotes::scenario::resolve::Resolved,
}

impl Source {
    /// Reads `path` and resolves its parameters; an error names the file's line and
    /// column (an unset variable) or the `--set` argument.
    pub fn read(path: &Path, sets: &[String]) -> Result<Source, ScenarioError> {
        let text = read(path)?;
        let env = |name: &str| std::env::var(name).ok();
        let resolved = fake_remotes::scenario::resolve::resolve(&text, sets, &env)
            .map_err(|e| origin_error(path, sets, e.origin, e.path, e.message))?;
        Ok(Source {
            file: path.to_owned(),
            sets: sets.to_vec(),
            resolved,
        })
    }

    /// The resolved text: what the plan is read from and a run saves.
    pub fn text(&self) -> &str {
        &self.resolved.text
    }

    /// Validates the resolved text; errors point into the file (or at a `--set`).
    pub fn plan(&self) -> Result<Plan, ScenarioError> {
        self.plan_with(None)
    }

    fn plan_with(&self, served: Option<&[RemoteSpec]>) -> Result<Plan, ScenarioError> {
        let result = deserialize(self.text(), &self.file)
            .and_then(|raw| validate::plan(raw, &self.file, served));
        match result {
            Ok(plan) => Ok(Plan {
                sets: self.sets.clone(),
                ..plan
            }),
            Err(e) if e.line == 0 => Err(e),
            Err(e) => {
                let origin = self.resolved.origin(e.line, e.col);
                Err(origin_error(
                    &self.file, &self.sets, origin, e.path, e.message,
                ))
            }
        }
    }
}

/// An error at `origin`: the file's line and column, or `--set ARG` in place of them.
fn origin_error(
    file: &Path,
    sets: &[String],
    origin: fake_remotes::scenario::resolve::Origin,
    path: String,
    message: String,
) -> ScenarioError {
    use fake_remotes::scenario::resolve::Origin;
    match origin {
        Origin::File { line, col } => ScenarioError {
            file: file.to_owned(),
            line,
            col,
            path,
            message,
        },
        Origin::Set(i) => ScenarioError {
            file: PathBuf::from(format!("--set {}", sets.get(i).map_or("", String::as_str))),
            line: 0,
            col: 0,
            path,
            message,
        },
    }
}

/// Reads a scenario file's text (a run keeps it, to save it beside its reports). Only a
/// regular file of at most 1 MiB of UTF-8 text is read (`fake_remotes::scenario_input`).
pub fn read(path: &Path) -> Result<String, ScenarioError> {
    fake_remotes::scenario_input::read_text(path).map_err(|e| ScenarioError {
        file: path.to_owned(),
        line: e.line,
        col: e.col,
        path: String::new(),
        message: e.message,
    })
}

/// YAML text → the raw mirror (`fake_remotes::scenario::yaml`, which words errors for
/// the `fake-remotes` reader alike).
fn deserialize(text: &str, file: &Path) -> Result<raw::RawScenario, ScenarioError> {
    fake_remotes::scenario::yaml::deserialize(text).map_err(|e| ScenarioError {
        file: file.to_owned(),
        line: e.line,
        col: e.col,
        path: e.path,
        message: e.message,
    })
}

/// Validates scenario text; `file` is only used in messages and as [`Plan::source`].
pub fn parse(text: &str, file: &Path) -> Result<Plan, ScenarioError> {
    let raw = deserialize(text, file)?;
    validate::plan(raw, file, None)
}

/// [`parse`] for a scenario attached to remotes served elsewhere, checked against
/// `served` as the run checked it (`mailquake report` of an attached run).
pub fn parse_attached(
    text: &str,
    file: &Path,
    served: &[RemoteSpec],
) -> Result<Plan, ScenarioError> {
    let raw = deserialize(text, file)?;
    validate::plan(raw, file, Some(served))
}

/// One line for people: what the plan will do.
/// `3 remotes (ok, down, bounces), embedded cluster of 3 nodes (per-destination), 36000 messages over 3m, 1 fault, 4 checks (isolation, drain, no_loss, no_duplicates)`
pub fn describe(plan: &Plan) -> String {
    let names: Vec<&str> = plan.remotes.iter().map(|r| r.name.as_str()).collect();
    let remotes = match &plan.external_remotes {
        Some(ext) if names.is_empty() => format!("remotes served at {}", ext.url),
        Some(ext) => format!(
            "{} ({}) served at {}",
            plural(names.len(), "remote"),
            names.join(", "),
            ext.url
        ),
        None => format!("{} ({})", plural(names.len(), "remote"), names.join(", ")),
    };
    let target = match &plan.target {
        Target::Embedded(e) => {
            let queue = match e.queue {
                QueueDesign::PerDestination => "per-destination",
                QueueDesign::Shared => "shared",
            };
            format!("embedded cluster of {} ({queue})", plural(e.nodes, "node"))
        }
        Target::Smtp(endpoints) => {
            let names: Vec<String> = endpoints
                .iter()
                .map(|e| match e.weight {
                    1 => e.addr.clone(),
                    w => format!("{} (weight {w})", e.addr),
                })
                .collect();
            format!("SMTP target {}", names.join(", "))
        }
    };
    let checks: Vec<&str> = plan.checks.iter().map(Check::name).collect();
    format!(
        "{remotes}, {}, {} over {}, {}, {} ({})",
        target,
        match plan.load.model {
            LoadModel::Open => plural(plan.load.planned_messages().round() as usize, "message"),
            LoadModel::Closed => format!(
                "{} back to back",
                plural(plan.load.sessions, "closed-model session")
            ),
        },
        humantime::format_duration(plan.load.duration()),
        plural(plan.faults.len(), "fault"),
        plural(plan.checks.len(), "check"),
        checks.join(", "),
    )
}

fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_capacity;
#[cfg(test)]
mod tests_faults;
#[cfg(test)]
mod tests_load;
#[cfg(test)]
mod tests_safety;
