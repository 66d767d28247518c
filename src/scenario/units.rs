//! The human units of scenario files: rates (`200/s`), sizes (`4KiB`), percentages
//! (`90%`), durations (`30s`) and percentile keys (`p99`). Each parser takes the text as
//! written and returns either the value or a message that quotes the text and shows a
//! valid example, so `validate.rs` only has to attach the location.
//!
//! Numbers are plain decimals (`12`, `0.5`): no signs, exponents, `inf` or `NaN`, which
//! `f64::from_str` would otherwise accept and which make no sense in a scenario.

use std::time::Duration;

/// The highest rate a step may ask for, in messages per second (DESIGN §7: rates are
/// capped by the scenario; this is far above what one generator process can push).
pub const MAX_RATE_PER_SEC: f64 = 50_000.0;
/// The largest message body a scenario may ask for.
pub const MAX_SIZE: usize = 64 * 1024 * 1024;

/// The percentile keys of `isolation` and `acceptance`, with their percentile.
pub const PERCENTILE_KEYS: [(&str, f64); 5] = [
    ("p50", 50.0),
    ("p90", 90.0),
    ("p95", 95.0),
    ("p99", 99.0),
    ("p99.9", 99.9),
];

/// A non-negative decimal written with digits and at most one `.`; `None` otherwise.
fn decimal(text: &str) -> Option<f64> {
    let digits = text.chars().filter(char::is_ascii_digit).count();
    let dots = text.chars().filter(|&c| c == '.').count();
    if digits == 0 || dots > 1 || digits + dots != text.len() {
        return None;
    }
    text.parse().ok()
}

/// `200/s`, `12000/m`, `1.5/h`, `400/sec`, `10/minute` → messages per second, in
/// (0, [`MAX_RATE_PER_SEC`]]. The unit is any word a duration takes (`s`, `sec`,
/// `second`, `min`, `minute`, `h`, `hour`, …): it is read as a duration of one of it, so
/// rates and durations share one unit table (humantime's).
pub fn parse_rate(text: &str) -> Result<f64, String> {
    let invalid =
        || format!("invalid rate `{text}`: expected a number per unit, e.g. 200/s, 12000/m");
    let (number, unit) = text.split_once('/').ok_or_else(invalid)?;
    let unit = unit.trim();
    // A word only: `200/5s` is not a rate of this format.
    if unit.is_empty() || !unit.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(invalid());
    }
    let per_sec = fake_remotes::units::parse_duration(&format!("1{unit}"))
        .map_err(|_| invalid())?
        .as_secs_f64();
    let rate = decimal(number.trim()).ok_or_else(invalid)? / per_sec;
    if rate <= 0.0 {
        return Err(format!("rate `{text}` must be more than 0"));
    }
    if rate > MAX_RATE_PER_SEC {
        return Err(format!("rate `{text}` is above the cap of 50000/s"));
    }
    Ok(rate)
}

/// `4KiB`, `1MiB`, `4KB`, `512B`, `2048` → bytes, in [1, [`MAX_SIZE`]]. Decimal sizes
/// (`1.5KiB`) round to the nearest byte.
pub fn parse_size(text: &str) -> Result<usize, String> {
    let invalid = || {
        format!("invalid size `{text}`: expected bytes or a number and a unit, e.g. 2048, 4KiB, 1MiB, 10KB")
    };
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let multiplier = match unit.trim() {
        "" | "B" => 1.0,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        "KB" => 1000.0,
        "MB" => 1_000_000.0,
        _ => return Err(invalid()),
    };
    let number = decimal(number).ok_or_else(invalid)?;
    // Plain byte counts must be whole: `12.5` bytes is a typo, not a size.
    if multiplier == 1.0 && number.fract() != 0.0 {
        return Err(invalid());
    }
    let bytes = (number * multiplier).round();
    if bytes < 1.0 {
        return Err(format!("size `{text}` must be at least 1 byte"));
    }
    if bytes > MAX_SIZE as f64 {
        return Err(format!("size `{text}` is above the cap of 64MiB"));
    }
    Ok(bytes as usize)
}

