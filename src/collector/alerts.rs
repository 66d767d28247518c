//! What an `alert` check's Prometheus said at each poll (`cluster/alerts.rs` polls it):
//! the watched alerting rules it has and their active instances. Kept in the ledger in
//! time order and saved with it, so `mailquake report DIR` judges the same readings.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One poll's reading of the watched rules.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertsSeen {
    /// The watched alerting rules Prometheus has loaded, by name.
    pub rules: Vec<String>,
    /// Their active instances: pending (the condition holds, not yet for its `for`) or
    /// firing.
    pub active: Vec<ActiveAlert>,
}

/// One active instance of an alert.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActiveAlert {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    /// `false`: pending.
    pub firing: bool,
}

/// One poll of one Prometheus, as recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertPoll {
    /// ms since t0.
    pub at_ms: u32,
    /// `http://HOST:PORT`, as the check names it.
    pub prometheus: String,
    /// `None`: the poll failed (`error` says why); the state then is unknown.
    pub seen: Option<AlertsSeen>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl AlertsSeen {
    /// Active instances firing, of any watched rule.
    pub fn firing(&self) -> u64 {
        self.active.iter().filter(|a| a.firing).count() as u64
    }
}
