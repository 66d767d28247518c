//! `tarpit`: TODO
use std::time::Duration;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tarpit {
    #[serde(default, with = "crate::units::opt_duration", skip_serializing_if = "Option::is_none")]
    pub banner: Option<Duration>,
    #[serde(default, with = "crate::units::opt_duration", skip_serializing_if = "Option::is_none")]
    pub reply: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes_per_sec: Option<u32>,
}
