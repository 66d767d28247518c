//! `checks:`: every check must have data to judge (its domains are mailed, its faults exist).

use std::time::Duration;

use serde_saphyr::{Location, Spanned};

use super::load::IndexedFaults;
use super::*;
use crate::scenario::units;

/// `(remotes, served elsewhere)`: remotes served elsewhere may be faulted by hand during
/// the run, so `during: faults` needs no fault of the scenario's there.
pub(super) fn checks(
    cx: &Cx,
    raw: &Spanned<Vec<Spanned<RawCheckEntry>>>,
    (remotes, elsewhere): (Option<&[RemoteSpec]>, bool),
    load: &Load,
    faults: &IndexedFaults,
    probes: &[Probe],
    warnings: &mut Vec<String>,
) -> Result<(Vec<Check>, Vec<AbortOnFail>), ScenarioError> {
    if raw.value.is_empty() {
        return Err(cx.err(
            raw.referenced,
            "checks",
            "needs at least one check, e.g. - no_loss",
        ));
    }
    let mut out = Vec::new();
    let mut aborts = Vec::new();
    for (i, entry) in raw.value.iter().enumerate() {
        let p = format!("checks[{i}]");
        let check = match &entry.value.check {
            RawCheck::Isolation(iso) => isolation(
                cx,
                &format!("{p}.isolation"),
                entry.referenced,
                iso,
                (remotes, elsewhere),
                load,
                faults,
                warnings,
            )?,
            RawCheck::Drain(drain) => {
                let p = format!("{p}.drain");
                let domain =
                    mixed_domain(cx, &drain.domain, &format!("{p}.domain"), remotes, load)?;
                // Remotes served elsewhere: checked when the run attaches.
                if let Some(remotes) = remotes {
                    let remote = &serving(remotes, &domain)
                        .expect("checked by mixed_domain")
                        .name;
                    let on_remote: Vec<&FaultWindow> = faults
                        .iter()
                        .map(|(_, f)| f)
                        .filter(|f| targets(f, remote))
                        .collect();
                    if !on_remote.iter().any(|f| f.duration.is_some()) {
                        let why = if on_remote.is_empty() {
                            "no fault targets it"
                        } else {
                            "none of its faults has a `for` (an end)"
                        };
                        return Err(cx.err(
                            drain.domain.referenced,
                            format!("{p}.domain"),
                            format!(
                                "`{domain}` is served by remote `{remote}`, but {why}: there is nothing to drain{}",
                                drainable_hint(remotes, load, faults)
                            ),
                        ));
                    }
                }
                Check::Drain {
                    domain,
                    within: cx.positive_duration(
                        &drain.within,
                        &format!("{p}.within"),
                        MAX_SPAN,
                    )?,
                }
            }
            RawCheck::NoLoss => Check::NoLoss,
            RawCheck::NoDuplicates(d) => Check::NoDuplicates {
                max: match &d.max {
                    Some(m) => {
                        cx.int(m, &format!("{p}.no_duplicates.max"), 0, u32::MAX as u64)? as u32
                    }
                    None => 0,
                },
            },
            RawCheck::Nodes(n) => Check::Nodes {
                min_ratio: match &n.min_ratio {
                    Some(r) => cx.percent(r, &format!("{p}.nodes.min_ratio"))?,
                    None => 0.0,
                },
            },
            RawCheck::Acceptance(a) => {
                let p = format!("{p}.acceptance");
                let min_accepted = match &a.min {
                    Some(m) => cx.percent(m, &format!("{p}.min"))?,
                    None => 0.99,
                };
                let (percentile, limit) = match one_limit(cx, &p, &a.limits())? {
                    Some((percentile, limit)) => (percentile, Some(limit)),
                    None => (99.0, None),
                };
                Check::Acceptance {
                    min_accepted,
                    percentile,
                    limit,
                }
            }
            RawCheck::Queue(q) => {
                let p = format!("{p}.queue");
                if probes.is_empty() {
                    return Err(cx.err(
                        entry.referenced,
                        p,
                        "needs queue probes: add `probes: [{ postfix: CONFIG_DIR }, …]` under `target`",
                    ));
                }
                let max = match &q.max {
                    Some(m) => Some(cx.int(m, &format!("{p}.max"), 0, u32::MAX as u64)? as u32),
                    None => None,
                };
                let baseline_within = match &q.baseline_within {
                    Some(d) => {
                        Some(cx.positive_duration(d, &format!("{p}.baseline_within"), MAX_SPAN)?)
                    }
                    None => None,
                };
                if max.is_none() && baseline_within.is_none() {
                    return Err(cx.err(
                        entry.referenced,
                        p,
                        "give `max` (most messages a node may hold) and/or `baseline_within` (time to return to the starting depth after the faults)",
                    ));
                }
                Check::Queue {
                    max,
                    baseline_within,
                }
            }
            RawCheck::Alert(a) => {
                super::alert::alert(cx, &format!("{p}.alert"), entry.referenced, a, faults)?
            }
        };
        if let Some(a) = abort_on_fail(cx, &p, entry.value.abort_on_fail.as_ref(), &check)? {
            aborts.push(AbortOnFail { check: i, grace: a });
        }
        out.push(check);
    }
    Ok((out, aborts))
}

