//! `capacity:` as validated: how `mailquake capacity` searches (first rate, ceiling,
//! step length, settle, how many steps, when to stop narrowing) and what a step must
//! show to count as sustained (acceptance, p99 submit latency, delivery keeping up).
//! The defaults are filled in here; `src/capacity/` runs the search.

use std::time::Duration;

/// The capacity search's settings (defaults when the scenario has no `capacity:`).
#[derive(Clone, Debug, PartialEq)]
pub struct CapacitySpec {
    /// The first step's rate, messages/s.
    pub start: f64,
    /// No step goes above it, messages/s.
    pub max_rate: f64,
    /// How long each step's load lasts.
    pub step: Duration,
    /// After each step's load, the longest wait for mail in flight (the next step starts
    /// on a drained cluster).
    pub settle: Duration,
    /// Most steps in one search (ramp and narrowing together).
    pub max_steps: u32,
    /// Narrowing stops once the failing rate is within this share above the sustained one.
    pub resolution: f64,
    /// A sustained step has at least this share of its planned messages accepted.
    pub acceptance: f64,
    /// … its p99 submit latency (intended send → accepted) at most this …
    pub submit_p99: Duration,
    /// … and, over the second half of its load, delivered at least this share of what
    /// was accepted (queues do not grow).
    pub keep_up: f64,
}

impl Default for CapacitySpec {
    fn default() -> Self {
        CapacitySpec {
            start: 10.0,
            max_rate: 1000.0,
            step: Duration::from_secs(10),
            settle: Duration::from_secs(10),
            max_steps: 12,
            resolution: 0.05,
            acceptance: 0.99,
            submit_p99: Duration::from_secs(1),
            keep_up: 0.95,
        }
    }
}

/// Shortest step: its second half must hold enough deliveries to compare.
pub const MIN_STEP: Duration = Duration::from_secs(2);
/// Longest step and longest settle.
pub const MAX_STEP: Duration = Duration::from_secs(3600);
/// Most messages one step may plan (a run's ledger is sized for 10 million).
pub const MAX_STEP_MESSAGES: f64 = 10_000_000.0;
/// Most steps one search may take.
pub const MAX_STEPS: u32 = 100;
/// Narrowest resolution (finer is noise) and widest.
pub const RESOLUTION: (f64, f64) = (0.01, 0.5);

impl CapacitySpec {
    /// The rules the settings obey however they were given (file or flags); `Err` is
    /// `(key, message)`. `caps`: `safety.max_rate` and `safety.max_messages` for a
    /// target that is not loopback.
    pub fn check(&self, caps: Option<(f64, u64)>) -> Result<(), (&'static str, String)> {
        let rate_cap = caps.map(|(rate, _)| rate);
        if self.start > self.max_rate {
            return Err((
                "start",
                format!(
                    "{}/s is above max_rate {}/s",
                    fmt_rate(self.start),
                    fmt_rate(self.max_rate)
                ),
            ));
        }
        if let Some(cap) = rate_cap.filter(|cap| self.max_rate > *cap) {
            return Err((
                "max_rate",
                format!(
                    "{}/s is above safety.max_rate {}/s for a target that is not loopback",
                    fmt_rate(self.max_rate),
                    fmt_rate(cap)
                ),
            ));
        }
        if self.step < MIN_STEP || self.step > MAX_STEP {
            return Err(("step", "must be between 2s and 1h".into()));
        }
        let per_step = self.max_rate * self.step.as_secs_f64();
        let message_cap = caps.map_or(MAX_STEP_MESSAGES, |(_, m)| {
            (m as f64).min(MAX_STEP_MESSAGES)
        });
        if per_step > message_cap {
            return Err((
                "step",
                format!(
                    "a step at max_rate {}/s plans {} messages, more than the {} allowed in one run",
                    fmt_rate(self.max_rate),
                    per_step.round(),
                    message_cap
                ),
            ));
        }
        if self.settle > MAX_STEP {
            return Err(("settle", "must be at most 1h".into()));
        }
        if !(2..=MAX_STEPS).contains(&self.max_steps) {
            return Err(("max_steps", format!("must be between 2 and {MAX_STEPS}")));
        }
        if !(RESOLUTION.0..=RESOLUTION.1).contains(&self.resolution) {
            return Err(("resolution", "must be between 1% and 50%".into()));
        }
        for (key, share) in [("acceptance", self.acceptance), ("keep_up", self.keep_up)] {
            if share <= 0.0 {
                return Err((key, "must be more than 0%".into()));
            }
        }
        if self.submit_p99.is_zero() {
            return Err(("submit_p99", "must be more than 0".into()));
        }
        Ok(())
    }
}

/// `safety.max_rate` and `safety.max_messages` when the target is not loopback (the
/// search is held to them), else `None`.
pub fn safety_caps(target: &super::Target, safety: &super::safety::Safety) -> Option<(f64, u64)> {
    super::safety::elsewhere(target).map(|_| (safety.max_rate, safety.max_messages))
}

/// A rate without trailing zeros: `12.5`, `100`.
pub fn fmt_rate(rate: f64) -> String {
    let text = format!("{rate:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}
