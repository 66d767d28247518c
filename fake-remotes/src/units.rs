//! Serde helpers for the human units used in scenario files: durations such as `2s`,
//! `500ms`, `1m30s` (humantime), written back the same way.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serializer};

/// Parses a duration written for people (`30s`, `500ms`, `2m`), with a message that says
/// what was expected.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    if trimmed == "0" {
        return Ok(Duration::ZERO);
    }
    humantime::parse_duration(trimmed).map_err(|_| {
        format!("invalid duration `{text}`: expected a number and a unit, e.g. 500ms, 30s, 2m")
    })
}

/// `#[serde(with = "fake_remotes::units::duration")]` for a required `Duration`.
pub mod duration {
    use super::*;

    pub fn deserialize<'de, D: Deserializer<'de>>(de: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(de)?;
        parse_duration(&text).map_err(serde::de::Error::custom)
    }

    pub fn serialize<S: Serializer>(value: &Duration, ser: S) -> Result<S::Ok, S::Error> {
        ser.serialize_str(&humantime::format_duration(*value).to_string())
    }
}

/// `#[serde(default, with = "fake_remotes::units::opt_duration")]` for an optional `Duration`.
pub mod opt_duration {
    use super::*;

    pub fn deserialize<'de, D: Deserializer<'de>>(de: D) -> Result<Option<Duration>, D::Error> {
        let text = Option::<String>::deserialize(de)?;
        text.map(|t| parse_duration(&t).map_err(serde::de::Error::custom))
            .transpose()
    }

    pub fn serialize<S: Serializer>(value: &Option<Duration>, ser: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(d) => ser.serialize_str(&humantime::format_duration(*d).to_string()),
            None => ser.serialize_none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_people_units() {
        let table = [
            ("500ms", Some(Duration::from_millis(500))),
            ("2s", Some(Duration::from_secs(2))),
            ("1m30s", Some(Duration::from_secs(90))),
            ("0", Some(Duration::ZERO)),
            ("fast", None),
            ("10", None),
        ];
        for (text, want) in table {
            assert_eq!(parse_duration(text).ok(), want, "{text}");
        }
    }
}
