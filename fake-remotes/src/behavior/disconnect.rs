//! `disconnect`: TODO
use serde::{Deserialize, Serialize};
use crate::Stage;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Disconnect {
    pub stage: Stage,
    #[serde(default = "one")]
    pub probability: f64,
}

fn one() -> f64 { 1.0 }
