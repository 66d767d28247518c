//! `load:` (steps, mix, message shape) and the `faults:` timeline.

use serde_saphyr::Spanned;

use super::*;
use crate::scenario::units::{self, format_percent};

pub(super) fn load(cx: &Cx, raw: &RawLoad, remotes: &[RemoteSpec]) -> Result<Load, ScenarioError> {
    if raw.steps.value.is_empty() {
        return Err(cx.err(
            raw.steps.referenced,
            "load.steps",
            "needs at least one step, e.g. { rate: 200/s, for: 30s }",
        ));
    }
    let mut steps = Vec::new();
    for (i, step) in raw.steps.value.iter().enumerate() {
        let p = format!("load.steps[{i}]");
        let s = &step.value;
        let rate = |t: &Spanned<Text>, key: &str| {
            units::parse_rate(&t.value.0).map_err(|m| cx.err(t.referenced, format!("{p}.{key}"), m))
        };
        steps.push(Step {
            rate: rate(&s.rate, "rate")?,
            to: s.to.as_ref().map(|t| rate(t, "to")).transpose()?,
            duration: cx.positive_duration(&s.duration, &format!("{p}.for"), MAX_SPAN)?,
        });
    }
    let shape = Load {
        steps,
        mix: Vec::new(),
        message: MessageSpec {
            size: 2048,
            recipients: 1,
        },
        sessions: 50,
        messages_per_connection: 10,
    };
    if shape.duration() > MAX_SPAN {
        return Err(cx.err(
            raw.steps.referenced,
            "load.steps",
            format!(
                "the steps last {}, more than the cap of 7days",
                humantime::format_duration(shape.duration())
            ),
        ));
    }
    if shape.planned_messages() > MAX_MESSAGES {
        return Err(cx.err(
            raw.steps.referenced,
            "load.steps",
            format!(
                "the steps plan {:.0} messages, more than the cap of 10000000",
                shape.planned_messages()
            ),
        ));
    }
    let mix = mix(cx, &raw.mix, remotes)?;
    let mut message = shape.message.clone();
    if let Some(m) = &raw.message {
        if let Some(size) = &m.size {
            message.size = units::parse_size(&size.value.0)
                .map_err(|e| cx.err(size.referenced, "load.message.size", e))?;
        }
        if let Some(r) = &m.recipients {
            message.recipients = cx.int(r, "load.message.recipients", 1, 64)? as u8;
        }
    }
    let sessions = match &raw.sessions {
        Some(s) => cx.int(s, "load.sessions", 1, 10_000)? as usize,
        None => shape.sessions,
    };
    let messages_per_connection = match &raw.messages_per_connection {
        Some(m) => cx.int(m, "load.messages_per_connection", 1, u32::MAX as u64)? as u32,
        None => shape.messages_per_connection,
    };
    Ok(Load {
        mix,
        message,
        sessions,
        messages_per_connection,
        ..shape
    })
}

fn mix(
    cx: &Cx,
    raw: &Spanned<Entries<Spanned<Text>>>,
    remotes: &[RemoteSpec],
) -> Result<Vec<(String, f64)>, ScenarioError> {
    if raw.value.0.is_empty() {
        return Err(cx.err(
            raw.referenced,
            "load.mix",
            "needs at least one domain, e.g. { ok.test: 100% }",
        ));
    }
    let mut mix: Vec<(String, f64)> = Vec::new();
    for (domain, share) in &raw.value.0 {
        let d = domain.value.to_ascii_lowercase();
        let p = format!("load.mix.{}", domain.value);
        if d == BOUNCE_DOMAIN {
            return Err(cx.err(
                domain.referenced,
                p,
                format!(
                    "`{BOUNCE_DOMAIN}` receives the cluster's bounces; it cannot be in the mix"
                ),
            ));
        }
        if serving(remotes, &d).is_none() {
            return Err(cx.err(
                domain.referenced,
                p,
                format!(
                    "no remote serves `{}` (served: {})",
                    domain.value,
                    served_domains(remotes)
                ),
            ));
        }
        if mix.iter().any(|(m, _)| *m == d) {
            return Err(cx.err(
                domain.referenced,
                p,
                format!("`{}` is in the mix twice", domain.value),
            ));
        }
        let fraction = cx.percent(share, &p)?;
        if fraction <= 0.0 {
            return Err(cx.err(
                share.referenced,
                p,
                "a share must be more than 0%; leave the domain out instead",
            ));
        }
        mix.push((d, fraction));
    }
    let sum: f64 = mix.iter().map(|(_, s)| s).sum();
    if (sum - 1.0).abs() > 0.0001 {
        return Err(cx.err(
            raw.referenced,
            "load.mix",
            format!("shares sum to {}, must be 100%", format_percent(sum)),
        ));
    }
    Ok(mix)
}

