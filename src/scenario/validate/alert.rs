//! `checks[i].alert`: a Prometheus alert that must notice a fault. The fault window it
//! relates to is named by `during` (a remote, a node or an `exec` action's name; its
//! first window in the timeline) or is the timeline's first fault; the run must last
//! until the alert's deadlines have passed (`settle`).

use serde_saphyr::Location;

use super::external::http_url;
use super::load::IndexedFaults;
use super::*;

/// `{ alert: { prometheus, name, fires_within, resolves_within, labels, during } }`.
pub(super) fn alert(
    cx: &Cx,
    p: &str,
    at: Location,
    raw: &RawAlert,
    faults: &IndexedFaults,
) -> Result<Check, ScenarioError> {
    let prometheus = http_url(
        cx,
        &raw.prometheus,
        &format!("{p}.prometheus"),
        "Prometheus's HTTP API is read over plain HTTP",
        "Prometheus's address, http://HOST:PORT, e.g. http://127.0.0.1:9090",
    )?;
    let name = raw.name.value.trim();
    if !is_metric_name(name) {
        return Err(cx.err(
            raw.name.referenced,
            format!("{p}.name"),
            format!("invalid alert name `{name}`: an alerting rule's name is letters, digits, `_` and `:`, not starting with a digit"),
        ));
    }
    let mut labels = Vec::new();
    for (key, value) in raw.labels.iter().flat_map(|l| l.value.0.iter()) {
        let path = format!("{p}.labels.{}", key.value);
        if !is_label_name(&key.value) || key.value == "alertname" {
            return Err(cx.err(
                key.referenced,
                path,
                "not a label to match: a label name is letters, digits and `_`, not starting with a digit (the alert's own name goes in `name`)",
            ));
        }
        labels.push((key.value.clone(), value.value.clone()));
    }
    let fires_within =
        cx.positive_duration(&raw.fires_within, &format!("{p}.fires_within"), MAX_SPAN)?;
    let resolves_within = match &raw.resolves_within {
        Some(d) => Some(cx.positive_duration(d, &format!("{p}.resolves_within"), MAX_SPAN)?),
        None => None,
    };
    let window = match &raw.during {
        Some(during) => faults
            .iter()
            .map(|(_, f)| f)
            .filter(|f| subject_name(&f.subject) == during.value.trim())
            .min_by_key(|f| f.at)
            .ok_or_else(|| {
                let names: Vec<&str> = faults.iter().map(|(_, f)| subject_name(&f.subject)).collect();
                cx.err(
                    during.referenced,
                    format!("{p}.during"),
                    format!(
                        "no fault on a remote, node or exec action named `{}` (faults on: {})",
                        during.value,
                        if names.is_empty() { "none".into() } else { names.join(", ") }
                    ),
                )
            })?,
        None => faults.iter().map(|(_, f)| f).min_by_key(|f| f.at).ok_or_else(|| {
            cx.err(
                at,
                p,
                "needs a fault to notice: add one to `faults` (the alert is judged against its window)",
            )
        })?,
    };
    if resolves_within.is_some() && window.duration.is_none() {
        let path = format!("{p}.resolves_within");
        let at = raw.resolves_within.as_ref().map_or(at, |r| r.referenced);
        return Err(cx.err(
            at,
            path,
            format!(
                "the fault on {} has no `for` (an end): there is nothing to resolve after",
                window.subject.target()
            ),
        ));
    }
    Ok(Check::Alert(Box::new(AlertCheck {
        prometheus,
        name: name.to_string(),
        labels,
        during: (window.subject.target(), window.at, window.end()),
        fires_within,
        resolves_within,
    })))
}

/// What `during` names a fault by: its remote, its node, or its exec action's name.
fn subject_name(subject: &FaultSubject) -> &str {
    match subject {
        FaultSubject::Remote { remote, .. } => remote,
        FaultSubject::Node { node, .. } => node,
        FaultSubject::Exec { name, .. } => name,
    }
}

/// Prometheus's metric (and alerting rule) names: `[a-zA-Z_:][a-zA-Z0-9_:]*`.
fn is_metric_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// Prometheus's label names: `[a-zA-Z_][a-zA-Z0-9_]*`.
fn is_label_name(s: &str) -> bool {
    !s.contains(':') && is_metric_name(s)
}

/// The run must outlast every alert check's deadlines (its fault's start + `fires_within`,
/// its end + `resolves_within`): a window still open when measurement stops can only be
/// inconclusive. One line naming both figures and the `settle` it needs.
pub(super) fn covered_by_settle(
    cx: &Cx,
    raw: &RawScenario,
    plan: &Plan,
) -> Result<(), ScenarioError> {
    let (base, base_what) = if plan.timeline_end() > plan.load.duration() {
        (plan.timeline_end(), "the last fault ends")
    } else {
        (plan.load.duration(), "the load ends")
    };
    let run_end = base + plan.settle;
    let fmt = |d: Duration| humantime::format_duration(d).to_string();
    for (i, check) in plan.checks.iter().enumerate() {
        let Check::Alert(a) = check else { continue };
        let (_, start, end) = a.during;
        let fires_by = start + a.fires_within;
        let resolves_by = end.zip(a.resolves_within).map(|(e, w)| e + w);
        let (closes, why) = match (resolves_by, end, a.resolves_within) {
            (Some(r), Some(end), Some(w)) if r >= fires_by => (
                r,
                format!(
                    "its fault ends at {} + resolves_within {}",
                    fmt(end),
                    fmt(w)
                ),
            ),
            _ => (
                fires_by,
                format!(
                    "its fault starts at {} + fires_within {}",
                    fmt(start),
                    fmt(a.fires_within)
                ),
            ),
        };
        if closes <= run_end {
            continue;
        }
        let (at, path) = match &raw.settle {
            Some(s) => (s.referenced, "settle".to_string()),
            None => (raw.checks.value[i].referenced, format!("checks[{i}].alert")),
        };
        return Err(cx.err(
            at,
            path,
            format!(
                "the run ends at {} ({base_what} at {} + settle {}), before the alert `{}` is judged at {} ({why}): `settle` needs at least {}",
                fmt(run_end),
                fmt(base),
                fmt(plan.settle),
                a.name,
                fmt(closes),
                fmt(closes - base),
            ),
        ));
    }
    Ok(())
}
