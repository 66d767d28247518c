//! `reply`: TODO
use serde::{Deserialize, Serialize};
use crate::Stage;

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

fn one() -> f64 { 1.0 }
