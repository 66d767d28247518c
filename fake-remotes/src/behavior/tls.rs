//! `tls`: STARTTLS goes wrong. Every remote advertises STARTTLS in its EHLO reply; a
//! healthy one answers `220 2.0.0 Ready to start TLS` and completes the handshake with a
//! certificate for its host name signed by the process's test CA (see [`crate::tls`]).
//! With the fault in force, the client sees, by mode:
//!
//! - `starttls_refused`: STARTTLS is still advertised, but the command gets
//!   `454 4.7.0 TLS not available due to temporary reason` (Postfix's answer when its
//!   certificate or TLS library fails); the session goes on in plain text.
//! - `handshake_hang`: `220 2.0.0 Ready to start TLS`, then the ClientHello is never
//!   answered and the connection is held open (an overloaded or wedged TLS terminator);
//!   the client waits until its own timeout.
//! - `expired_cert`: the handshake presents a certificate for the right name, signed by
//!   the test CA, whose validity ended 30 days ago (a forgotten renewal).
//! - `wrong_name`: a certificate signed by the test CA for another host name
//!   (`wrong-name.fake-remotes.invalid`): an MX shared by several domains, or a load
//!   balancer presenting its default certificate.
//! - `unknown_ca`: a certificate for the right name signed by a CA that is not the test
//!   CA (a self-signed or private-CA certificate, as many MXes have).
//!
//! A verifying client aborts the handshake with an alert (expired, bad name, unknown
//! issuer); an opportunistic one (most MTA-to-MTA delivery) goes on regardless. Several
//! TLS faults in force at once: the first in list order wins. Reported once per STARTTLS.

use serde::{Deserialize, Serialize};

use crate::RemoteReply;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TlsFault {
    StarttlsRefused,
    HandshakeHang,
    ExpiredCert,
    WrongName,
    UnknownCa,
}

impl TlsFault {
    pub const ALL: [TlsFault; 5] = [
        TlsFault::StarttlsRefused,
        TlsFault::HandshakeHang,
        TlsFault::ExpiredCert,
        TlsFault::WrongName,
        TlsFault::UnknownCa,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            TlsFault::StarttlsRefused => "starttls_refused",
            TlsFault::HandshakeHang => "handshake_hang",
            TlsFault::ExpiredCert => "expired_cert",
            TlsFault::WrongName => "wrong_name",
            TlsFault::UnknownCa => "unknown_ca",
        }
    }
}

/// Which certificate the server presents.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Certificate {
    /// For the host name, signed by the test CA, valid now.
    Valid,
    /// For the host name, signed by the test CA, expired.
    Expired,
    /// For another host name, signed by the test CA, valid now.
    WrongName,
    /// For the host name, signed by a CA nobody trusts, valid now.
    UnknownCa,
}

/// What to do after `220 Ready to start TLS`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Handshake {
    /// Complete the handshake with this certificate.
    Present(Certificate),
    /// Never answer the ClientHello; hold the connection.
    Hang,
}

/// The reply to STARTTLS under `starttls_refused`.
pub fn refused() -> RemoteReply {
    RemoteReply::new(454, "4.7.0 TLS not available due to temporary reason")
}

/// The answer to the STARTTLS command itself, if this fault replaces it.
pub(super) fn at_starttls(fault: TlsFault) -> Option<RemoteReply> {
    (fault == TlsFault::StarttlsRefused).then(refused)
}

/// What this fault does to the handshake, if anything.
pub(super) fn handshake(fault: TlsFault) -> Option<Handshake> {
    match fault {
        TlsFault::StarttlsRefused => None,
        TlsFault::HandshakeHang => Some(Handshake::Hang),
        TlsFault::ExpiredCert => Some(Handshake::Present(Certificate::Expired)),
        TlsFault::WrongName => Some(Handshake::Present(Certificate::WrongName)),
        TlsFault::UnknownCa => Some(Handshake::Present(Certificate::UnknownCa)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_mode_refuses_hangs_or_picks_a_certificate() {
        let table = [
            (TlsFault::StarttlsRefused, Some(454), None),
            (TlsFault::HandshakeHang, None, Some(Handshake::Hang)),
            (
                TlsFault::ExpiredCert,
                None,
                Some(Handshake::Present(Certificate::Expired)),
            ),
            (
                TlsFault::WrongName,
                None,
                Some(Handshake::Present(Certificate::WrongName)),
            ),
            (
                TlsFault::UnknownCa,
                None,
                Some(Handshake::Present(Certificate::UnknownCa)),
            ),
        ];
        for (fault, reply, hs) in table {
            assert_eq!(at_starttls(fault).map(|r| r.code), reply, "{fault:?}");
            assert_eq!(handshake(fault), hs, "{fault:?}");
            let json = serde_json::to_string(&fault).unwrap();
            assert_eq!(json, format!("\"{}\"", fault.as_str()));
        }
        assert_eq!(
            refused().text,
            "4.7.0 TLS not available due to temporary reason"
        );
    }
}