/// Validated faults with their index in the file (messages cite `faults[i]`).
pub(super) type IndexedFaults = Vec<(usize, FaultWindow)>;

pub(super) fn faults(
    cx: &Cx,
    raw: &[Spanned<RawFault>],
    remotes: &[RemoteSpec],
    target: &Target,
    load: &Load,
) -> Result<IndexedFaults, ScenarioError> {
    let mut out = Vec::new();
    for (i, entry) in raw.iter().enumerate() {
        let p = format!("faults[{i}]");
        let f = &entry.value;
        let subject = match (&f.remote, &f.node) {
            (Some(remote), None) => {
                if !remotes.iter().any(|r| r.name == remote.value) {
                    let mut names: Vec<&str> = remotes.iter().map(|r| r.name.as_str()).collect();
                    names.sort_unstable();
                    return Err(cx.err(
                        remote.referenced,
                        format!("{p}.remote"),
                        format!(
                            "no remote named `{}` (remotes: {})",
                            remote.value,
                            names.join(", ")
                        ),
                    ));
                }
                let fault = match &f.fault.value {
                    RawFaultKind::Remote(fault) => {
                        // Ranges serde cannot check (probability, reply code); the fault's
                        // inner values have no spans, so point at the fault itself.
                        fault.validate().map_err(|m| {
                            let path = format!("{p}.fault.{}", fault.kind());
                            cx.err(f.fault.referenced, path, m)
                        })?;
                        fault.clone()
                    }
                    RawFaultKind::Stuck => {
                        return Err(cx.err(
                            f.fault.referenced,
                            format!("{p}.fault"),
                            format!("`stuck` is a node fault; a remote takes {}", remote_kinds()),
                        ))
                    }
                };
                FaultSubject::Remote {
                    remote: remote.value.clone(),
                    fault,
                }
            }
            (None, Some(node)) => {
                let Target::Embedded(spec) = target else {
                    return Err(cx.err(
                        node.referenced,
                        format!("{p}.node"),
                        "node faults need the embedded target",
                    ));
                };
                let known = node
                    .value
                    .strip_prefix('n')
                    .filter(|n| !n.starts_with('0'))
                    .and_then(|n| n.parse::<usize>().ok())
                    .is_some_and(|n| (1..=spec.nodes).contains(&n));
                if !known {
                    return Err(cx.err(
                        node.referenced,
                        format!("{p}.node"),
                        format!(
                            "no node named `{}` (nodes: n1..n{})",
                            node.value, spec.nodes
                        ),
                    ));
                }
                if let RawFaultKind::Remote(other) = &f.fault.value {
                    return Err(cx.err(
                        f.fault.referenced,
                        format!("{p}.fault"),
                        format!(
                            "`{}` is a remote fault; a node takes only `stuck`",
                            other.kind()
                        ),
                    ));
                }
                FaultSubject::Node {
                    node: node.value.clone(),
                    fault: NodeFault::Stuck,
                }
            }
            (Some(_), Some(node)) => {
                return Err(cx.err(
                    node.referenced,
                    format!("{p}.node"),
                    "give one of `remote` or `node`, not both",
                ))
            }
            (None, None) => {
                return Err(cx.err(
                    entry.referenced,
                    p,
                    "missing `remote` or `node`: the fault needs a subject",
                ))
            }
        };
        let at = cx.duration(&f.at, &format!("{p}.at"), MAX_SPAN)?;
        if at >= load.duration() {
            return Err(cx.err(
                f.at.referenced,
                format!("{p}.at"),
                format!(
                    "starts at {}, but the load ends at {}",
                    humantime::format_duration(at),
                    humantime::format_duration(load.duration())
                ),
            ));
        }
        let duration = match &f.duration {
            Some(d) => Some(cx.positive_duration(d, &format!("{p}.for"), MAX_SPAN)?),
            None => None,
        };
        out.push((
            i,
            FaultWindow {
                subject,
                at,
                duration,
            },
        ));
    }
    Ok(out)
}

/// The remote fault kinds, for messages: `refuse, unreachable, … or tls`.
fn remote_kinds() -> String {
    let kinds = fake_remotes::Fault::KINDS;
    match kinds.split_last() {
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}
