//! How often each remote-fault window fired: a `FaultFired` event is counted in every
//! window of its remote that it falls in. A window that fired 0 times judged nothing
//! (nothing reached the fault), so the checks resting on it are inconclusive
//! (`checks/fired.rs`).

use super::ledger::{FiredWindow, NEVER};
use super::Collector;
use crate::scenario::{FaultSubject, Plan};

/// Events this long before a window's start still count in it (the remote's clock and
/// the timeline's switch are not in lock-step).
const BEFORE_MS: u32 = 500;
/// …and this long after its end (a session that fired just before the heal reports
/// a little later).
const AFTER_MS: u32 = 1_000;

/// The plan's remote-fault windows, in plan order, none fired yet.
pub fn fault_windows(plan: &Plan) -> Vec<FiredWindow> {
    let ms = |d: std::time::Duration| u32::try_from(d.as_millis()).unwrap_or(NEVER - 1);
    plan.faults
        .iter()
        .filter_map(|f| match &f.subject {
            FaultSubject::Remote { remote, fault } => Some(FiredWindow {
                remote: remote.clone(),
                fault: fault.kind().to_string(),
                start_ms: ms(f.at),
                end_ms: f.end().map_or(NEVER, ms),
                fired: 0,
            }),
            _ => None,
        })
        .collect()
}

impl Collector {
    pub(super) fn count_fired(&mut self, remote: &str, at_ms: u32) {
        for w in &mut self.ledger.fault_windows {
            if w.remote == remote
                && w.start_ms <= at_ms.saturating_add(BEFORE_MS)
                && at_ms < w.end_ms.saturating_add(AFTER_MS)
            {
                w.fired += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use fake_remotes::{RemoteEvent, RemoteEventKind, Stage};

    use super::super::{Event, Ledger};
    use super::*;

    #[test]
    fn fault_fired_events_count_in_their_windows() {
        let window = |remote: &str, start_ms, end_ms| FiredWindow {
            remote: remote.into(),
            fault: "refuse".into(),
            start_ms,
            end_ms,
            fired: 0,
        };
        let mut c = Collector::new(Ledger {
            t0_us: 0,
            fault_windows: vec![
                window("down", 5_000, 30_000),
                window("down", 40_000, NEVER),
                window("tls", 3_000, 18_000),
            ],
            ..Default::default()
        });
        for (remote, at_ms) in [
            ("down", 4_600),
            ("down", 20_000),
            ("down", 30_900),
            ("down", 35_000),
            ("down", 41_000),
        ] {
            c.apply(Event::Remote(RemoteEvent {
                at_us: at_ms * 1000,
                remote: remote.into(),
                kind: RemoteEventKind::FaultFired {
                    fault: "refuse".into(),
                    stage: Stage::Banner,
                    rcpts: vec![],
                },
            }));
        }
        let fired: Vec<u64> = c.ledger.fault_windows.iter().map(|w| w.fired).collect();
        assert_eq!(fired, [3, 1, 0], "35s falls in neither down window");
    }
}
