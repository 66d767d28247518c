//! `safety:` and the rules it relaxes (see `scenario/safety.rs` for why):
//! - every domain mail goes to (the mix, the remotes' domains) is reserved for testing,
//!   or listed by name in `safety.allow_domains` (then the user is warned);
//! - against a target that is not loopback, no step's rate is above `safety.max_rate`
//!   and the steps plan no more than `safety.max_messages` (the closed model, whose rate
//!   is not planned, is held to both while it runs);
//! - a password or token written in the file is warned about and its place recorded,
//!   so the run's saved copy carries `"<redacted>"` instead.

use serde_saphyr::{Location, Spanned};

use super::*;
use crate::scenario::safety::{self as rules, Safety, AUTH_PASSWORD_ENV, REDACTED, RESERVED_LIST};
use crate::scenario::units::parse_rate;

/// Reads `safety:` and records the secrets written in the file.
pub(super) fn safety(cx: &Cx, raw: &RawScenario) -> Result<Safety, ScenarioError> {
    let mut safety = Safety::default();
    if let Some(section) = &raw.safety {
        let s = &section.value;
        if let Some(list) = &s.allow_domains {
            for (i, d) in list.value.iter().enumerate() {
                let path = format!("safety.allow_domains[{i}]");
                let domain = d.value.trim().trim_end_matches('.').to_ascii_lowercase();
                if domain.contains('*') {
                    return Err(cx.err(
                        d.referenced,
                        path,
                        format!("`{}`: no wildcards: list each domain by name", d.value),
                    ));
                }
                if !target::is_domain(&domain) || !domain.contains('.') {
                    return Err(cx.err(
                        d.referenced,
                        path,
                        format!(
                            "invalid domain `{}`: expected a full name such as mx.example.com",
                            d.value
                        ),
                    ));
                }
                if !safety.allow_domains.contains(&domain) {
                    safety.allow_domains.push(domain);
                }
            }
            let real: Vec<&str> = safety
                .allow_domains
                .iter()
                .map(String::as_str)
                .filter(|d| !rules::is_reserved(d))
                .collect();
            if !real.is_empty() {
                safety.warnings.push(cx.err(list.referenced, "safety.allow_domains", format!(
                    "warning: mail may go to {}, not reserved for testing: make sure the target routes it to the fake remotes",
                    real.join(", ")
                )).to_string());
            }
        }
        if let Some(rate) = &s.max_rate {
            safety.max_rate = parse_rate(&rate.value.0)
                .map_err(|m| cx.err(rate.referenced, "safety.max_rate", m))?;
        }
        if let Some(n) = &s.max_messages {
            safety.max_messages = cx.int(n, "safety.max_messages", 1, MAX_MESSAGES as u64)?;
        }
    }
    let password = raw
        .load
        .auth
        .as_ref()
        .and_then(|a| a.value.password.as_ref());
    if let Some(p) = password {
        secret(
            cx,
            &mut safety,
            p,
            "load.auth.password",
            "a password",
            AUTH_PASSWORD_ENV,
        );
    }
    if let Some((_, token)) = &raw.remotes.value.token {
        secret(
            cx,
            &mut safety,
            token,
            "remotes.token",
            "a token",
            rules::REMOTES_TOKEN_ENV,
        );
    }
    Ok(safety)
}

/// Records where a secret is written and, unless it is already a placeholder, warns.
fn secret(
    cx: &Cx,
    safety: &mut Safety,
    value: &Spanned<String>,
    path: &str,
    what: &str,
    env: &str,
) {
    for at in [value.defined, value.referenced] {
        if let Some(range) = byte_range(at) {
            if !safety.secrets.contains(&range) {
                safety.secrets.push(range);
            }
        }
    }
    if !value.value.is_empty() && value.value != REDACTED {
        safety.warnings.push(cx.err(value.referenced, path, format!(
            "warning: {what} in the scenario file goes wherever the file goes (the run's saved copy is redacted): leave it out and set {env}"
        )).to_string());
    }
}

fn byte_range(at: Location) -> Option<std::ops::Range<usize>> {
    let span = at.span();
    let start = span.byte_offset()? as usize;
    let len = span.byte_len()? as usize;
    (len > 0).then_some(start..start + len)
}

/// Every domain mail may go to is reserved for testing or allowed by name: the mix's
/// first (that is where mail is sent), then the remotes'.
pub(super) fn domains(cx: &Cx, raw: &RawScenario, safety: &Safety) -> Result<(), ScenarioError> {
    for (domain, _) in &raw.load.mix.value.0 {
        let path = format!("load.mix.{}", domain.value);
        allowed(cx, safety, domain, path)?;
    }
    for (name, remote) in &raw.remotes.value.named.0 {
        for (i, d) in remote.domains.value.iter().enumerate() {
            allowed(
                cx,
                safety,
                d,
                format!("remotes.{}.domains[{i}]", name.value),
            )?;
        }
    }
    Ok(())
}

fn allowed(
    cx: &Cx,
    safety: &Safety,
    domain: &Spanned<String>,
    path: String,
) -> Result<(), ScenarioError> {
    let d = domain.value.trim_end_matches('.').to_ascii_lowercase();
    if rules::is_reserved(&d) || safety.allow_domains.contains(&d) {
        return Ok(());
    }
    Err(cx.err(domain.referenced, path, format!(
        "`{}` is not a domain reserved for testing ({RESERVED_LIST}): if the target does not route it to the fake remotes, the mail reaches the real `{d}`; list it in `safety: {{ allow_domains: [{d}] }}` if you mean it",
        domain.value
    )))
}

/// Against a target that is not loopback: no step faster than `max_rate`, no more than
/// `max_messages` planned (open model).
pub(super) fn caps(
    cx: &Cx,
    raw: &RawLoad,
    target: &Target,
    load: &Load,
    safety: &Safety,
) -> Result<(), ScenarioError> {
    let Some(elsewhere) = rules::elsewhere(target) else {
        return Ok(());
    };
    if load.model == LoadModel::Closed {
        return Ok(());
    }
    for (i, (step, raw_step)) in load.steps.iter().zip(&raw.steps.value).enumerate() {
        let rates = [
            (step.rate, raw_step.value.rate.as_ref(), "rate"),
            (step.to.unwrap_or(0.0), raw_step.value.to.as_ref(), "to"),
        ];
        for (rate, text, key) in rates {
            let Some(text) = text.filter(|_| rate > safety.max_rate) else {
                continue;
            };
            return Err(cx.err(text.referenced, format!("load.steps[{i}].{key}"), format!(
                "`{}` is above the safety cap of {} for a target that is not loopback ({elsewhere}): raise it with `safety: {{ max_rate: {} }}` if you mean it",
                text.value.0, per_second(safety.max_rate), text.value.0
            )));
        }
    }
    let planned = load.planned_messages().round() as u64;
    if planned > safety.max_messages {
        return Err(cx.err(raw.steps.referenced, "load.steps", format!(
            "the steps plan {planned} messages, above the safety cap of {} for a target that is not loopback ({elsewhere}): raise it with `safety: {{ max_messages: {planned} }}` if you mean it",
            safety.max_messages
        )));
    }
    Ok(())
}

/// `2000/s`, `0.5/s`.
pub(crate) fn per_second(rate: f64) -> String {
    format!("{}/s", (rate * 1000.0).round() / 1000.0)
}
