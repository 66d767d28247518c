//! `probability` per connection and `jitter` on delays (Toxiproxy's toxicity and
//! jitter): which connections a fault picks, and how much a delay varies.
//!
//! A fault with `probability: p` acts on about that share of connections: each
//! connection draws once per fault, from its own seed ([`super::connection_seed`], so a
//! run with the same scenario seed and the same traffic picks the same connections) and
//! the fault's place in the list (so two faults pick independently). A picked connection
//! gets the whole fault for its whole life — "30% of connections hang", not "30% of
//! replies". `jitter: J` on a delay `D` makes each wait uniform in `[D − J, D + J]`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The settings of a fault that takes only a per-connection `probability`
/// (`{ blackhole: { probability: 0.3 } }`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Chance {
    /// `None`: every connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
}

/// Whether the connection seeded with `seed` is picked by the fault at `index` of the
/// list (`None`: every connection). Needs no RNG state: the same connection and fault
/// always give the same answer, whatever else the session drew.
pub fn picks(probability: Option<f64>, seed: u64, index: usize) -> bool {
    let Some(p) = probability else {
        return true;
    };
    let z = super::connection_seed(seed ^ 0x7C0F_FEE5_EED5_0000, index as u64);
    // 53 random bits → [0, 1).
    ((z >> 11) as f64 / (1u64 << 53) as f64) < p
}

/// A per-connection probability: in (0, 1] (0 would never act: leave the fault out).
pub fn check_probability(p: Option<f64>) -> Result<(), String> {
    match p {
        Some(p) if !(p > 0.0 && p <= 1.0) => Err(format!(
            "probability {p} is out of range: expected more than 0 and at most 1 (the share of connections the fault picks)"
        )),
        _ => Ok(()),
    }
}

/// `delay` varied by up to `jitter` either way, uniformly.
pub fn jittered(delay: Duration, jitter: Option<Duration>, rng: &mut fastrand::Rng) -> Duration {
    match jitter {
        Some(j) if !j.is_zero() => {
            let spread = j.as_secs_f64() * (2.0 * rng.f64() - 1.0);
            Duration::from_secs_f64((delay.as_secs_f64() + spread).max(0.0))
        }
        _ => delay,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_about_the_share_deterministically_and_independently() {
        let table = [(0.3, 1000usize), (0.01, 10_000), (0.5, 1000), (1.0, 100)];
        for (p, n) in table {
            let picked = (0..n as u64)
                .filter(|c| picks(Some(p), super::super::connection_seed(7, *c), 0))
                .count();
            // Binomial: mean np, 5 standard deviations either way.
            let (mean, sd) = (n as f64 * p, (n as f64 * p * (1.0 - p)).sqrt());
            assert!(
                (picked as f64 - mean).abs() <= 5.0 * sd + 0.5,
                "p {p}: {picked} of {n}"
            );
        }
        let seed = super::super::connection_seed(7, 3);
        assert_eq!(picks(Some(0.5), seed, 0), picks(Some(0.5), seed, 0));
        let differ = (0..1000u64)
            .map(|c| super::super::connection_seed(7, c))
            .filter(|s| picks(Some(0.5), *s, 0) != picks(Some(0.5), *s, 1))
            .count();
        assert!((400..=600).contains(&differ), "faults pick apart: {differ}");
        assert!(picks(None, seed, 0));
    }

    #[test]
    fn probability_must_be_in_zero_one() {
        let table = [
            (None, true),
            (Some(0.3), true),
            (Some(1.0), true),
            (Some(0.0), false),
            (Some(1.5), false),
            (Some(-0.1), false),
            (Some(f64::NAN), false),
        ];
        for (p, ok) in table {
            assert_eq!(check_probability(p).is_ok(), ok, "{p:?}");
        }
    }

    #[test]
    fn jitter_spreads_within_bounds() {
        let mut rng = fastrand::Rng::with_seed(1);
        let (d, j) = (Duration::from_millis(200), Duration::from_millis(50));
        let drawn: Vec<Duration> = (0..1000).map(|_| jittered(d, Some(j), &mut rng)).collect();
        assert!(drawn.iter().all(|x| *x >= d - j && *x <= d + j));
        assert!(drawn.iter().any(|x| *x < d - j * 4 / 5));
        assert!(drawn.iter().any(|x| *x > d + j * 4 / 5));
        assert_eq!(jittered(d, None, &mut rng), d);
    }
}
