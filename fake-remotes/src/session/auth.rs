//! AUTH (RFC 4954) on the server side, with the PLAIN and LOGIN mechanisms, so clients
//! can test their side of authentication against a remote. With credentials configured
//! (`ServerConfig::auth`) they are checked (`235 2.7.0` / `535 5.7.8`) and MAIL needs a
//! successful AUTH first (`530 5.7.0`, as a submission server); without, any
//! credentials are accepted and AUTH is optional.
//!
//! The exchange: `AUTH PLAIN <base64>` answers at once; `AUTH PLAIN` alone gets `334 `
//! and the next line is the response; `AUTH LOGIN` asks `334 VXNlcm5hbWU6` (Username:)
//! and `334 UGFzc3dvcmQ6` (Password:), each answered by one line. A line `*` cancels
//! (`501 5.7.0`); a response that is not base64 or not `authzid\0user\0password` gets
//! `501 5.5.2`. While an exchange is open, lines are responses, not commands.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use smtp_proto::{AUTH_LOGIN, AUTH_PLAIN};

use super::{End, Out, Session};
use crate::command::reply;
use crate::MessageSink;

/// What the next line of an open AUTH exchange is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Sasl {
    /// The PLAIN response.
    Plain,
    /// The LOGIN user name.
    LoginUser,
    /// The LOGIN password, for this user.
    LoginPassword(Vec<u8>),
}

const ASK_PLAIN: &[u8] = b"334 \r\n";
const ASK_USER: &[u8] = b"334 VXNlcm5hbWU6\r\n";
const ASK_PASSWORD: &[u8] = b"334 UGFzc3dvcmQ6\r\n";

impl<T: super::Transport, K: MessageSink> Session<T, K> {
    pub(super) async fn auth(&mut self, mechanism: u64, initial: String) -> Result<(), End> {
        if self.helo.is_none() {
            return self.send(Out::Line(reply::NEED_HELO)).await;
        }
        if self.authenticated {
            return self.send(Out::Line(reply::ALREADY_AUTHENTICATED)).await;
        }
        if self.mail_from.is_some() {
            return self.send(Out::Line(reply::IN_TRANSACTION)).await;
        }
        match (mechanism, initial.is_empty()) {
            (AUTH_PLAIN, true) => {
                self.sasl = Some(Sasl::Plain);
                self.send(Out::Line(ASK_PLAIN)).await
            }
            (AUTH_PLAIN, false) => self.sasl_step(Sasl::Plain, initial.as_bytes()).await,
            (AUTH_LOGIN, true) => {
                self.sasl = Some(Sasl::LoginUser);
                self.send(Out::Line(ASK_USER)).await
            }
            (AUTH_LOGIN, false) => self.sasl_step(Sasl::LoginUser, initial.as_bytes()).await,
            _ => self.send(Out::Line(reply::UNKNOWN_MECHANISM)).await,
        }
    }

    /// One line of an open exchange (`too_long`: it was over the line limit).
    pub(super) async fn sasl_line(&mut self, line: &[u8], too_long: bool) -> Result<(), End> {
        let Some(state) = self.sasl.take() else {
            return Ok(());
        };
        if too_long {
            return self.send(Out::Line(reply::TOO_LONG)).await;
        }
        let text = line.trim_ascii();
        if text == b"*" {
            return self.send(Out::Line(reply::AUTH_CANCELLED)).await;
        }
        self.sasl_step(state, text).await
    }

    async fn sasl_step(&mut self, state: Sasl, response: &[u8]) -> Result<(), End> {
        let Some(decoded) = decode(response) else {
            return self.send(Out::Line(reply::AUTH_UNDECODABLE)).await;
        };
        let (user, password) = match state {
            Sasl::LoginUser => {
                self.sasl = Some(Sasl::LoginPassword(decoded));
                return self.send(Out::Line(ASK_PASSWORD)).await;
            }
            Sasl::LoginPassword(user) => (user, decoded),
            Sasl::Plain => match split_plain(&decoded) {
                Some((user, password)) => (user.to_vec(), password.to_vec()),
                None => return self.send(Out::Line(reply::AUTH_UNDECODABLE)).await,
            },
        };
        if verify(self.shared.auth.as_ref(), &user, &password) {
            self.authenticated = true;
            self.send(Out::Line(reply::AUTH_OK)).await
        } else {
            self.send(Out::Line(reply::AUTH_FAILED)).await
        }
    }
}

/// Base64 of a SASL response; `=` is the empty response.
fn decode(response: &[u8]) -> Option<Vec<u8>> {
    match response {
        b"=" => Some(Vec::new()),
        _ => STANDARD.decode(response).ok(),
    }
}

/// `authzid \0 user \0 password` (RFC 4616) → (user, password).
fn split_plain(decoded: &[u8]) -> Option<(&[u8], &[u8])> {
    let mut parts = decoded.split(|&b| b == 0);
    let (_authzid, user, password) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || user.is_empty() {
        return None;
    }
    Some((user, password))
}

/// Without configured credentials anything goes.
fn verify(expected: Option<&(String, String)>, user: &[u8], password: &[u8]) -> bool {
    match expected {
        None => true,
        Some((u, p)) => u.as_bytes() == user && p.as_bytes() == password,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_responses_decode_and_split() {
        type Credentials<'a> = Option<(&'a [u8], &'a [u8])>;
        let table: [(&[u8], Credentials); 6] = [
            (b"AGFsaWNlAHNlY3JldA==", Some((b"alice", b"secret"))),
            // with an authorization identity
            (b"YWRtaW4AYWxpY2UAc2VjcmV0", Some((b"alice", b"secret"))),
            (b"=", None),
            (b"not base64!", None),
            (b"YWxpY2U=", None),             // "alice": no NULs
            (b"AGFsaWNlAHNlY3JldAB4", None), // a fourth part
        ];
        for (response, want) in table {
            let got = decode(response);
            let got = got.as_deref().and_then(split_plain);
            assert_eq!(got, want, "{}", String::from_utf8_lossy(response));
        }
    }

    #[test]
    fn verify_table() {
        let creds = ("alice".to_string(), "secret".to_string());
        type Row<'a> = (Option<&'a (String, String)>, &'a [u8], &'a [u8], bool);
        let table: [Row; 5] = [
            (None, b"anyone", b"anything", true),
            (None, b"", b"", true),
            (Some(&creds), b"alice", b"secret", true),
            (Some(&creds), b"alice", b"wrong", false),
            (Some(&creds), b"bob", b"secret", false),
        ];
        for (expected, user, password, want) in table {
            assert_eq!(verify(expected, user, password), want);
        }
    }
}
