//! Raw scenario → [`Plan`]: every rule that types alone cannot express (names resolve,
//! the mix sums to 100%, checks have data to judge, caps hold). Each error points at the
//! offending value (`Spanned` location) and names its key path; the first error wins.
//! The rules live by section: `target.rs` (target, remotes), `load.rs` (load, mix,
//! faults), `checks.rs` (checks), `alert.rs` (alert checks), `settle.rs` (settle outlasts the drain windows).

use std::path::Path;
use std::time::Duration;

use serde_saphyr::{Location, Spanned};

use super::plan::*;
use super::raw::*;
use super::units;
use super::ScenarioError;
use fake_remotes::scenario::validate as remote_rules;

mod alert;
mod baseline;
mod capacity;
mod caps;
mod checks;
mod external;
mod load;
mod reach;
mod safety;
mod settle;
mod target;

/// Longest step, fault offset or fault window: a week (shared with `fake-remotes`).
use fake_remotes::scenario::MAX_SPAN;
/// Longest settle, client timeout or backoff.
const MAX_WAIT: Duration = Duration::from_secs(3600);
/// Most messages one scenario may plan (the ledger is sized for a 10-million soak).
const MAX_MESSAGES: f64 = 10_000_000.0;

/// Builds errors that point into the file being validated.
struct Cx<'a> {
    file: &'a Path,
}

impl Cx<'_> {
    /// An error of the rules shared with `fake-remotes`, pointing into this file.
    fn spec(&self, e: fake_remotes::scenario::SpecError) -> ScenarioError {
        self.err(e.at, e.path, e.message)
    }

    fn err(
        &self,
        at: Location,
        path: impl Into<String>,
        message: impl Into<String>,
    ) -> ScenarioError {
        ScenarioError {
            file: self.file.to_owned(),
            line: at.line(),
            col: at.column(),
            path: path.into(),
            message: message.into(),
        }
    }

    fn duration(
        &self,
        text: &Spanned<Text>,
        path: &str,
        max: Duration,
    ) -> Result<Duration, ScenarioError> {
        units::parse_duration(&text.value.0, max).map_err(|m| self.err(text.referenced, path, m))
    }

    fn positive_duration(
        &self,
        text: &Spanned<Text>,
        path: &str,
        max: Duration,
    ) -> Result<Duration, ScenarioError> {
        let duration = self.duration(text, path, max)?;
        if duration.is_zero() {
            return Err(self.err(text.referenced, path, "must be more than 0"));
        }
        Ok(duration)
    }

    fn percent(&self, text: &Spanned<Text>, path: &str) -> Result<f64, ScenarioError> {
        units::parse_percent(&text.value.0).map_err(|m| self.err(text.referenced, path, m))
    }

    /// A whole number in `min..=max`, with the range in the message.
    fn int(
        &self,
        text: &Spanned<Text>,
        path: &str,
        min: u64,
        max: u64,
    ) -> Result<u64, ScenarioError> {
        let t = text.value.0.trim();
        let range = if max == u64::MAX {
            format!("a whole number of at least {min}")
        } else {
            format!("a whole number between {min} and {max}")
        };
        let number = t
            .parse::<u64>()
            .ok()
            .filter(|_| t.chars().all(|c| c.is_ascii_digit()));
        match number {
            None => Err(self.err(
                text.referenced,
                path,
                format!("invalid number `{t}`: expected {range}"),
            )),
            Some(n) if n < min || n > max => Err(self.err(
                text.referenced,
                path,
                format!("`{t}` is out of range: expected {range}"),
            )),
            Some(n) => Ok(n),
        }
    }
}

