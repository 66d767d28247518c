//! `disconnect`: when the command of the chosen stage arrives, the server closes the
//! connection (FIN) without answering it; the client reads end-of-file where it expected a
//! reply. At `connect` the banner never comes. At `dot` the whole body is read first, then
//! the connection closes: the message *was* taken (counted, like a server that crashed
//! after its commit but before its reply), the client cannot know it, retries, and the
//! retry arrives as a duplicate.
//!
//! Replies to earlier pipelined commands are still sent before the close. If the client
//! had sent more input than the server read, the kernel may turn the close into a reset.

use serde::{Deserialize, Serialize};

use super::{check_probability, draw};
use crate::Stage;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Disconnect {
    pub stage: Stage,
    #[serde(default = "one")]
    pub probability: f64,
}

fn one() -> f64 {
    1.0
}

impl Disconnect {
    /// Whether this occurrence of `stage` is cut (one draw per occurrence of its stage).
    pub fn fires(&self, stage: Stage, rng: &mut fastrand::Rng) -> bool {
        self.stage == stage && draw(self.probability, rng)
    }

    pub fn validate(&self) -> Result<(), String> {
        check_probability(self.probability)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fires_only_at_its_stage_with_its_probability() {
        let table = [
            (Stage::Dot, 1.0, Stage::Dot, true),
            (Stage::Dot, 1.0, Stage::Rcpt, false),
            (Stage::Banner, 1.0, Stage::Banner, true),
            (Stage::Mail, 0.0, Stage::Mail, false),
        ];
        let mut rng = fastrand::Rng::with_seed(1);
        for (at, probability, stage, want) in table {
            let d = Disconnect {
                stage: at,
                probability,
            };
            assert_eq!(d.fires(stage, &mut rng), want, "{d:?} at {stage:?}");
        }
    }

    #[test]
    fn probability_defaults_to_one() {
        let d: Disconnect = serde_json::from_str(r#"{"stage":"dot"}"#).unwrap();
        assert_eq!(d.probability, 1.0);
    }
}
