//! `target:`. (`remotes:`, with the implicit bounce collector, follows the rules shared
//! with `fake-remotes`: `fake_remotes::scenario::validate`.)

use serde_saphyr::Location;

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
pub(super) use fake_remotes::scenario::validate::is_domain;

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
