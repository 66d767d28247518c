//! `target:` and `remotes:` (including the implicit bounce collector).

use serde_saphyr::{Location, Spanned};

use super::*;

pub(super) fn target(cx: &Cx, raw: Option<&RawTarget>) -> Result<Target, ScenarioError> {
    let embedded = match raw {
        None | Some(RawTarget::Embedded(None)) => {
            return Ok(Target::Embedded(EmbeddedSpec::default()))
        }
        Some(RawTarget::Embedded(Some(e))) => e,
        Some(RawTarget::Smtp(list)) => {
            if list.value.is_empty() {
                return Err(cx.err(
                    list.referenced,
                    "target.smtp",
                    "needs at least one HOST:PORT endpoint",
                ));
            }
            let mut endpoints = Vec::new();
            for (i, ep) in list.value.iter().enumerate() {
                let p = format!("target.smtp[{i}]");
                let (text, at, weight) = match &ep.value {
                    RawEndpoint::Addr(text) => (&text.0, ep.referenced, 1),
                    RawEndpoint::Weighted(w) => {
                        let weight = match &w.weight {
                            Some(n) => cx.int(n, &format!("{p}.weight"), 1, 1000)? as u32,
                            None => 1,
                        };
                        (&w.addr.value.0, w.addr.referenced, weight)
                    }
                };
                if !is_endpoint(text) {
                    let path = match &ep.value {
                        RawEndpoint::Addr(_) => p,
                        RawEndpoint::Weighted(_) => format!("{p}.addr"),
                    };
                    return Err(cx.err(
                        at,
                        path,
                        format!("invalid endpoint `{text}`: expected HOST:PORT, e.g. 127.0.0.1:2525 or mx.example:25"),
                    ));
                }
                endpoints.push(Endpoint {
                    addr: text.clone(),
                    weight,
                });
            }
            return Ok(Target::Smtp(endpoints));
        }
    };
    let mut spec = EmbeddedSpec::default();
    let p = "target.embedded";
    if let Some(n) = &embedded.nodes {
        spec.nodes = cx.int(n, &format!("{p}.nodes"), 1, 16)? as usize;
    }
    if let Some(q) = embedded.queue {
        spec.queue = match q {
            RawQueue::PerDestination => QueueDesign::PerDestination,
            RawQueue::Shared => QueueDesign::Shared,
        };
    }
    if let Some(c) = &embedded.concurrency {
        spec.concurrency = cx.int(c, &format!("{p}.concurrency"), 1, 1000)? as usize;
    }
    if let Some(t) = &embedded.timeouts {
        if let Some(d) = &t.connect {
            spec.connect_timeout =
                cx.positive_duration(d, &format!("{p}.timeouts.connect"), MAX_WAIT)?;
        }
        if let Some(d) = &t.reply {
            spec.reply_timeout =
                cx.positive_duration(d, &format!("{p}.timeouts.reply"), MAX_WAIT)?;
        }
    }
    if let Some(r) = &embedded.retry {
        if let Some(d) = &r.min_backoff {
            spec.min_backoff =
                cx.positive_duration(d, &format!("{p}.retry.min_backoff"), MAX_WAIT)?;
        }
        if let Some(d) = &r.max_backoff {
            spec.max_backoff =
                cx.positive_duration(d, &format!("{p}.retry.max_backoff"), MAX_WAIT)?;
        }
        if spec.min_backoff > spec.max_backoff {
            // Point at whichever of the two was written (the max, when both were).
            let (at, key) = match (&r.max_backoff, &r.min_backoff) {
                (Some(max), _) => (max.referenced, "max_backoff"),
                (None, Some(min)) => (min.referenced, "min_backoff"),
                // The defaults are ordered, so one of the two was written; stay total anyway.
                (None, None) => (Location::UNKNOWN, "min_backoff"),
            };
            return Err(cx.err(
                at,
                format!("{p}.retry.{key}"),
                format!(
                    "min_backoff ({}) must not exceed max_backoff ({})",
                    humantime::format_duration(spec.min_backoff),
                    humantime::format_duration(spec.max_backoff)
                ),
            ));
        }
    }
    if let Some(d) = &embedded.dead_after {
        spec.dead_after = cx.int(d, &format!("{p}.dead_after"), 1, u32::MAX as u64)? as u32;
    }
    if let Some(d) = &embedded.max_queue_lifetime {
        spec.max_queue_lifetime =
            cx.positive_duration(d, &format!("{p}.max_queue_lifetime"), MAX_SPAN)?;
    }
    Ok(Target::Embedded(spec))
}

/// `host:port` with a non-zero port; IPv6 hosts in brackets (`[::1]:25`).
pub(super) fn is_endpoint(text: &str) -> bool {
    let Some((host, port)) = text.rsplit_once(':') else {
        return false;
    };
    let port_ok = !port.is_empty()
        && port.chars().all(|c| c.is_ascii_digit())
        && port.parse::<u16>().is_ok_and(|p| p > 0);
    let host_ok = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(v6) => v6.parse::<std::net::Ipv6Addr>().is_ok(),
        None => is_domain(host),
    };
    port_ok && host_ok
}

