//! `tarpit`: the client waits. With `banner` the greeting comes only after that delay;
//! with `reply` every later reply comes that much after its command; with
//! `bytes_per_sec` every reply (banner included) trickles in at that rate, a few bytes
//! at a time; with `dot` only the reply to the final dot waits, before the message is
//! taken (a slow content filter at end of data: every message costs that much, however
//! many a connection carries). The answers themselves are the normal ones (or another
//! fault's).
//!
//! With `jitter: J` each wait (banner, every reply) is drawn anew, uniform in
//! `[delay − J, delay + J]`; J may not exceed a delay it varies. With `probability: p`
//! about that share of connections is tarpitted, all their replies (`chance.rs`).
//!
//! Several tarpits in force at once add up to the longest delays and the slowest rate.
//! The session reports a tarpit once per session, at the first stage it slows.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::chance::jittered;

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
    /// How long the reply to the final dot waits.
    #[serde(
        default,
        with = "crate::units::opt_duration",
        skip_serializing_if = "Option::is_none"
    )]
    pub dot: Option<Duration>,
    /// How much each `banner`/`reply` wait varies either way.
    #[serde(
        default,
        with = "crate::units::opt_duration",
        skip_serializing_if = "Option::is_none"
    )]
    pub jitter: Option<Duration>,
    /// The share of connections tarpitted (`None`: all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
}

impl Tarpit {
    pub fn validate(&self) -> Result<(), String> {
        if self.bytes_per_sec == Some(0) {
            return Err("tarpit bytes_per_sec must be at least 1".to_string());
        }
        super::chance::check_probability(self.probability)?;
        let Some(jitter) = self.jitter else {
            return Ok(());
        };
        let show = |d: Duration| humantime::format_duration(d).to_string();
        if self.banner.is_none() && self.reply.is_none() {
            return Err(format!(
                "jitter {} needs a delay to vary: give banner or reply",
                show(jitter)
            ));
        }
        for (key, delay) in [("banner", self.banner), ("reply", self.reply)] {
            match delay {
                Some(d) if jitter > d => {
                    return Err(format!(
                        "jitter {} is more than the {key} delay {}: jitter may be at most the delay (each wait is drawn from delay - jitter to delay + jitter)",
                        show(jitter),
                        show(d)
                    ))
                }
                _ => {}
            }
        }
        Ok(())
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

/// The longest banner delay of the tarpits in force (each jittered).
pub(super) fn banner_delay<'a>(
    tarpits: impl Iterator<Item = &'a Tarpit>,
    rng: &mut fastrand::Rng,
) -> Option<Duration> {
    tarpits
        .filter_map(|t| t.banner.map(|d| jittered(d, t.jitter, rng)))
        .max()
}

/// The longest end-of-data delay of the tarpits in force.
pub(super) fn dot_delay<'a>(tarpits: impl Iterator<Item = &'a Tarpit>) -> Option<Duration> {
    tarpits.filter_map(|t| t.dot).max()
}

/// The longest reply delay and the slowest rate of the tarpits in force; `None` when no
/// tarpit slows replies, so a healthy session pays nothing.
pub(super) fn pacing<'a>(
    tarpits: impl Iterator<Item = &'a Tarpit>,
    rng: &mut fastrand::Rng,
) -> Option<Pacing> {
    let mut pacing: Option<Pacing> = None;
    for t in tarpits {
        if t.reply.is_none() && t.bytes_per_sec.is_none() {
            continue;
        }
        let p = pacing.get_or_insert(Pacing {
            delay: Duration::ZERO,
            bytes_per_sec: None,
        });
        let delay = t.reply.map(|d| jittered(d, t.jitter, rng));
        p.delay = p.delay.max(delay.unwrap_or_default());
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
            ..Tarpit::default()
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
        let rng = &mut fastrand::Rng::with_seed(1);
        for (tarpits, banner, reply) in table {
            let got_banner = banner_delay(tarpits.iter(), rng);
            assert_eq!(got_banner, banner.map(Duration::from_millis), "{tarpits:?}");
            let want = reply.map(|(ms, bytes_per_sec)| Pacing {
                delay: Duration::from_millis(ms),
                bytes_per_sec,
            });
            assert_eq!(pacing(tarpits.iter(), rng), want, "{tarpits:?}");
        }
    }

    #[test]
    fn jitter_varies_each_wait_within_the_delay() {
        let t = Tarpit {
            banner: Some(Duration::from_millis(400)),
            reply: Some(Duration::from_millis(100)),
            jitter: Some(Duration::from_millis(100)),
            ..Tarpit::default()
        };
        let rng = &mut fastrand::Rng::with_seed(1);
        let delays: Vec<Duration> = (0..200)
            .map(|_| pacing([&t].into_iter(), rng).unwrap().delay)
            .collect();
        assert!(delays.iter().all(|d| *d <= Duration::from_millis(200)));
        assert!(delays.iter().any(|d| *d < Duration::from_millis(20)));
        assert!(delays.iter().any(|d| *d > Duration::from_millis(180)));
        let banner = banner_delay([&t].into_iter(), rng).unwrap();
        assert!((300..=500).contains(&banner.as_millis()), "{banner:?}");
    }

    #[test]
    fn jitter_and_probability_are_checked() {
        let ms = |n| Some(Duration::from_millis(n));
        let table = [
            (
                Tarpit {
                    reply: ms(100),
                    jitter: ms(100),
                    ..Tarpit::default()
                },
                None,
            ),
            (
                Tarpit {
                    reply: ms(100),
                    jitter: ms(150),
                    ..Tarpit::default()
                },
                Some("jitter 150ms is more than the reply delay 100ms"),
            ),
            (
                Tarpit {
                    banner: ms(1000),
                    reply: ms(50),
                    jitter: ms(100),
                    ..Tarpit::default()
                },
                Some("the reply delay 50ms"),
            ),
            (
                Tarpit {
                    bytes_per_sec: Some(10),
                    jitter: ms(10),
                    ..Tarpit::default()
                },
                Some("jitter 10ms needs a delay to vary"),
            ),
            (
                Tarpit {
                    banner: ms(10),
                    probability: Some(0.0),
                    ..Tarpit::default()
                },
                Some("probability 0 is out of range"),
            ),
            (
                Tarpit {
                    banner: ms(10),
                    probability: Some(0.3),
                    ..Tarpit::default()
                },
                None,
            ),
        ];
        for (t, want) in table {
            match (t.validate(), want) {
                (Ok(()), None) => {}
                (Err(e), Some(w)) => assert!(e.contains(w), "{e}"),
                (got, _) => panic!("{t:?}: {got:?}"),
            }
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
