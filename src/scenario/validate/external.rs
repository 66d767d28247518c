//! `remotes: { external: URL, token: T, lease: D }`: remotes served elsewhere (by
//! `mailquake remotes` or `fake-remotes`), reached through their control API.
//!
//! Offline (`validate`, and `run` before it starts) only the form is checked: the URL,
//! the token, the lease, and no remote declared beside them. Which remotes exist and which domains
//! they serve is known only when the run attaches (`GET /remotes`); the whole scenario
//! is then validated again against them, with the same messages, so a fault naming an
//! unknown remote or a check on an unserved domain still fails with `FILE:LINE:COL`.

use serde_saphyr::Spanned;

use fake_remotes::standalone::lease::MIN_LEASE;

use super::target::is_endpoint;
use super::*;

/// The lease on the faults a run sets, unless the scenario gives `lease:`.
const DEFAULT_LEASE: Duration = Duration::from_secs(30);

/// `None` for remotes declared by name.
pub(super) fn external(
    cx: &Cx,
    raw: &Spanned<RawRemotes>,
) -> Result<Option<ExternalRemotes>, ScenarioError> {
    let r = &raw.value;
    let Some((_, url)) = &r.external else {
        fake_remotes::scenario::validate::no_stray_external_keys(r).map_err(|e| cx.spec(e))?;
        return Ok(None);
    };
    if let Some((name, _)) = r.named.0.first() {
        return Err(cx.err(
            name.referenced,
            format!("remotes.{}", name.value),
            "with `external`, the remotes are served elsewhere: declare them there; only `token` and `lease` may stand beside `external`",
        ));
    }
    let url_text = http_url(
        cx,
        url,
        "remotes.external",
        "the control API speaks plain HTTP (keep it on loopback or a private network, with a token)",
        "the control API's address, http://HOST:PORT, e.g. http://127.0.0.1:8025",
    )?;
    let token = match &r.token {
        None => None,
        Some((_, token)) => {
            let t = token.value.trim();
            if t.is_empty() || t.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(cx.err(
                    token.referenced,
                    "remotes.token",
                    "a token is one word: no spaces, not empty",
                ));
            }
            Some(t.to_owned())
        }
    };
    let lease = match &r.lease {
        None => DEFAULT_LEASE,
        Some((_, text)) => {
            let lease = cx.duration(text, "remotes.lease", MAX_WAIT)?;
            if lease < MIN_LEASE {
                return Err(cx.err(
                    text.referenced,
                    "remotes.lease",
                    "must be at least 1s: the run renews its faults every third of the lease",
                ));
            }
            lease
        }
    };
    Ok(Some(ExternalRemotes {
        url: url_text,
        token,
        lease,
    }))
}

/// An HTTP API's address as `http://HOST:PORT` (a trailing `/` dropped): `https` is
/// refused with `no_https` as the reason, anything else is not `expected`.
pub(super) fn http_url(
    cx: &Cx,
    url: &Spanned<String>,
    path: &str,
    no_https: &str,
    expected: &str,
) -> Result<String, ScenarioError> {
    let text = url.value.trim();
    let authority = text
        .strip_prefix("http://")
        .map(|rest| rest.strip_suffix('/').unwrap_or(rest));
    let why = match authority {
        _ if text.starts_with("https://") => format!("https is not supported: {no_https}"),
        Some(a) if is_endpoint(a) => return Ok(format!("http://{a}")),
        _ => format!("expected {expected}"),
    };
    Err(cx.err(url.referenced, path, format!("invalid URL `{text}`: {why}")))
}

/// Bounces come back to [`BOUNCE_DOMAIN`]: the remotes served elsewhere must collect them.
pub(super) fn bounces_served(
    cx: &Cx,
    raw: &Spanned<RawRemotes>,
    remotes: &[RemoteSpec],
) -> Result<(), ScenarioError> {
    if serving(remotes, BOUNCE_DOMAIN).is_some() {
        return Ok(());
    }
    let at = raw
        .value
        .external
        .as_ref()
        .map_or(raw.referenced, |(_, url)| url.referenced);
    Err(cx.err(
        at,
        "remotes.external",
        format!("no remote serves `{BOUNCE_DOMAIN}`, where the cluster's bounces come back: serve it there too (mailquake remotes adds it by itself)"),
    ))
}