/// Letters, digits and `-` in dot-separated labels of 1..=63; an IPv4 address passes too.
pub(super) fn is_domain(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 253
        && text.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

pub(super) fn remotes(
    cx: &Cx,
    raw: &Spanned<RawRemotes>,
) -> Result<Vec<RemoteSpec>, ScenarioError> {
    if raw.value.named.0.is_empty() {
        return Err(cx.err(
            raw.referenced,
            "remotes",
            "needs at least one remote, e.g. ok: { domains: [ok.test] }",
        ));
    }
    let mut remotes: Vec<RemoteSpec> = Vec::new();
    for (name, spec) in &raw.value.named.0 {
        let n = &name.value;
        let p = format!("remotes.{n}");
        if n.is_empty()
            || !n
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(cx.err(
                name.referenced,
                "remotes",
                format!("invalid remote name `{n}`: use letters, digits, `_` or `-`"),
            ));
        }
        if spec.domains.value.is_empty() {
            return Err(cx.err(
                spec.domains.referenced,
                format!("{p}.domains"),
                "needs at least one domain",
            ));
        }
        let mut domains = Vec::new();
        for (i, d) in spec.domains.value.iter().enumerate() {
            let path = format!("{p}.domains[{i}]");
            let domain = d.value.to_ascii_lowercase();
            if !is_domain(&domain) {
                return Err(cx.err(
                    d.referenced,
                    path,
                    format!(
                        "invalid domain `{}`: expected a name such as ok.test",
                        d.value
                    ),
                ));
            }
            let owner = remotes
                .iter()
                .find(|r| r.domains.contains(&domain))
                .map(|r| r.name.as_str());
            if let Some(owner) = owner {
                return Err(cx.err(
                    d.referenced,
                    path,
                    format!("domain `{domain}` is served by both `{owner}` and `{n}`: a domain belongs to one remote"),
                ));
            }
            if domains.contains(&domain) {
                return Err(cx.err(
                    d.referenced,
                    path,
                    format!("domain `{domain}` is listed twice"),
                ));
            }
            domains.push(domain);
        }
        let listen = match &spec.listen {
            // Each remote on its own loopback address, as destinations are apart on the
            // internet (scenarios/README.md, "Where remotes listen").
            None => fake_remotes::default_listen(remotes.len(), 0),
            Some(text) => text.value.0.parse().map_err(|_| {
                cx.err(
                    text.referenced,
                    format!("{p}.listen"),
                    format!(
                        "invalid listen address `{}`: expected IP:PORT, e.g. 127.0.0.1:2525 (port 0 picks a free port)",
                        text.value.0
                    ),
                )
            })?,
        };
        remotes.push(RemoteSpec {
            name: n.clone(),
            domains,
            listen,
        });
    }
    Ok(remotes)
}

/// DSNs come back to [`BOUNCE_DOMAIN`]; if no declared remote serves it, one is added.
pub(super) fn add_bounce_remote(
    cx: &Cx,
    raw: &Spanned<RawRemotes>,
    remotes: &mut Vec<RemoteSpec>,
) -> Result<(), ScenarioError> {
    if remotes
        .iter()
        .any(|r| r.domains.iter().any(|d| d == BOUNCE_DOMAIN))
    {
        return Ok(());
    }
    if let Some((name, _)) = raw
        .value
        .named
        .0
        .iter()
        .find(|(n, _)| n.value == BOUNCE_REMOTE)
    {
        return Err(cx.err(
            name.referenced,
            format!("remotes.{BOUNCE_REMOTE}"),
            format!(
                "the remote named `{BOUNCE_REMOTE}` must serve `{BOUNCE_DOMAIN}` (bounces are collected there); add it to its domains or rename the remote"
            ),
        ));
    }
    remotes.push(RemoteSpec {
        name: BOUNCE_REMOTE.to_owned(),
        domains: vec![BOUNCE_DOMAIN.to_owned()],
        listen: fake_remotes::default_listen(remotes.len(), 0),
    });
    Ok(())
}

/// `target.probes`: queue probes of an external cluster's nodes.
pub(super) fn probes(
    cx: &Cx,
    raw: Option<&RawTargetSection>,
    target: &Target,
) -> Result<Vec<Probe>, ScenarioError> {
    let Some(list) = raw.and_then(|t| t.probes.as_ref()) else {
        return Ok(Vec::new());
    };
    if matches!(target, Target::Embedded(_)) {
        return Err(cx.err(
            list.referenced,
            "target.probes",
            "queue probes are for an external cluster (target.smtp); the embedded cluster needs none",
        ));
    }
    let mut out = Vec::new();
    for (i, probe) in list.value.iter().enumerate() {
        let dir = &probe.value.postfix;
        if dir.value.trim().is_empty() {
            return Err(cx.err(
                dir.referenced,
                format!("target.probes[{i}].postfix"),
                "is empty: give the node's Postfix config directory, e.g. /tmp/mqpf/n1/etc",
            ));
        }
        out.push(Probe::Postfix {
            config_dir: dir.value.clone().into(),
        });
    }
    Ok(out)
}
