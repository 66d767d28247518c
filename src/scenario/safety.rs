//! The safety rails of a scenario (and of `flood`): which domains mail may go to, how
//! hard a target that is not this machine may be pushed, and where secrets come from.
//! The rules are checked by `validate/safety.rs`; this module holds what the Plan keeps
//! and the pure helpers `flood` shares (reserved domains, loopback, redaction).
//!
//! Why: mailquake floods real clusters on staging. If such a cluster does not route the
//! test domains to the fake remotes (a transport map not installed, a typo, the wrong
//! cluster), the flood goes to the internet. Domains reserved for testing (RFC 2606,
//! RFC 6761) resolve nowhere, so such mail bounces or waits in a queue instead of
//! reaching a real mailbox; any other domain must be named on purpose.

use std::net::IpAddr;

/// Names reserved for testing and documentation (RFC 2606 §2–3, RFC 6761 §6): a domain
/// is reserved when it is one of these or ends with `.` + one of these.
pub const RESERVED_DOMAINS: &[&str] = &[
    "test",
    "example",
    "invalid",
    "localhost",
    "example.com",
    "example.net",
    "example.org",
];

/// How the reserved names are listed in messages.
pub const RESERVED_LIST: &str =
    ".test, .example, .invalid, .localhost, example.com, example.net, example.org";

/// Default cap on any step's rate against a target that is not loopback (messages/s).
pub const DEFAULT_MAX_RATE: f64 = 2_000.0;
/// Default cap on the messages one run may send to a target that is not loopback.
pub const DEFAULT_MAX_MESSAGES: u64 = 1_000_000;

/// Where the AUTH password is read from when the scenario (or `flood --auth USER`)
/// does not give it.
pub const AUTH_PASSWORD_ENV: &str = "MAILQUAKE_AUTH_PASSWORD";

/// Where a token for the remotes' control API is read from when the command line or the
/// scenario gives none.
pub const REMOTES_TOKEN_ENV: &str = "MAILQUAKE_REMOTES_TOKEN";

/// What a secret is replaced with in the saved copy of a scenario. The loader accepts
/// it (so `mailquake report DIR` renders from the copy); a run given it takes the secret
/// from the environment instead.
pub const REDACTED: &str = "<redacted>";

/// `safety:` as validated.
#[derive(Clone, Debug, PartialEq)]
pub struct Safety {
    /// Domains outside the reserved names that the scenario may send to, each by name.
    pub allow_domains: Vec<String>,
    /// Highest rate (messages/s) against a target that is not loopback.
    pub max_rate: f64,
    /// Most messages one run sends to a target that is not loopback.
    pub max_messages: u64,
    /// Things the user must be told (one line each, `FILE:LINE:COL: key: warning: …`):
    /// a secret written in the file, a domain allowed outside the reserved names.
    pub warnings: Vec<String>,
    /// Byte ranges of secret values in the scenario text (password, token): the saved
    /// copy has [`REDACTED`] there.
    pub secrets: Vec<std::ops::Range<usize>>,
}

impl Default for Safety {
    fn default() -> Self {
        Safety {
            allow_domains: Vec::new(),
            max_rate: DEFAULT_MAX_RATE,
            max_messages: DEFAULT_MAX_MESSAGES,
            warnings: Vec::new(),
            secrets: Vec::new(),
        }
    }
}

/// What the closed model is held to while it runs (see [`closed_model_cap`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Cap {
    /// Messages per second, at most.
    pub rate: f64,
    /// Messages in all, at most.
    pub messages: u64,
}

/// The closed model's rate is whatever the target sustains, so against a target that is
/// not loopback it is paced to `max_rate` and stopped at `max_messages` as it runs (the
/// open model's plan is checked against them up front).
pub fn closed_model_cap(
    load: &super::Load,
    target: &super::Target,
    safety: &Safety,
) -> Option<Cap> {
    (load.model == super::LoadModel::Closed && elsewhere(target).is_some()).then_some(Cap {
        rate: safety.max_rate,
        messages: safety.max_messages,
    })
}

/// Whether `domain` (any case, a trailing dot allowed) is under a name reserved for testing.
pub fn is_reserved(domain: &str) -> bool {
    let d = domain.trim_end_matches('.').to_ascii_lowercase();
    RESERVED_DOMAINS.iter().any(|r| {
        d == *r
            || d.strip_suffix(r)
                .is_some_and(|head| head.len() > 1 && head.ends_with('.'))
    })
}

/// Whether the host of `HOST:PORT` is this machine: 127.0.0.0/8, `::1`, `localhost` or a
/// name under `.localhost` (RFC 6761 §6.3). Any other name counts as elsewhere, whatever
/// it resolves to today.
pub fn is_loopback(endpoint: &str) -> bool {
    let host = endpoint.rsplit_once(':').map_or(endpoint, |(h, _)| h);
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if let Ok(ip) = host.parse::<IpAddr>() {
        return ip.is_loopback();
    }
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    host == "localhost" || host.ends_with(".localhost")
}

