//! Serde helpers for the human units used in scenario files: durations such as `2s`,
//! `500ms`, `1m30s` (humantime), written back the same way; and counts (whole numbers of
//! at least 1) with a message that says so.

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

/// `#[serde(default, with = "fake_remotes::units::opt_count")]` for an optional count: a
/// whole number from 1 to 4294967295. A number written as text (`"5"`) is read too.
pub mod opt_count {
    use std::fmt;

    use serde::de::{self, Visitor};

    use super::*;

    const EXPECTED: &str = "a whole number of at least 1";

    struct Count;

    impl Visitor<'_> for Count {
        type Value = u32;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str(EXPECTED)
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<u32, E> {
            match u32::try_from(v) {
                Ok(n) if n >= 1 => Ok(n),
                _ => Err(E::custom(format!(
                    "`{v}` is out of range: expected {EXPECTED} (at most 4294967295)"
                ))),
            }
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<u32, E> {
            match u64::try_from(v) {
                Ok(v) => self.visit_u64(v),
                Err(_) => Err(E::custom(format!(
                    "`{v}` is out of range: expected {EXPECTED}"
                ))),
            }
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<u32, E> {
            Err(E::custom(format!(
                "invalid number `{v}`: expected {EXPECTED}"
            )))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<u32, E> {
            match v.trim().parse::<u64>() {
                Ok(n) if v.trim().bytes().all(|b| b.is_ascii_digit()) => self.visit_u64(n),
                _ => Err(E::custom(format!(
                    "invalid number `{v}`: expected {EXPECTED}"
                ))),
            }
        }
    }

    /// Some(count) when present.
    pub fn deserialize<'de, D: Deserializer<'de>>(de: D) -> Result<Option<u32>, D::Error> {
        struct OptCount;
        impl<'de> Visitor<'de> for OptCount {
            type Value = Option<u32>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(EXPECTED)
            }
            fn visit_none<E: de::Error>(self) -> Result<Option<u32>, E> {
                Ok(None)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Option<u32>, E> {
                Ok(None)
            }
            fn visit_some<D: Deserializer<'de>>(self, de: D) -> Result<Option<u32>, D::Error> {
                de.deserialize_any(Count).map(Some)
            }
        }
        de.deserialize_option(OptCount)
    }

    pub fn serialize<S: Serializer>(value: &Option<u32>, ser: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(n) => ser.serialize_u32(*n),
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

    #[test]
    fn counts_are_whole_numbers_of_at_least_one() {
        #[derive(serde::Deserialize)]
        struct C {
            #[serde(default, with = "super::opt_count")]
            n: Option<u32>,
        }
        let table = [
            (r#"{"n":5}"#, Ok(Some(5))),
            (r#"{}"#, Ok(None)),
            (r#"{"n":null}"#, Ok(None)),
            (r#"{"n":"7"}"#, Ok(Some(7))),
            (r#"{"n":0}"#, Err("`0` is out of range")),
            (r#"{"n":-5}"#, Err("`-5` is out of range")),
            (r#"{"n":1.5}"#, Err("invalid number `1.5`")),
            (r#"{"n":"lots"}"#, Err("invalid number `lots`")),
            (r#"{"n":4294967296}"#, Err("out of range")),
        ];
        for (json, want) in table {
            let got = serde_json::from_str::<C>(json).map(|c| c.n);
            match (got, want) {
                (Ok(n), Ok(w)) => assert_eq!(n, w, "{json}"),
                (Err(e), Err(part)) => assert!(e.to_string().contains(part), "{json}: {e}"),
                (got, want) => panic!("{json}: got {got:?}, want {want:?}"),
            }
        }
    }
}