/// `abort_on_fail` of check `check` (at `p`): its grace, if the run is to stop on it.
fn abort_on_fail(
    cx: &Cx,
    p: &str,
    raw: Option<&Spanned<RawAbortOnFail>>,
    check: &Check,
) -> Result<Option<Duration>, ScenarioError> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    let path = format!("{p}.abort_on_fail");
    let grace = match &raw.value {
        RawAbortOnFail::Flag(false) => return Ok(None),
        RawAbortOnFail::Flag(true) => Duration::ZERO,
        RawAbortOnFail::Grace(g) => cx.duration(&g.grace, &format!("{path}.grace"), MAX_WAIT)?,
    };
    if !check.decided_before_the_end() {
        return Err(cx.err(
            raw.referenced,
            path,
            format!(
                "`{}` is judged when the run ends, so the run cannot stop on it; abort_on_fail goes on isolation, drain or no_duplicates",
                check.name()
            ),
        ));
    }
    Ok(Some(grace))
}

/// The domains a `drain` could have meant: mixed domains whose remote has a fault that
/// ends (a typo or a wrong remote is the usual mistake), as ` (… : a.test, b.test)`.
fn drainable_hint(remotes: &[RemoteSpec], load: &Load, faults: &IndexedFaults) -> String {
    let drainable: Vec<&str> = load
        .mix
        .iter()
        .map(|(d, _)| d.as_str())
        .filter(|d| {
            serving(remotes, d).is_some_and(|r| {
                faults
                    .iter()
                    .any(|(_, f)| targets(f, &r.name) && f.duration.is_some())
            })
        })
        .collect();
    if drainable.is_empty() {
        " (no mixed domain has a fault with a `for`)".to_owned()
    } else {
        format!(
            " (domains with a fault that ends: {})",
            drainable.join(", ")
        )
    }
}

fn targets(fault: &FaultWindow, remote: &str) -> bool {
    matches!(&fault.subject, FaultSubject::Remote { remote: r, .. } if r == remote)
}

/// A domain that a remote serves and the mix sends mail to (lower-cased).
fn mixed_domain(
    cx: &Cx,
    raw: &Spanned<String>,
    path: &str,
    remotes: Option<&[RemoteSpec]>,
    load: &Load,
) -> Result<String, ScenarioError> {
    let domain = raw.value.to_ascii_lowercase();
    if remotes.is_some_and(|r| serving(r, &domain).is_none()) {
        return Err(cx.err(
            raw.referenced,
            path,
            format!("no remote serves `{}`", raw.value),
        ));
    }
    if !load.mix.iter().any(|(d, _)| *d == domain) {
        return Err(cx.err(
            raw.referenced,
            path,
            format!("`{}` is not in load.mix: no mail is sent to it", raw.value),
        ));
    }
    Ok(domain)
}

