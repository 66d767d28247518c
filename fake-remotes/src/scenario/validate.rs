//! The rules of the `remotes:` and `faults:` sections that do not depend on the rest of
//! the scenario: caps, remote names and domains, listen addresses, the implicit bounce
//! collector, and what a fault entry is about. mailquake's validation calls them in its
//! own order (its first error wins); the `fake-remotes` binary calls them too, so both
//! accept and refuse the same remotes with the same messages.

use std::time::Duration;

use serde_saphyr::{Location, Spanned};

use super::de::Text;
use super::raw::{RawExec, RawFault, RawFaultKind, RawRemotes};
use crate::scenario_input::{MAX_DOMAINS, MAX_FAULTS, MAX_REMOTES};
use crate::standalone::RemoteDef;
use crate::{units, Fault};

/// The domain mailquake's messages come from (`mq.N@bounces.test`): bounces go there.
pub const BOUNCE_DOMAIN: &str = "bounces.test";
/// The remote added to serve [`BOUNCE_DOMAIN`] when no remote does.
pub const BOUNCE_REMOTE: &str = "bounces";
/// Longest fault offset or window (and load step): a week. Long enough for any soak,
/// and it keeps offset arithmetic far from overflow; typos like `30d` for `30s` are
/// caught.
pub const MAX_SPAN: Duration = Duration::from_secs(7 * 24 * 3600);

/// A rule broken at a place in the file, under a key path (`remotes.ok.listen`).
#[derive(Clone, Debug, PartialEq)]
pub struct SpecError {
    pub at: Location,
    pub path: String,
    pub message: String,
}

fn err(at: Location, path: impl Into<String>, message: impl Into<String>) -> SpecError {
    SpecError {
        at,
        path: path.into(),
        message: message.into(),
    }
}

fn over(what: &str, count: usize, max: usize, at: Location, path: String) -> SpecError {
    err(
        at,
        path,
        format!("{count} {what}: at most {max} are allowed"),
    )
}

/// The remotes and their domains together over their caps, pointing at the first
/// entry beyond the cap.
pub fn remote_caps(raw: &RawRemotes) -> Result<(), SpecError> {
    let named = &raw.named.0;
    if let Some((name, _)) = named.get(MAX_REMOTES) {
        let path = "remotes".into();
        return Err(over(
            "remotes",
            named.len(),
            MAX_REMOTES,
            name.referenced,
            path,
        ));
    }
    let total: usize = named.iter().map(|(_, r)| r.domains.value.len()).sum();
    if total > MAX_DOMAINS {
        // The domain that crosses the cap, in file order.
        let mut seen = 0;
        for (name, remote) in named {
            let here = remote.domains.value.len();
            if seen + here > MAX_DOMAINS {
                let at = remote.domains.value[MAX_DOMAINS - seen].referenced;
                let path = format!("remotes.{}.domains", name.value);
                return Err(over("domains in all remotes", total, MAX_DOMAINS, at, path));
            }
            seen += here;
        }
    }
    Ok(())
}

/// `faults` over its cap.
pub fn fault_cap(faults: &[Spanned<RawFault>]) -> Result<(), SpecError> {
    match faults.get(MAX_FAULTS) {
        Some(fault) => Err(over(
            "faults",
            faults.len(),
            MAX_FAULTS,
            fault.referenced,
            "faults".into(),
        )),
        None => Ok(()),
    }
}

/// `token`/`lease` written without `external` (they are not remote names).
pub fn no_stray_external_keys(raw: &RawRemotes) -> Result<(), SpecError> {
    if raw.external.is_some() {
        return Ok(());
    }
    for (name, key) in [
        ("token", raw.token.as_ref().map(|(k, _)| k)),
        ("lease", raw.lease.as_ref().map(|(k, _)| k)),
    ] {
        if let Some(key) = key {
            return Err(err(
                key.referenced,
                format!("remotes.{name}"),
                format!("`{name}` goes with `external: URL` (remotes served elsewhere); `{name}` cannot name a remote"),
            ));
        }
    }
    Ok(())
}