/// `served`: for a scenario whose remotes are served elsewhere, the remotes found there
/// (at attach time). Without it such a scenario is checked in everything that does not
/// depend on the remotes (which domains they serve, their names); with it, fully.
pub fn plan(
    raw: RawScenario,
    file: &Path,
    served: Option<&[RemoteSpec]>,
) -> Result<Plan, ScenarioError> {
    let cx = Cx { file };
    caps::check(&cx, &raw)?;
    if raw.version.value.0.trim() != "1" {
        return Err(cx.err(
            raw.version.referenced,
            "version",
            format!(
                "unsupported version `{}`: this mailquake reads version 1",
                raw.version.value.0
            ),
        ));
    }
    let name = &raw.name.value;
    if name.is_empty()
        || name.len() > 64
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    {
        return Err(cx.err(
            raw.name.referenced,
            "name",
            format!("invalid name `{name}`: use 1 to 64 letters, digits, `.`, `_` or `-` (it names the report folder)"),
        ));
    }
    let seed = match &raw.seed {
        Some(seed) => cx.int(seed, "seed", 0, u64::MAX)?,
        None => 1,
    };
    let target = target::target(&cx, raw.target.as_ref().map(|t| &t.target))?;
    let probes = target::probes(&cx, raw.target.as_ref(), &target)?;
    let external = external::external(&cx, &raw.remotes)?;
    // `None`: served elsewhere and not known yet.
    let remotes = match &external {
        None => Some(remote_rules::remotes(&raw.remotes).map_err(|e| cx.spec(e))?),
        Some(_) => served.map(<[RemoteSpec]>::to_vec),
    };
    let mut safety = safety::safety(&cx, &raw)?;
    safety::domains(&cx, &raw, &safety)?;
    let load = load::load(&cx, &raw.load, remotes.as_deref(), &target)?;
    safety::caps(&cx, &raw.load, &target, &load, &safety)?;
    let faults = load::faults(&cx, &raw.faults, remotes.as_deref(), &target, &load)?;
    let (checks, abort_on_fail) = checks::checks(
        &cx,
        &raw.checks,
        (remotes.as_deref(), external.is_some()),
        &load,
        &faults,
        &probes,
        &mut safety.warnings,
    )?;
    let settle = match &raw.settle {
        Some(text) => cx.duration(text, "settle", MAX_WAIT)?,
        None => Duration::from_secs(60),
    };
    let preflight = Preflight {
        timeout: match raw.preflight.as_ref().and_then(|p| p.timeout.as_ref()) {
            Some(text) => cx.positive_duration(text, "preflight.timeout", MAX_WAIT)?,
            None => Preflight::DEFAULT_TIMEOUT,
        },
        skip: false,
    };
    let mut remotes = remotes.unwrap_or_default();
    match &external {
        None => {
            remote_rules::add_bounce_remote(&raw.remotes, &mut remotes).map_err(|e| cx.spec(e))?
        }
        Some(_) if served.is_some() => external::bounces_served(&cx, &raw.remotes, &remotes)?,
        Some(_) => {}
    }
    let capacity = capacity::capacity(&cx, &raw, &load, &target, &safety)?;
    let mut faults: Vec<FaultWindow> = faults.into_iter().map(|(_, f)| f).collect();
    // Stable: faults at the same offset keep their file order.
    faults.sort_by_key(|f| f.at);
    let plan = Plan {
        name: name.clone(),
        description: raw.description.clone().unwrap_or_default(),
        seed,
        source: file.to_owned(),
        sets: Vec::new(),
        target,
        remotes,
        external_remotes: external,
        load,
        faults,
        checks,
        abort_on_fail,
        settle,
        probes,
        preflight,
        safety,
        capacity,
    };
    settle::covers_drains(&cx, &raw, &plan)?;
    alert::covered_by_settle(&cx, &raw, &plan)?;
    Ok(plan)
}

fn serving<'r>(remotes: &'r [RemoteSpec], domain: &str) -> Option<&'r RemoteSpec> {
    remotes
        .iter()
        .find(|r| r.domains.iter().any(|d| d == domain))
}

fn served_domains(remotes: &[RemoteSpec]) -> String {
    let all: Vec<&str> = remotes
        .iter()
        .flat_map(|r| r.domains.iter().map(String::as_str))
        .collect();
    all.join(", ")
}