/// `90%`, `99.5%` → a fraction in [0, 1]. The `%` sign is required so that `0.9` and `90`
/// cannot be confused.
pub fn parse_percent(text: &str) -> Result<f64, String> {
    let invalid =
        || format!("invalid percentage `{text}`: expected a number and a % sign, e.g. 90%, 99.5%");
    let number = text.trim().strip_suffix('%').ok_or_else(invalid)?;
    let percent = decimal(number.trim()).ok_or_else(invalid)?;
    if percent > 100.0 {
        return Err(format!("percentage `{text}` is above 100%"));
    }
    Ok(percent / 100.0)
}

/// `30s`, `500ms`, `1m30s`, `0` → a duration, at most `max` (so offsets can be added
/// without overflow and typos like `30d` for `30s` are caught).
pub fn parse_duration(text: &str, max: Duration) -> Result<Duration, String> {
    let duration = fake_remotes::units::parse_duration(text)?;
    if duration > max {
        return Err(format!(
            "duration `{text}` is above the cap of {}",
            humantime::format_duration(max)
        ));
    }
    Ok(duration)
}

/// `p99` → 99.0; `None` for anything but the keys of [`PERCENTILE_KEYS`].
pub fn percentile_of(key: &str) -> Option<f64> {
    PERCENTILE_KEYS
        .iter()
        .find(|(name, _)| *name == key)
        .map(|&(_, p)| p)
}

