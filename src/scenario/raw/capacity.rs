//! `capacity:` — the settings of `mailquake capacity` (the search and its criteria).

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::Text;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCapacity {
    #[serde(default)]
    pub start: Option<Spanned<Text>>,
    #[serde(default)]
    pub max_rate: Option<Spanned<Text>>,
    #[serde(default)]
    pub step: Option<Spanned<Text>>,
    #[serde(default)]
    pub settle: Option<Spanned<Text>>,
    #[serde(default)]
    pub max_steps: Option<Spanned<Text>>,
    #[serde(default)]
    pub resolution: Option<Spanned<Text>>,
    #[serde(default)]
    pub acceptance: Option<Spanned<Text>>,
    #[serde(default)]
    pub submit_p99: Option<Spanned<Text>>,
    #[serde(default)]
    pub keep_up: Option<Spanned<Text>>,
}