/// The one percentile limit given (`p99: 5s` → (99.0, 5s)), if any; two is an error.
fn one_limit(
    cx: &Cx,
    path: &str,
    limits: &PercentileLimits,
) -> Result<Option<(f64, Duration)>, ScenarioError> {
    let mut found: Option<(&str, f64, Duration)> = None;
    for (key, value) in limits.0.iter() {
        let Some(value) = value else { continue };
        let key_path = format!("{path}.{key}");
        if let Some((first, _, _)) = found {
            return Err(cx.err(
                value.referenced,
                key_path,
                format!("give one percentile limit, not both `{first}` and `{key}`"),
            ));
        }
        let percentile = units::percentile_of(key).expect("keys come from PERCENTILE_KEYS");
        found = Some((
            key,
            percentile,
            cx.positive_duration(value, &key_path, MAX_WAIT)?,
        ));
    }
    Ok(found.map(|(_, p, d)| (p, d)))
}

#[allow(clippy::too_many_arguments)]
fn isolation(
    cx: &Cx,
    p: &str,
    at: Location,
    raw: &RawIsolation,
    (remotes, elsewhere): (Option<&[RemoteSpec]>, bool),
    load: &Load,
    faults: &IndexedFaults,
    warnings: &mut Vec<String>,
) -> Result<Check, ScenarioError> {
    if raw.healthy.value.is_empty() {
        return Err(cx.err(
            raw.healthy.referenced,
            format!("{p}.healthy"),
            "needs at least one domain",
        ));
    }
    let mut healthy: Vec<String> = Vec::new();
    for (i, d) in raw.healthy.value.iter().enumerate() {
        let path = format!("{p}.healthy[{i}]");
        let domain = mixed_domain(cx, d, &path, remotes, load)?;
        // Remotes served elsewhere: checked when the run attaches.
        if let Some(remotes) = remotes {
            let remote = &serving(remotes, &domain)
                .expect("checked by mixed_domain")
                .name;
            if let Some((index, _)) = faults.iter().find(|(_, f)| targets(f, remote)) {
                return Err(cx.err(
                    d.referenced,
                    path,
                    format!("`{domain}` is served by remote `{remote}`, which faults[{index}] targets: a healthy domain's remote must have no fault"),
                ));
            }
        }
        if !healthy.contains(&domain) {
            healthy.push(domain);
        }
    }
    let during = match &raw.during.value {
        RawDuring::Faults => {
            // Remotes served elsewhere: the faults set on them by hand count too (and
            // the check is inconclusive if none happened).
            if !elsewhere
                && !faults
                    .iter()
                    .any(|(_, f)| matches!(f.subject, FaultSubject::Remote { .. }))
            {
                return Err(cx.err(
                    raw.during.referenced,
                    format!("{p}.during"),
                    "`during: faults` needs at least one remote fault in `faults` (or remotes served elsewhere, whose faults set by hand count)",
                ));
            }
            During::Faults
        }
        RawDuring::Window(w) => {
            let (from, to) = super::baseline::window(cx, &format!("{p}.during"), w)?;
            During::Window { from, to }
        }
    };
    let Some((percentile, limit)) = one_limit(cx, p, &raw.limits())? else {
        let keys: Vec<&str> = units::PERCENTILE_KEYS.iter().map(|(k, _)| *k).collect();
        return Err(cx.err(
            at,
            p,
            format!("needs a latency limit, one of: {}", keys.join(", ")),
        ));
    };
    let min_delivered = match &raw.min_delivered {
        Some(m) => cx.percent(m, &format!("{p}.min_delivered"))?,
        None => 0.9,
    };
    let baseline = super::baseline::baseline(
        cx,
        p,
        at,
        raw.baseline.as_ref(),
        &during,
        &healthy,
        percentile,
        load,
        faults,
        warnings,
    )?;
    Ok(Check::Isolation {
        healthy,
        during,
        percentile,
        limit,
        min_delivered,
        baseline,
    })
}
