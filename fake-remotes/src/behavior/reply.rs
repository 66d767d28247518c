//! `reply`: at the chosen stage the client gets the chosen reply (`code text`) instead of
//! the normal one, with a probability drawn per occurrence.
//!
//! - `connect`: the banner itself carries the code. After a 4xx/5xx banner the session
//!   only accepts QUIT (every other command gets `503 5.5.1`), as RFC 5321 §3.1 asks of
//!   a server that greets with 554.
//! - `ehlo`, `mail`: the greeting or the transaction is refused (a 2xx goes on normally).
//! - `rcpt`: that one recipient is refused; the others of the transaction are not.
//! - `data`: the message is refused before its body (a 3xx lets the body come).
//! - `dot`: the message is refused after its body and is not handed to the sink (a 2xx
//!   hands it to the sink but answers with the fault's text).
//! - `quit`: the reply to QUIT, then the close as usual.
//!
//! A 421 at any stage closes the connection right after the reply, as RFC 5321 §3.8 says.
//! Without `text`, a default by class is used, e.g. `451 4.3.0 temporary failure
//! (fake-remotes)`.

use serde::{Deserialize, Serialize};

use super::{check_probability, draw};
use crate::{RemoteReply, Stage};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplyFault {
    pub stage: Stage,
    pub code: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default = "one")]
    pub probability: f64,
}

fn one() -> f64 {
    1.0
}

impl ReplyFault {
    /// The reply to send at this occurrence of `stage`, if the fault fires.
    pub fn fires(&self, stage: Stage, rng: &mut fastrand::Rng) -> Option<RemoteReply> {
        if self.stage != stage || !draw(self.probability, rng) {
            return None;
        }
        let text = match &self.text {
            Some(text) => text.clone(),
            None => default_text(self.code).to_string(),
        };
        Some(RemoteReply::new(self.code, text))
    }

    pub fn validate(&self) -> Result<(), String> {
        check_probability(self.probability)?;
        if !(200..=599).contains(&self.code) {
            return Err(format!(
                "reply code {} is out of range: expected 200 to 599",
                self.code
            ));
        }
        match &self.text {
            Some(text) if text.contains(['\r', '\n']) => {
                Err("reply text must be one line (no CR or LF)".to_string())
            }
            _ => Ok(()),
        }
    }
}

/// The text used when a reply fault gives none: an enhanced status code of the same class.
pub fn default_text(code: u16) -> &'static str {
    match code {
        421 => "4.3.2 service not available, closing connection (fake-remotes)",
        200..=299 => "2.0.0 ok (fake-remotes)",
        300..=399 => "go ahead (fake-remotes)",
        400..=499 => "4.3.0 temporary failure (fake-remotes)",
        _ => "5.7.1 rejected (fake-remotes)",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fires_at_its_stage_with_default_or_given_text() {
        let table = [
            (
                451,
                None,
                Stage::Rcpt,
                Some("4.3.0 temporary failure (fake-remotes)"),
            ),
            (
                550,
                None,
                Stage::Rcpt,
                Some("5.7.1 rejected (fake-remotes)"),
            ),
            (421, None, Stage::Rcpt, Some(default_text(421))),
            (
                554,
                Some("5.7.0 go away"),
                Stage::Rcpt,
                Some("5.7.0 go away"),
            ),
            (451, None, Stage::Mail, None),
        ];
        let mut rng = fastrand::Rng::with_seed(1);
        for (code, text, stage, want) in table {
            let fault = ReplyFault {
                stage: Stage::Rcpt,
                code,
                text: text.map(str::to_string),
                probability: 1.0,
            };
            let got = fault.fires(stage, &mut rng);
            assert_eq!(got, want.map(|t| RemoteReply::new(code, t)), "{fault:?}");
        }
    }

    #[test]
    fn probability_is_drawn_per_occurrence() {
        let fault = ReplyFault {
            stage: Stage::Rcpt,
            code: 451,
            text: None,
            probability: 0.3,
        };
        let mut rng = fastrand::Rng::with_seed(42);
        let fired = (0..1000)
            .filter(|_| fault.fires(Stage::Rcpt, &mut rng).is_some())
            .count();
        assert!((230..=370).contains(&fired), "about 30%: {fired}");
        let never = ReplyFault {
            probability: 0.0,
            ..fault
        };
        assert!((0..100).all(|_| never.fires(Stage::Rcpt, &mut rng).is_none()));
    }

    #[test]
    fn validate_rejects_bad_values() {
        let ok = ReplyFault {
            stage: Stage::Banner,
            code: 554,
            text: None,
            probability: 1.0,
        };
        assert!(ok.validate().is_ok());
        let table = [
            ReplyFault {
                code: 999,
                ..ok.clone()
            },
            ReplyFault {
                probability: -0.1,
                ..ok.clone()
            },
            ReplyFault {
                text: Some("a\r\nb".into()),
                ..ok.clone()
            },
        ];
        for bad in table {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
    }
}
