//! `tarpit`: the client waits. With `banner` the greeting comes only after that delay;
//! with `reply` every later reply comes that much after its command; with
//! `bytes_per_sec` every reply (banner included) trickles in at that rate, a few bytes
//! at a time; with `dot` only the reply to the final dot waits, before the message is
//! taken (a slow content filter at end of data: every message costs that much, however
//! many a connection carries). The answers themselves are the normal ones (or another
//! fault's).
//!
//! Several tarpits in force at once add up to the longest delays and the slowest rate.
//! The session reports a tarpit once per session, at the first stage it slows.

use std::time::Duration;

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tarpit {
    #[serde(
        default,
        with = "crate::units::opt_duration",
        skip_serializing_if = "Option::is_none"
    )]
    pub banner: Option<Duration>,
    #[serde(
        default,
        with = "crate::units::opt_duration",
        skip_serializing_if = "Option::is_none"
    )]
    pub reply: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes_per_sec: Option<u32>,
    #[serde(
        default,
        with = "crate::units::opt_duration",
        skip_serializing_if = "Option::is_none"
    )]
    pub dot: Option<Duration>,
}

impl Tarpit {
    pub fn validate(&self) -> Result<(), String> {
        match self.bytes_per_sec {
            Some(0) => Err("tarpit bytes_per_sec must be at least 1".to_string()),
            _ => Ok(()),
        }
    }
}

/// How to send each reply after the banner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pacing {
    /// Wait this long before sending the reply.
    pub delay: Duration,
    /// Then send it at this rate (all at once when `None`).
    pub bytes_per_sec: Option<u32>,
}

/// The longest banner delay of the tarpits in force.
pub(super) fn banner_delay<'a>(tarpits: impl Iterator<Item = &'a Tarpit>) -> Option<Duration> {
    tarpits.filter_map(|t| t.banner).max()
}

/// The longest end-of-data delay of the tarpits in force.
pub(super) fn dot_delay<'a>(tarpits: impl Iterator<Item = &'a Tarpit>) -> Option<Duration> {
    tarpits.filter_map(|t| t.dot).max()
}

/// The longest reply delay and the slowest rate of the tarpits in force; `None` when no
/// tarpit slows replies, so a healthy session pays nothing.
pub(super) fn pacing<'a>(tarpits: impl Iterator<Item = &'a Tarpit>) -> Option<Pacing> {
    let mut pacing: Option<Pacing> = None;
    for t in tarpits {
        if t.reply.is_none() && t.bytes_per_sec.is_none() {
            continue;
        }
        let p = pacing.get_or_insert(Pacing {
            delay: Duration::ZERO,
            bytes_per_sec: None,
        });
        p.delay = p.delay.max(t.reply.unwrap_or_default());
        p.bytes_per_sec = match (p.bytes_per_sec, t.bytes_per_sec) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
    pacing
}

/// Bytes per write when dribbling: about 20 writes a second, at least one byte each.
pub fn chunk_len(bytes_per_sec: u32) -> usize {
    (bytes_per_sec as usize / 20).max(1)
}

/// When the byte at offset `sent` is due, counted from the start of the reply.
pub fn due(sent: usize, bytes_per_sec: u32) -> Duration {
    Duration::from_secs_f64(sent as f64 / f64::from(bytes_per_sec.max(1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tarpit(banner: u64, reply: u64, bps: Option<u32>) -> Tarpit {
        let ms = |n| (n > 0).then(|| Duration::from_millis(n));
        Tarpit {
            banner: ms(banner),
            reply: ms(reply),
            bytes_per_sec: bps,
            dot: None,
        }
    }

    #[test]
    fn tarpits_combine_to_longest_delay_and_slowest_rate() {
        let table = [
            (vec![], None, None),
            (vec![tarpit(500, 0, None)], Some(500), None),
            (
                vec![tarpit(500, 100, None), tarpit(200, 300, Some(50))],
                Some(500),
                Some((300, Some(50))),
            ),
            (
                vec![tarpit(0, 0, Some(100)), tarpit(0, 0, Some(10))],
                None,
                Some((0, Some(10))),
            ),
        ];
        for (tarpits, banner, reply) in table {
            let got_banner = banner_delay(tarpits.iter());
            assert_eq!(got_banner, banner.map(Duration::from_millis), "{tarpits:?}");
            let want = reply.map(|(ms, bytes_per_sec)| Pacing {
                delay: Duration::from_millis(ms),
                bytes_per_sec,
            });
            assert_eq!(pacing(tarpits.iter()), want, "{tarpits:?}");
        }
    }

    #[test]
    fn dribble_schedule() {
        assert_eq!(chunk_len(1), 1);
        assert_eq!(chunk_len(10), 1);
        assert_eq!(chunk_len(1000), 50);
        assert_eq!(due(0, 10), Duration::ZERO);
        assert_eq!(due(10, 10), Duration::from_secs(1));
        assert_eq!(due(25, 100), Duration::from_millis(250));
    }
}
