//! SMTP AUTH (RFC 4954) for our client: PLAIN when the server offers it, else LOGIN.
//! Credentials go out base64-encoded as the mechanisms require; they are never logged.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

/// A user name and password for AUTH.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub user: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({}, ***)", self.user)
    }
}

/// The mechanisms we speak.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mechanism {
    Plain,
    Login,
}

/// Picks a mechanism from the EHLO reply's lines (`AUTH PLAIN LOGIN`, or the old
/// `AUTH=LOGIN` form): PLAIN first (one round trip), else LOGIN.
pub fn choose<'a>(ehlo_lines: impl Iterator<Item = &'a str>) -> Option<Mechanism> {
    let mut offered = (false, false);
    for line in ehlo_lines {
        let mut words = line.split([' ', '=']);
        if !words.next().is_some_and(|w| w.eq_ignore_ascii_case("AUTH")) {
            continue;
        }
        for w in words {
            offered.0 |= w.eq_ignore_ascii_case("PLAIN");
            offered.1 |= w.eq_ignore_ascii_case("LOGIN");
        }
    }
    match offered {
        (true, _) => Some(Mechanism::Plain),
        (false, true) => Some(Mechanism::Login),
        _ => None,
    }
}

/// The PLAIN initial response: base64 of `\0user\0password`.
pub fn plain_response(c: &Credentials) -> String {
    let mut raw = Vec::with_capacity(c.user.len() + c.password.len() + 2);
    raw.push(0);
    raw.extend_from_slice(c.user.as_bytes());
    raw.push(0);
    raw.extend_from_slice(c.password.as_bytes());
    STANDARD.encode(raw)
}

/// One LOGIN answer (the user name, then the password), base64.
pub fn login_response(text: &str) -> String {
    STANDARD.encode(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chooses_plain_then_login() {
        let table: [(&[&str], Option<Mechanism>); 5] = [
            (&["PIPELINING", "AUTH LOGIN PLAIN"], Some(Mechanism::Plain)),
            (&["AUTH LOGIN CRAM-MD5"], Some(Mechanism::Login)),
            (&["AUTH=LOGIN"], Some(Mechanism::Login)),
            (&["AUTH CRAM-MD5"], None),
            (&["PIPELINING", "SIZE 10"], None),
        ];
        for (lines, want) in table {
            assert_eq!(choose(lines.iter().copied()), want, "{lines:?}");
        }
    }

    #[test]
    fn encodes_responses() {
        let c = Credentials {
            user: "tim".into(),
            password: "tanstaaftanstaaf".into(),
        };
        // RFC 4616's example.
        assert_eq!(plain_response(&c), "AHRpbQB0YW5zdGFhZnRhbnN0YWFm");
        assert_eq!(login_response("tim"), "dGlt");
    }
}