/// Whether `text` is a DNS name: dot-separated labels of letters, digits and `-`.
pub fn is_domain(text: &str) -> bool {
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

/// The remotes declared by name, in file order (without the implicit bounce remote).
pub fn remotes(raw: &Spanned<RawRemotes>) -> Result<Vec<RemoteDef>, SpecError> {
    if raw.value.named.0.is_empty() {
        return Err(err(
            raw.referenced,
            "remotes",
            "needs at least one remote, e.g. ok: { domains: [ok.test] }",
        ));
    }
    let mut remotes: Vec<RemoteDef> = Vec::new();
    for (name, spec) in &raw.value.named.0 {
        let n = &name.value;
        let p = format!("remotes.{n}");
        if n.is_empty()
            || !n
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(err(
                name.referenced,
                "remotes",
                format!("invalid remote name `{n}`: use letters, digits, `_` or `-`"),
            ));
        }
        if spec.domains.value.is_empty() {
            return Err(err(
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
                return Err(err(
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
                return Err(err(
                    d.referenced,
                    path,
                    format!("domain `{domain}` is served by both `{owner}` and `{n}`: a domain belongs to one remote"),
                ));
            }
            if domains.contains(&domain) {
                return Err(err(
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
            None => crate::default_listen(remotes.len(), 0),
            Some(text) => text.value.0.parse().map_err(|_| {
                err(
                    text.referenced,
                    format!("{p}.listen"),
                    format!(
                        "invalid listen address `{}`: expected IP:PORT, e.g. 127.0.0.1:2525 (port 0 picks a free port)",
                        text.value.0
                    ),
                )
            })?,
        };
        remotes.push(RemoteDef {
            name: n.clone(),
            domains,
            listen,
        });
    }
    Ok(remotes)
}

/// Adds the remote collecting bounces ([`BOUNCE_REMOTE`] serving [`BOUNCE_DOMAIN`]) unless
/// a remote serves that domain already.
pub fn add_bounce_remote(
    raw: &Spanned<RawRemotes>,
    remotes: &mut Vec<RemoteDef>,
) -> Result<(), SpecError> {
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
        return Err(err(
            name.referenced,
            format!("remotes.{BOUNCE_REMOTE}"),
            format!(
                "the remote named `{BOUNCE_REMOTE}` must serve `{BOUNCE_DOMAIN}` (bounces are collected there); add it to its domains or rename the remote"
            ),
        ));
    }
    remotes.push(RemoteDef {
        name: BOUNCE_REMOTE.to_owned(),
        domains: vec![BOUNCE_DOMAIN.to_owned()],
        listen: crate::default_listen(remotes.len(), 0),
    });
    Ok(())
}

/// What one entry of `faults:` is about, its keys checked against each other.
pub enum Subject<'a> {
    Remote(&'a Spanned<String>, &'a Spanned<RawFaultKind>),
    Node(&'a Spanned<String>, &'a Spanned<RawFaultKind>),
    Exec(&'a Spanned<RawExec>),
}

/// `p` is the entry's key path, `faults[i]`.
pub fn subject<'a>(p: &str, entry: &'a Spanned<RawFault>) -> Result<Subject<'a>, SpecError> {
    let f = &entry.value;
    if let Some(exec) = &f.exec {
        let extra = [
            ("remote", f.remote.as_ref().map(|s| s.referenced)),
            ("node", f.node.as_ref().map(|s| s.referenced)),
            ("fault", f.fault.as_ref().map(|s| s.referenced)),
        ];
        if let Some((key, Some(at))) = extra.into_iter().find(|(_, at)| at.is_some()) {
            return Err(err(
                at,
                format!("{p}.{key}"),
                "an `exec` entry runs commands: it takes no `remote`, `node` or `fault`",
            ));
        }
        return Ok(Subject::Exec(exec));
    }
    let Some(kind) = &f.fault else {
        return Err(err(
            entry.referenced,
            p,
            "missing `fault` (or `exec`): say what happens",
        ));
    };
    match (&f.remote, &f.node) {
        (Some(remote), None) => Ok(Subject::Remote(remote, kind)),
        (None, Some(node)) => Ok(Subject::Node(node, kind)),
        (Some(_), Some(node)) => Err(err(
            node.referenced,
            format!("{p}.node"),
            "give one of `remote` or `node`, not both",
        )),
        (None, None) => Err(err(
            entry.referenced,
            p,
            "missing `remote` or `node`: the fault needs a subject",
        )),
    }
}

/// A remote fault: the remote exists (`remotes`: `None` when not known yet) and the
/// fault is a remote's, with its settings in range.
pub fn remote_fault(
    p: &str,
    remote: &Spanned<String>,
    kind: &Spanned<RawFaultKind>,
    remotes: Option<&[RemoteDef]>,
) -> Result<Fault, SpecError> {
    let unknown = remotes.filter(|r| !r.iter().any(|r| r.name == remote.value));
    if let Some(remotes) = unknown {
        let mut names: Vec<&str> = remotes.iter().map(|r| r.name.as_str()).collect();
        names.sort_unstable();
        return Err(err(
            remote.referenced,
            format!("{p}.remote"),
            format!(
                "no remote named `{}` (remotes: {})",
                remote.value,
                names.join(", ")
            ),
        ));
    }
    match &kind.value {
        RawFaultKind::Remote(fault) => {
            // Ranges serde cannot check (probability, reply code); the fault's inner
            // values have no spans, so point at the fault itself.
            fault
                .validate()
                .map_err(|m| err(kind.referenced, format!("{p}.fault.{}", fault.kind()), m))?;
            Ok(fault.clone())
        }
        RawFaultKind::Stuck => Err(err(
            kind.referenced,
            format!("{p}.fault"),
            format!("`stuck` is a node fault; a remote takes {}", remote_kinds()),
        )),
    }
}

/// `refuse, unreachable, … or tls`.
pub fn remote_kinds() -> String {
    let kinds = Fault::KINDS;
    match kinds.split_last() {
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

/// A duration of at most `max` (`at`, `for`); `positive`: more than 0.
pub fn span(
    text: &Spanned<Text>,
    path: &str,
    max: Duration,
    positive: bool,
) -> Result<Duration, SpecError> {
    let written = &text.value.0;
    let duration = units::parse_duration(written).map_err(|m| err(text.referenced, path, m))?;
    if duration > max {
        return Err(err(
            text.referenced,
            path,
            format!(
                "duration `{written}` is above the cap of {}",
                humantime::format_duration(max)
            ),
        ));
    }
    if positive && duration.is_zero() {
        return Err(err(text.referenced, path, "must be more than 0"));
    }
    Ok(duration)
}
