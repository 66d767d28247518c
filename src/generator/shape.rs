//! The load shape: when each message is due. Steps of constant rate and linear ramps,
//! turned into the intended send offset of every message (open model: the schedule does
//! not wait for the cluster, so latency is measured from these offsets).

use std::time::Duration;

use crate::scenario::Step;

/// Iterates the intended send offsets (from load start) of every message of the shape.
pub struct Schedule<'a> {
    steps: &'a [Step],
    step: usize,
    /// Offset at which the current step starts.
    step_start: Duration,
    /// Index of the next message within the current step.
    i: u64,
}

impl<'a> Schedule<'a> {
    pub fn new(steps: &'a [Step]) -> Self {
        Schedule {
            steps,
            step: 0,
            step_start: Duration::ZERO,
            i: 0,
        }
    }

    /// Messages the whole shape calls for.
    pub fn total(steps: &[Step]) -> u64 {
        steps.iter().map(step_count).sum()
    }
}

fn step_count(step: &Step) -> u64 {
    let end_rate = step.to.unwrap_or(step.rate);
    ((step.rate + end_rate) / 2.0 * step.duration.as_secs_f64()).floor() as u64
}

/// Offset within a step of its `i`-th message.
fn offset_in_step(step: &Step, i: u64) -> f64 {
    let i = i as f64;
    let r0 = step.rate;
    let r1 = step.to.unwrap_or(r0);
    let d = step.duration.as_secs_f64();
    if (r1 - r0).abs() < 1e-9 || d == 0.0 {
        return i / r0;
    }
    // Messages sent by t: N(t) = r0·t + a·t², a = (r1 − r0)/(2d); solve N(t) = i.
    let a = (r1 - r0) / (2.0 * d);
    let disc = (r0 * r0 + 4.0 * a * i).max(0.0);
    (-r0 + disc.sqrt()) / (2.0 * a)
}

impl Iterator for Schedule<'_> {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        loop {
            let step = self.steps.get(self.step)?;
            if self.i < step_count(step) {
                let offset = offset_in_step(step, self.i).clamp(0.0, step.duration.as_secs_f64());
                self.i += 1;
                return Some(self.step_start + Duration::from_secs_f64(offset));
            }
            self.step_start += step.duration;
            self.step += 1;
            self.i = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(rate: f64, to: Option<f64>, secs: u64) -> Step {
        Step {
            rate,
            to,
            duration: Duration::from_secs(secs),
        }
    }

    #[test]
    fn counts_and_spacing() {
        let table = [
            (
                vec![step(10.0, None, 2)],
                20u64,
                Duration::from_millis(1900),
            ),
            (
                vec![step(10.0, None, 1), step(100.0, None, 1)],
                110,
                Duration::from_millis(1990),
            ),
            (vec![step(0.0, Some(100.0), 2)], 100, Duration::from_secs(2)),
            (
                vec![step(100.0, Some(300.0), 1)],
                200,
                Duration::from_secs(1),
            ),
        ];
        for (steps, count, last_at_most) in table {
            let offsets: Vec<Duration> = Schedule::new(&steps).collect();
            assert_eq!(offsets.len() as u64, count);
            assert_eq!(Schedule::total(&steps), count);
            assert!(offsets.windows(2).all(|w| w[0] <= w[1]), "monotonic");
            assert!(*offsets.last().unwrap() <= last_at_most);
        }
    }

    #[test]
    fn ramp_is_denser_at_the_end() {
        let steps = [step(10.0, Some(190.0), 1)];
        let offsets: Vec<Duration> = Schedule::new(&steps).collect();
        let first_half = offsets.iter().filter(|o| o.as_secs_f64() < 0.5).count();
        // N(0.5) = 10·0.5 + 90·0.25 = 27.5 of 100.
        assert!((26..=29).contains(&first_half), "{first_half}");
    }
}
