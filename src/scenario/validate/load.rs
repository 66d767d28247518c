//! `load:` (steps, mix, message shape) and the `faults:` timeline.

use std::path::Path;
use std::time::Duration;

use serde_saphyr::Spanned;

use super::*;
use crate::scenario::units::{self, format_percent};
use crate::smtp::{Credentials, TlsMode};
use fake_remotes::scenario::validate::Subject;

/// Largest `load.tls.ca` file (a full public CA bundle is about 200 KiB).
const MAX_CA_BYTES: u64 = 1 << 20;

/// `remotes`: `None` for remotes served elsewhere, not known yet.
pub(super) fn load(
    cx: &Cx,
    raw: &RawLoad,
    remotes: Option<&[RemoteSpec]>,
    target: &Target,
) -> Result<Load, ScenarioError> {
    let model = match &raw.model {
        None => LoadModel::Open,
        Some(m) => match m.value.0.trim() {
            "open" => LoadModel::Open,
            "closed" => LoadModel::Closed,
            other => {
                return Err(cx.err(
                    m.referenced,
                    "load.model",
                    format!("unknown model `{other}`: expected open or closed"),
                ))
            }
        },
    };
    if raw.steps.value.is_empty() {
        let example = match model {
            LoadModel::Open => "{ rate: 200/s, for: 30s }",
            LoadModel::Closed => "{ for: 30s }",
        };
        return Err(cx.err(
            raw.steps.referenced,
            "load.steps",
            format!("needs at least one step, e.g. {example}"),
        ));
    }
    let mut steps = Vec::new();
    for (i, step) in raw.steps.value.iter().enumerate() {
        let p = format!("load.steps[{i}]");
        let s = &step.value;
        let rate = |t: &Spanned<Text>, key: &str| {
            units::parse_rate(&t.value.0).map_err(|m| cx.err(t.referenced, format!("{p}.{key}"), m))
        };
        let duration = cx.positive_duration(&s.duration, &format!("{p}.for"), MAX_SPAN)?;
        let step = match model {
            LoadModel::Open => {
                let Some(r) = &s.rate else {
                    return Err(cx.err(
                        step.referenced,
                        p,
                        "missing required key `rate`, e.g. { rate: 200/s, for: 30s }",
                    ));
                };
                Step {
                    rate: rate(r, "rate")?,
                    to: s.to.as_ref().map(|t| rate(t, "to")).transpose()?,
                    duration,
                }
            }
            LoadModel::Closed => {
                if let Some((t, key)) = s
                    .rate
                    .as_ref()
                    .map(|t| (t, "rate"))
                    .or(s.to.as_ref().map(|t| (t, "to")))
                {
                    return Err(cx.err(
                        t.referenced,
                        format!("{p}.{key}"),
                        "`model: closed` sends back to back, so a step takes no rate: write { for: 30s }",
                    ));
                }
                Step {
                    rate: 0.0,
                    to: None,
                    duration,
                }
            }
        };
        steps.push(step);
    }
    let shape = Load {
        model,
        steps,
        mix: Vec::new(),
        message: MessageSpec {
            size: SizeSpec::Fixed(2048),
            recipients: 1,
        },
        sessions: 50,
        messages_per_connection: 10,
        tls: TlsSpec::default(),
        auth: None,
        hlog_interval: Duration::from_secs(1),
        max_shortfall: 0.01,
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
            message.size = message_size(cx, size)?;
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
    let tls = match &raw.tls {
        Some(t) => tls(cx, t, target)?,
        None => shape.tls.clone(),
    };
    let auth = match &raw.auth {
        None => None,
        Some(a) => {
            if matches!(target, Target::Embedded(_)) {
                return Err(cx.err(
                    a.referenced,
                    "load.auth",
                    "the embedded cluster does not offer AUTH: use it with `target: { smtp: [...] }`",
                ));
            }
            if a.value.user.value.is_empty() {
                return Err(cx.err(
                    a.value.user.referenced,
                    "load.auth.user",
                    "must not be empty",
                ));
            }
            // Left out (or a saved copy's placeholder): the run reads it from the
            // environment (`run::resolve_secrets`), so validation does not need it.
            let password = a.value.password.as_ref().map(|p| p.value.as_str());
            Some(Credentials {
                user: a.value.user.value.clone(),
                password: crate::scenario::safety::given(password)
                    .unwrap_or_default()
                    .to_owned(),
            })
        }
    };
    let hlog_interval = match &raw.hlog_interval {
        Some(d) => {
            let interval = cx.positive_duration(d, "load.hlog_interval", MAX_WAIT)?;
            if interval < Duration::from_millis(100) {
                return Err(cx.err(d.referenced, "load.hlog_interval", "must be at least 100ms"));
            }
            interval
        }
        None => shape.hlog_interval,
    };
    let max_shortfall = match &raw.max_shortfall {
        Some(m) => cx.percent(m, "load.max_shortfall")?,
        None => shape.max_shortfall,
    };
    Ok(Load {
        mix,
        message,
        sessions,
        messages_per_connection,
        tls,
        auth,
        hlog_interval,
        max_shortfall,
        ..shape
    })
}

/// `size: 4KiB`, `size: { min: 1KiB, max: 64KiB }` or `size: [ { size: 2KiB, weight: 9 }, … ]`.
fn message_size(cx: &Cx, raw: &Spanned<RawSize>) -> Result<SizeSpec, ScenarioError> {
    let p = "load.message.size";
    let size = |t: &Spanned<Text>, path: &str| {
        units::parse_size(&t.value.0).map_err(|e| cx.err(t.referenced, path, e))
    };
    match &raw.value {
        RawSize::Fixed(text) => units::parse_size(&text.0)
            .map(SizeSpec::Fixed)
            .map_err(|e| cx.err(raw.referenced, p, e)),
        RawSize::Uniform(range) => {
            let min = size(&range.min, &format!("{p}.min"))?;
            let max = size(&range.max, &format!("{p}.max"))?;
            if min > max {
                return Err(cx.err(
                    range.max.referenced,
                    format!("{p}.max"),
                    format!(
                        "max ({}) must not be below min ({})",
                        range.max.value.0, range.min.value.0
                    ),
                ));
            }
            Ok(SizeSpec::Uniform { min, max })
        }
        RawSize::Weighted(list) => {
            if list.is_empty() {
                return Err(cx.err(
                    raw.referenced,
                    p,
                    "needs at least one size, e.g. [ { size: 2KiB, weight: 9 }, { size: 1MiB, weight: 1 } ]",
                ));
            }
            let mut sizes = Vec::new();
            for (i, entry) in list.iter().enumerate() {
                let at = format!("{p}[{i}]");
                let bytes = size(&entry.value.size, &format!("{at}.size"))?;
                let weight = cx.int(&entry.value.weight, &format!("{at}.weight"), 1, 1_000_000)?;
                sizes.push((bytes, weight as u32));
            }
            Ok(SizeSpec::Weighted(sizes))
        }
    }
}

/// `tls: { mode, verify, ca }`.
fn tls(cx: &Cx, raw: &Spanned<RawTls>, target: &Target) -> Result<TlsSpec, ScenarioError> {
    let t = &raw.value;
    let mut spec = TlsSpec::default();
    if let Some(m) = &t.mode {
        spec.mode = match m.value.0.trim() {
            "none" => TlsMode::None,
            "opportunistic" => TlsMode::Opportunistic,
            "required" => TlsMode::Required,
            other => {
                return Err(cx.err(
                    m.referenced,
                    "load.tls.mode",
                    format!("unknown mode `{other}`: expected none, opportunistic or required"),
                ))
            }
        };
        if spec.mode == TlsMode::Required && matches!(target, Target::Embedded(_)) {
            return Err(cx.err(
                m.referenced,
                "load.tls.mode",
                "`required` needs a target that offers STARTTLS; the embedded cluster does not",
            ));
        }
    }
    if let Some(v) = &t.verify {
        spec.verify = match v.value.0.trim() {
            "true" => true,
            "false" => false,
            other => {
                return Err(cx.err(
                    v.referenced,
                    "load.tls.verify",
                    format!("invalid value `{other}`: expected true or false"),
                ))
            }
        };
    }
    if let Some(ca) = &t.ca {
        // Relative to the scenario file, so a scenario and its CA travel together.
        let base = cx.file.parent().unwrap_or(Path::new("."));
        let path = base.join(&ca.value);
        let problem = match std::fs::metadata(&path) {
            Err(e) => Some(e.to_string()),
            // A FIFO or a device would hang or flood the run that reads it.
            Ok(meta) if !meta.is_file() => Some("not a regular file".to_owned()),
            Ok(meta) if meta.len() > MAX_CA_BYTES => {
                Some(format!("{} bytes: a CA file is at most 1 MiB", meta.len()))
            }
            Ok(_) => None,
        };
        if let Some(problem) = problem {
            return Err(cx.err(
                ca.referenced,
                "load.tls.ca",
                format!("cannot read `{}`: {problem}", ca.value),
            ));
        }
        spec.ca = Some(path);
    }
    Ok(spec)
}

fn mix(
    cx: &Cx,
    raw: &Spanned<Entries<Spanned<Text>>>,
    remotes: Option<&[RemoteSpec]>,
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
        if let Some(remotes) = remotes.filter(|r| serving(r, &d).is_none()) {
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
    remotes: Option<&[RemoteSpec]>,
    target: &Target,
    load: &Load,
) -> Result<IndexedFaults, ScenarioError> {
    let mut out = Vec::new();
    for (i, entry) in raw.iter().enumerate() {
        let p = format!("faults[{i}]");
        let f = &entry.value;
        let subject = match remote_rules::subject(&p, entry).map_err(|e| cx.spec(e))? {
            Subject::Exec(exec) => exec_subject(cx, &p, exec)?,
            Subject::Remote(remote, kind) => {
                let fault = remote_rules::remote_fault(&p, remote, kind, remotes)
                    .map_err(|e| cx.spec(e))?;
                // The target decides whether it can ever fire (not the remote's rules).
                if let Some(why) = super::reach::why_never_fires(&fault, target) {
                    let path = format!("{p}.fault.{}", fault.kind());
                    return Err(cx.err(kind.referenced, path, why));
                }
                FaultSubject::Remote {
                    remote: remote.value.clone(),
                    fault,
                }
            }
            Subject::Node(node, kind) => node_subject(cx, &p, node, kind, target)?,
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

/// A node fault (`node: nK, fault: stuck`): a node of the embedded target.
fn node_subject(
    cx: &Cx,
    p: &str,
    node: &Spanned<String>,
    kind: &Spanned<RawFaultKind>,
    target: &Target,
) -> Result<FaultSubject, ScenarioError> {
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
    if let RawFaultKind::Remote(other) = &kind.value {
        return Err(cx.err(
            kind.referenced,
            format!("{p}.fault"),
            format!(
                "`{}` is a remote fault; a node takes only `stuck`",
                other.kind()
            ),
        ));
    }
    Ok(FaultSubject::Node {
        node: node.value.clone(),
        fault: NodeFault::Stuck,
    })
}

/// The subject of an `exec:` entry (no remote, node or fault beside it: checked by
/// `remote_rules::subject`): its commands.
fn exec_subject(cx: &Cx, p: &str, exec: &Spanned<RawExec>) -> Result<FaultSubject, ScenarioError> {
    let e = &exec.value;
    let command = |c: &Spanned<String>, key: &str| -> Result<String, ScenarioError> {
        if c.value.trim().is_empty() {
            return Err(cx.err(
                c.referenced,
                format!("{p}.exec.{key}"),
                "is empty: give a shell command",
            ));
        }
        Ok(c.value.clone())
    };
    let run = command(&e.run, "run")?;
    let undo = e.undo.as_ref().map(|u| command(u, "undo")).transpose()?;
    let name = match &e.name {
        Some(n) => n.value.clone(),
        None => run.chars().take(40).collect(),
    };
    Ok(FaultSubject::Exec { name, run, undo })
}
