//! `abort_on_fail`: when a run stops early because a check can no longer pass. The
//! state comes from [`super::so_far`]; this decides, pure, when the run stops (after
//! the check's grace) and what every report says: `stopped early at 14.2s: isolation
//! failed`. A run stopped early is judged as far as it was measured (`cut.rs`) and is
//! never a pass: the planned load was not applied (`verdict.rs`).

use serde::{Deserialize, Serialize};

use super::so_far::SoFar;
use crate::scenario::AbortOnFail;

/// The run stopped because `check` could no longer pass.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoppedEarly {
    /// Seconds since load start.
    pub at_s: f64,
    /// The check's name (`isolation`, `drain`, …).
    pub check: String,
    /// Its place in the plan's checks.
    #[serde(default)]
    pub index: usize,
    /// Why it could no longer pass (observed vs limit).
    pub detail: String,
}

impl StoppedEarly {
    /// Where measurement is cut: the other checks are judged only up to the stop (mail
    /// still in flight then had no settle to arrive in), the one that stopped the run
    /// on what it failed with.
    pub fn cut(&self) -> super::Cut {
        super::Cut {
            at_ms: (self.at_s * 1000.0).round() as u32,
            why: format!("abort_on_fail: {} could no longer pass", self.check),
        }
    }
}

impl std::fmt::Display for StoppedEarly {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "stopped early at {:.1}s: {} failed",
            self.at_s, self.check
        )
    }
}

/// Follows the `abort_on_fail` checks from one so-far reading to the next.
#[derive(Debug)]
pub struct Watch {
    aborts: Vec<AbortOnFail>,
    /// Per entry of `aborts`: when its check was first seen unable to pass (ms).
    lost_since: Vec<Option<u32>>,
}

impl Watch {
    pub fn new(aborts: &[AbortOnFail]) -> Self {
        Watch {
            aborts: aborts.to_vec(),
            lost_since: vec![None; aborts.len()],
        }
    }

    /// Whether there is anything to watch.
    pub fn is_empty(&self) -> bool {
        self.aborts.is_empty()
    }

    /// Reads the checks' states at `now_ms` (one per plan check, in plan order): the
    /// run stops when an `abort_on_fail` check has been unable to pass for its grace.
    /// A "cannot pass" is final, so it is never taken back.
    pub fn step(&mut self, states: &[SoFar], now_ms: u32) -> Option<StoppedEarly> {
        for (a, since) in self.aborts.iter().zip(&mut self.lost_since) {
            let Some(state) = states.get(a.check) else {
                continue;
            };
            if since.is_none() && state.can_no_longer_pass() {
                *since = Some(now_ms);
            }
            let Some(from) = *since else { continue };
            let grace_ms = u32::try_from(a.grace.as_millis()).unwrap_or(u32::MAX);
            if now_ms.saturating_sub(from) >= grace_ms {
                return Some(StoppedEarly {
                    at_s: f64::from(now_ms / 100) / 10.0,
                    check: state.name.clone(),
                    index: a.check,
                    detail: format!(
                        "{}: observed {}, limit {}",
                        state.detail, state.observed, state.limit
                    ),
                });
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::checks::so_far::SoFarState;

    fn state(name: &str, state: SoFarState) -> SoFar {
        SoFar {
            name: name.into(),
            state,
            observed: "2.6s".into(),
            limit: "1s".into(),
            detail: "healthy mail late".into(),
        }
    }

    /// (grace s, states over time as (ms, state of check 1)) → stops at (ms) or never.
    #[test]
    fn stops_once_a_watched_check_cannot_pass_for_its_grace() {
        use SoFarState::*;
        type Readings = Vec<(u32, SoFarState)>;
        let table: [(u64, Readings, Option<u32>); 5] = [
            (
                0,
                vec![(1_000, Holding), (2_000, Failing), (3_000, CannotPass)],
                Some(3_000),
            ),
            (
                0,
                vec![(1_000, Holding), (2_000, Failing), (3_000, Failing)],
                None,
            ),
            (
                5,
                vec![
                    (3_000, CannotPass),
                    (7_000, CannotPass),
                    (8_000, CannotPass),
                ],
                Some(8_000),
            ),
            // Final once seen: a later reading does not restart the grace.
            (
                5,
                vec![(3_000, CannotPass), (6_000, Failing), (8_100, Pending)],
                Some(8_100),
            ),
            (0, vec![(1_000, Pending), (2_000, Holding)], None),
        ];
        for (grace, readings, want) in table {
            // Check 0 is not watched and cannot pass from the start: it never stops the run.
            let mut w = Watch::new(&[AbortOnFail {
                check: 1,
                grace: Duration::from_secs(grace),
            }]);
            let mut got = None;
            for (ms, s) in &readings {
                let states = [state("drain", CannotPass), state("isolation", *s)];
                if let Some(stop) = w.step(&states, *ms) {
                    got = Some((*ms, stop));
                    break;
                }
            }
            assert_eq!(got.as_ref().map(|(ms, _)| *ms), want, "{readings:?}");
            if let Some((ms, stop)) = got {
                assert_eq!((stop.check.as_str(), stop.index), ("isolation", 1));
                assert_eq!(stop.cut().at_ms, ms / 100 * 100);
                assert_eq!(
                    stop.to_string(),
                    format!(
                        "stopped early at {:.1}s: isolation failed",
                        f64::from(ms) / 1000.0
                    )
                );
                assert!(
                    stop.detail.contains("observed 2.6s, limit 1s"),
                    "{}",
                    stop.detail
                );
            }
        }
        assert!(Watch::new(&[]).is_empty());
    }
}