/// A percentage for messages: `0.9` → `90%`, `1.1` → `110%`, `0.99999` → `99.999%`.
pub fn format_percent(fraction: f64) -> String {
    let text = format!("{:.3}", fraction * 100.0);
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text}%")
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: Duration = Duration::from_secs(86_400);

    #[test]
    fn rates() {
        let table: &[(&str, Result<f64, &str>)] = &[
            ("200/s", Ok(200.0)),
            ("12000/m", Ok(200.0)),
            ("3600/h", Ok(1.0)),
            ("0.5/s", Ok(0.5)),
            (" 10 / s ", Ok(10.0)),
            ("50000/s", Ok(50_000.0)),
            // The words durations take.
            ("400/sec", Ok(400.0)),
            ("400/second", Ok(400.0)),
            ("400/seconds", Ok(400.0)),
            ("12000/min", Ok(200.0)),
            ("12000/minute", Ok(200.0)),
            ("7200/hour", Ok(2.0)),
            ("7200/hr", Ok(2.0)),
            ("86400/day", Ok(1.0)),
            ("1/ms", Ok(1000.0)),
            (
                "200/5s",
                Err("invalid rate `200/5s`: expected a number per unit, e.g. 200/s, 12000/m"),
            ),
            (
                "200/",
                Err("invalid rate `200/`: expected a number per unit, e.g. 200/s, 12000/m"),
            ),
            (
                "200/parsec",
                Err("invalid rate `200/parsec`: expected a number per unit, e.g. 200/s, 12000/m"),
            ),
            ("1/ns", Err("rate `1/ns` is above the cap of 50000/s")),
            (
                "fast",
                Err("invalid rate `fast`: expected a number per unit, e.g. 200/s, 12000/m"),
            ),
            (
                "200",
                Err("invalid rate `200`: expected a number per unit, e.g. 200/s, 12000/m"),
            ),
            ("200/d", Ok(200.0 / 86400.0)),
            (
                "-5/s",
                Err("invalid rate `-5/s`: expected a number per unit, e.g. 200/s, 12000/m"),
            ),
            (
                "inf/s",
                Err("invalid rate `inf/s`: expected a number per unit, e.g. 200/s, 12000/m"),
            ),
            (
                "NaN/s",
                Err("invalid rate `NaN/s`: expected a number per unit, e.g. 200/s, 12000/m"),
            ),
            (
                "1e3/s",
                Err("invalid rate `1e3/s`: expected a number per unit, e.g. 200/s, 12000/m"),
            ),
            (
                "1..2/s",
                Err("invalid rate `1..2/s`: expected a number per unit, e.g. 200/s, 12000/m"),
            ),
            (
                "./s",
                Err("invalid rate `./s`: expected a number per unit, e.g. 200/s, 12000/m"),
            ),
            ("0/s", Err("rate `0/s` must be more than 0")),
            ("50001/s", Err("rate `50001/s` is above the cap of 50000/s")),
        ];
        for (text, want) in table {
            assert_eq!(parse_rate(text), want.map_err(str::to_owned), "{text}");
        }
    }

    #[test]
    fn sizes() {
        let expected = "expected bytes or a number and a unit, e.g. 2048, 4KiB, 1MiB, 10KB";
        let table: &[(&str, Result<usize, String>)] = &[
            ("2048", Ok(2048)),
            ("512B", Ok(512)),
            ("4KiB", Ok(4096)),
            ("4 KiB", Ok(4096)),
            ("1.5KiB", Ok(1536)),
            ("1MiB", Ok(1 << 20)),
            ("10KB", Ok(10_000)),
            ("2MB", Ok(2_000_000)),
            ("64MiB", Ok(MAX_SIZE)),
            ("4kb", Err(format!("invalid size `4kb`: {expected}"))),
            ("big", Err(format!("invalid size `big`: {expected}"))),
            ("KiB", Err(format!("invalid size `KiB`: {expected}"))),
            ("12.5", Err(format!("invalid size `12.5`: {expected}"))),
            ("-1", Err(format!("invalid size `-1`: {expected}"))),
            ("0", Err("size `0` must be at least 1 byte".to_owned())),
            (
                "65MiB",
                Err("size `65MiB` is above the cap of 64MiB".to_owned()),
            ),
        ];
        for (text, want) in table {
            assert_eq!(&parse_size(text), want, "{text}");
        }
    }

    #[test]
    fn percentages() {
        let expected = "expected a number and a % sign, e.g. 90%, 99.5%";
        let table: &[(&str, Result<f64, String>)] = &[
            ("90%", Ok(0.9)),
            ("99.5%", Ok(0.995)),
            ("0%", Ok(0.0)),
            ("100%", Ok(1.0)),
            ("90", Err(format!("invalid percentage `90`: {expected}"))),
            ("0.9", Err(format!("invalid percentage `0.9`: {expected}"))),
            ("%", Err(format!("invalid percentage `%`: {expected}"))),
            ("-5%", Err(format!("invalid percentage `-5%`: {expected}"))),
            ("101%", Err("percentage `101%` is above 100%".to_owned())),
        ];
        for (text, want) in table {
            let got = parse_percent(text);
            match (&got, want) {
                (Ok(a), Ok(b)) => assert!((a - b).abs() < 1e-12, "{text}: {a} != {b}"),
                _ => assert_eq!(&got, want, "{text}"),
            }
        }
    }

    #[test]
    fn durations() {
        let table: &[(&str, Result<Duration, String>)] = &[
            ("30s", Ok(Duration::from_secs(30))),
            ("500ms", Ok(Duration::from_millis(500))),
            ("1m30s", Ok(Duration::from_secs(90))),
            ("0", Ok(Duration::ZERO)),
            ("1d", Ok(DAY)),
            (
                "10 parsecs",
                Err("invalid duration `10 parsecs`: expected a number and a unit, e.g. 500ms, 30s, 2m".to_owned()),
            ),
            ("2d", Err("duration `2d` is above the cap of 1day".to_owned())),
            (
                "99999999999999999999y",
                Err("invalid duration `99999999999999999999y`: expected a number and a unit, e.g. 500ms, 30s, 2m".to_owned()),
            ),
        ];
        for (text, want) in table {
            assert_eq!(&parse_duration(text, DAY), want, "{text}");
        }
    }

    #[test]
    fn percentile_keys() {
        let table = [
            ("p50", Some(50.0)),
            ("p90", Some(90.0)),
            ("p95", Some(95.0)),
            ("p99", Some(99.0)),
            ("p99.9", Some(99.9)),
            ("p75", None),
            ("p100", None),
            ("P99", None),
            ("99", None),
        ];
        for (key, want) in table {
            assert_eq!(percentile_of(key), want, "{key}");
        }
    }

    #[test]
    fn percent_formatting() {
        let table = [
            (0.9, "90%"),
            (1.1, "110%"),
            (0.995, "99.5%"),
            (0.0, "0%"),
            (1.0 / 3.0, "33.333%"),
        ];
        for (fraction, want) in table {
            assert_eq!(format_percent(fraction), want, "{fraction}");
        }
    }
}
