//! The search over rates, pure: ramp (each step doubles the last sustained rate, up to
//! `max_rate`) until a rate is not sustained, then narrow (bisect between the highest
//! sustained and the lowest failed rate) until they are within `resolution` of each
//! other. It stops on its own: at the resolution, at `max_rate` sustained, when the
//! first rate already fails, or after `max_steps` steps.

use crate::scenario::CapacitySpec;

/// Where the search stands, fed one step's outcome at a time.
#[derive(Clone, Debug, PartialEq)]
pub struct Search {
    start: f64,
    max_rate: f64,
    max_steps: u32,
    resolution: f64,
    /// Highest rate sustained so far.
    pub sustained: Option<f64>,
    /// Lowest rate not sustained so far.
    pub failed: Option<f64>,
    steps: u32,
}

/// Why the search ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stop {
    /// The sustained and the failed rate are within the resolution.
    Resolution,
    /// `max_rate` was sustained: the capacity is at least that.
    MaxRate,
    /// The first (lowest) rate was not sustained.
    StartFailed,
    /// `max_steps` were taken before the resolution was reached.
    MaxSteps,
}

impl Search {
    pub fn new(spec: &CapacitySpec) -> Self {
        Search {
            start: spec.start,
            max_rate: spec.max_rate,
            max_steps: spec.max_steps,
            resolution: spec.resolution,
            sustained: None,
            failed: None,
            steps: 0,
        }
    }

    /// The next rate to try, or why the search is over.
    pub fn next(&self) -> Result<f64, Stop> {
        let next = match (self.sustained, self.failed) {
            (None, None) => return Ok(self.start),
            (None, Some(_)) => return Err(Stop::StartFailed),
            (Some(lo), None) if lo >= self.max_rate => return Err(Stop::MaxRate),
            (Some(lo), None) => (lo * 2.0).min(self.max_rate),
            (Some(lo), Some(hi)) if hi <= lo * (1.0 + self.resolution) => {
                return Err(Stop::Resolution)
            }
            (Some(lo), Some(hi)) => (lo + hi) / 2.0,
        };
        if self.steps >= self.max_steps {
            return Err(Stop::MaxSteps);
        }
        Ok(next)
    }

    /// Records that `rate` was (or was not) sustained.
    pub fn record(&mut self, rate: f64, sustained: bool) {
        self.steps += 1;
        if sustained {
            self.sustained = Some(self.sustained.map_or(rate, |s| s.max(rate)));
        } else {
            self.failed = Some(self.failed.map_or(rate, |f| f.min(rate)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(start: f64, max_rate: f64, max_steps: u32) -> CapacitySpec {
        CapacitySpec {
            start,
            max_rate,
            max_steps,
            ..Default::default()
        }
    }

    /// Runs a search against a cluster that sustains every rate up to `capacity`.
    fn run(spec: &CapacitySpec, capacity: f64) -> (Vec<f64>, Option<f64>, Stop) {
        let mut search = Search::new(spec);
        let mut rates = Vec::new();
        loop {
            match search.next() {
                Ok(rate) => {
                    rates.push(rate);
                    search.record(rate, rate <= capacity);
                }
                Err(stop) => return (rates, search.sustained, stop),
            }
        }
    }

    #[test]
    fn ramps_then_narrows_to_the_resolution() {
        // start, max_rate, max_steps, capacity → rates tried, why it stopped
        type Row<'a> = (f64, f64, u32, f64, &'a [f64], Stop);
        let table: &[Row] = &[
            // start, max_rate, max_steps, capacity → rates tried, why it stopped
            (
                10.0,
                1000.0,
                20,
                95.0,
                &[
                    10.0, 20.0, 40.0, 80.0, 160.0, 120.0, 100.0, 90.0, 95.0, 97.5,
                ],
                Stop::Resolution,
            ),
            (
                10.0,
                100.0,
                20,
                500.0,
                &[10.0, 20.0, 40.0, 80.0, 100.0],
                Stop::MaxRate,
            ),
            (10.0, 1000.0, 20, 5.0, &[10.0], Stop::StartFailed),
            (
                10.0,
                1000.0,
                6,
                95.0,
                &[10.0, 20.0, 40.0, 80.0, 160.0, 120.0],
                Stop::MaxSteps,
            ),
        ];
        for &(start, max_rate, max_steps, capacity, want, stop) in table {
            let (rates, sustained, why) = run(&spec(start, max_rate, max_steps), capacity);
            assert_eq!(rates, want, "capacity {capacity}");
            assert_eq!(why, stop, "capacity {capacity}");
            if stop == Stop::Resolution {
                let lo = sustained.expect("a sustained rate");
                assert!(lo <= capacity && capacity < lo * 1.05, "{lo} vs {capacity}");
            }
        }
    }

    #[test]
    fn every_search_ends_within_max_steps() {
        for capacity in [0.5, 3.0, 17.0, 333.0, 999.0, 5000.0] {
            let (rates, _, _) = run(&spec(10.0, 1000.0, 12), capacity);
            assert!(rates.len() <= 12, "{capacity}: {rates:?}");
        }
    }
}
