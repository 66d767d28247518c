//! The domain mix: which domain each message goes to, drawn from the scenario seed.

/// Weighted choice over domain indexes.
pub struct Mix {
    /// Cumulative shares, last = 1.0.
    cumulative: Vec<f64>,
    rng: fastrand::Rng,
}

impl Mix {
    /// `shares` in mix order (index = domain index); they sum to 1.
    pub fn new(shares: &[f64], seed: u64) -> Self {
        let mut acc = 0.0;
        let cumulative = shares
            .iter()
            .map(|s| {
                acc += s;
                acc
            })
            .collect();
        Mix {
            cumulative,
            rng: fastrand::Rng::with_seed(seed),
        }
    }

    /// The next message's domain index.
    pub fn pick(&mut self) -> u16 {
        let total = self.cumulative.last().copied().unwrap_or(1.0);
        let x = self.rng.f64() * total;
        let i = self.cumulative.partition_point(|c| *c <= x);
        i.min(self.cumulative.len().saturating_sub(1)) as u16
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_shares_and_replays_from_the_seed() {
        let mut mix = Mix::new(&[0.9, 0.1], 7);
        let picks: Vec<u16> = (0..10_000).map(|_| mix.pick()).collect();
        let ones = picks.iter().filter(|p| **p == 1).count();
        assert!((800..1200).contains(&ones), "{ones}");
        let mut again = Mix::new(&[0.9, 0.1], 7);
        assert!(picks.iter().all(|p| *p == again.pick()));
        let mut single = Mix::new(&[1.0], 1);
        assert!((0..100).all(|_| single.pick() == 0));
    }
}