/// The first endpoint of the target that is not this machine (`None`: all loopback,
/// or the embedded cluster).
pub fn elsewhere(target: &super::Target) -> Option<&str> {
    match target {
        super::Target::Embedded(_) => None,
        super::Target::Smtp(endpoints) => endpoints
            .iter()
            .map(|e| e.addr.as_str())
            .find(|a| !is_loopback(a)),
    }
}

/// `text` with every range in `secrets` replaced by `"<redacted>"` (quoted, so it stays
/// one YAML scalar whatever the original looked like).
pub fn redact(text: &str, secrets: &[std::ops::Range<usize>]) -> String {
    let mut ranges: Vec<_> = secrets
        .iter()
        .filter(|r| r.start <= r.end && r.end <= text.len())
        .filter(|r| text.is_char_boundary(r.start) && text.is_char_boundary(r.end))
        .cloned()
        .collect();
    ranges.sort_by_key(|r| r.start);
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for r in ranges {
        if r.start < at {
            continue;
        }
        out.push_str(&text[at..r.start]);
        out.push('"');
        out.push_str(REDACTED);
        out.push('"');
        at = r.end;
    }
    out.push_str(&text[at..]);
    out
}

/// A secret value as the run should use it: `None` when it is absent, empty or the
/// placeholder of a saved copy — then the environment variable is the source.
pub fn given(secret: Option<&str>) -> Option<&str> {
    secret.filter(|s| !s.is_empty() && *s != REDACTED)
}

/// Fills in the secrets the scenario left to the environment, for a run: the AUTH
/// password from [`AUTH_PASSWORD_ENV`] when the file has none (or a saved copy's
/// placeholder); a placeholder token is dropped so the attach reads
/// `MAILQUAKE_REMOTES_TOKEN`. `Err`: one line naming what is missing (exit 2).
pub fn resolve_secrets(mut plan: super::Plan) -> Result<super::Plan, String> {
    if let Some(auth) = plan.load.auth.as_mut().filter(|a| a.password.is_empty()) {
        match std::env::var(AUTH_PASSWORD_ENV) {
            Ok(password) if !password.is_empty() => auth.password = password,
            _ => {
                return Err(format!(
                    "{}: load.auth.password: not in the file and {AUTH_PASSWORD_ENV} is not set: set it to the password for `{}`",
                    plan.source.display(),
                    auth.user
                ))
            }
        }
    }
    if let Some(ext) = plan.external_remotes.as_mut() {
        ext.token = given(ext.token.as_deref()).map(str::to_owned);
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_names_and_their_subdomains_only() {
        for (domain, reserved) in [
            ("ok.test", true),
            ("test", true),
            ("OK.Test.", true),
            ("a.b.example", true),
            ("x.invalid", true),
            ("localhost", true),
            ("mail.localhost", true),
            ("example.com", true),
            ("mx.example.net", true),
            ("www.example.org", true),
            ("gmail.com", false),
            ("test.com", false),
            ("mytest", false),
            ("notexample.com", false),
            ("example.com.evil.org", false),
            ("ok.testing", false),
            ("", false),
        ] {
            assert_eq!(is_reserved(domain), reserved, "{domain}");
        }
        // The VERP sender domain is reserved too (flood's domain: in `flood`'s tests).
        assert!(is_reserved(super::super::BOUNCE_DOMAIN));
    }

    #[test]
    fn loopback_endpoints() {
        for (endpoint, loopback) in [
            ("127.0.0.1:25", true),
            ("127.3.2.1:2525", true),
            ("[::1]:25", true),
            ("localhost:25", true),
            ("n1.localhost:25", true),
            ("10.0.0.1:25", false),
            ("[2001:db8::1]:25", false),
            ("mx.example:25", false),
            ("localhost.example.com:25", false),
            ("0.0.0.0:25", false),
        ] {
            assert_eq!(is_loopback(endpoint), loopback, "{endpoint}");
        }
    }

    #[test]
    fn redaction_replaces_each_range_once() {
        let text = "a: s3cret\nb: 'x y'\nc: keep\n";
        let out = redact(text, &[13..18, 3..9, 13..18]);
        assert_eq!(out, "a: \"<redacted>\"\nb: \"<redacted>\"\nc: keep\n");
        // Out of range or inside a character: left alone rather than corrupted.
        assert_eq!(redact("é", &[1..2, 0..9]), "é");
    }

    #[test]
    fn placeholders_and_empty_values_are_not_secrets() {
        assert_eq!(given(Some("pw")), Some("pw"));
        assert_eq!(given(Some("")), None);
        assert_eq!(given(Some(REDACTED)), None);
        assert_eq!(given(None), None);
    }
}
