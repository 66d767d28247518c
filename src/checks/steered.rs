//! A run steered by hand (`mailquake run --live-control`): what the operator did, and the
//! timeline as it really ran. A fault healed by hand ended then, not when the plan said;
//! one injected by hand was a window of its own; after "heal all" the rest of the plan
//! never happened. The checks judge the timeline as run ([`as_run`]), so a drain is
//! timed from the real heal and an isolation window is the real one.

use std::time::Duration;

use fake_remotes::Fault;
use serde::{Deserialize, Serialize};

use crate::scenario::{FaultSubject, FaultWindow, Plan};

/// One action taken by hand during a run, ms since load start.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Steered {
    pub at_ms: u32,
    #[serde(flatten)]
    pub action: SteerAction,
}

/// What the operator did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum SteerAction {
    /// A fault put in force on `remote` until healed by hand, "heal all" or the end.
    Inject {
        remote: String,
        /// The fault in the scenario's form, as JSON.
        fault: serde_json::Value,
    },
    /// Every fault on `remote` healed now (a later planned window still begins).
    Heal { remote: String },
    /// Every fault, node fault and `exec` action healed now; the timeline stopped.
    HealAll,
    /// The load stopped now; the run went on to settle and judge.
    StopLoad,
}

impl Steered {
    /// `heal all at 12.3s`, for verdict lines.
    pub fn describe(&self) -> String {
        let at = self.at_ms as f64 / 1000.0;
        match &self.action {
            SteerAction::Inject { remote, fault } => {
                format!("inject {} on {remote} at {at:.1}s", fault_kind(fault))
            }
            SteerAction::Heal { remote } => format!("heal {remote} at {at:.1}s"),
            SteerAction::HealAll => format!("heal all at {at:.1}s"),
            SteerAction::StopLoad => format!("stop load at {at:.1}s"),
        }
    }
}

/// The fault's kind (`refuse`, `tarpit`) from its JSON form.
fn fault_kind(fault: &serde_json::Value) -> String {
    match fault {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Object(map) => map.keys().next().cloned().unwrap_or_default(),
        other => other.to_string(),
    }
}

/// `steered by hand: heal all at 12.3s, stop load at 20.0s`, or `None` when nobody
/// steered: every verdict line appends it.
pub fn verdict_note(steered: &[Steered]) -> Option<String> {
    (!steered.is_empty()).then(|| {
        format!(
            "steered by hand: {}",
            steered
                .iter()
                .map(Steered::describe)
                .collect::<Vec<_>>()
                .join(", ")
        )
    })
}

/// The load stopped by hand did not send what it planned: the messages never sent
/// count as shortfall, so the run cannot pass as if the planned load had been applied.
pub fn count_unsent(mut data: super::DataCompleteness) -> super::DataCompleteness {
    let stopped = data
        .steered
        .iter()
        .any(|s| s.action == SteerAction::StopLoad);
    if let (true, Some(planned)) = (stopped, data.planned) {
        data.shortfall = data.shortfall.max(planned.saturating_sub(data.submitted));
    }
    data
}

/// Reads a fault in the scenario's form from JSON (`"refuse"`, `{"tarpit":{…}}`).
pub fn parse_fault(value: &serde_json::Value) -> Result<Fault, String> {
    <Fault as Deserialize>::deserialize(value).map_err(|e| format!("fault: {e}"))
}

/// The plan with its timeline as it ran: planned windows cut where they were healed by
/// hand, those "heal all" prevented dropped, injected faults added (open until healed).
pub fn as_run(plan: &Plan, steered: &[Steered]) -> Plan {
    let mut run = plan.clone();
    for s in steered {
        let at = Duration::from_millis(u64::from(s.at_ms));
        match &s.action {
            SteerAction::Inject { remote, fault } => {
                if let Ok(fault) = parse_fault(fault) {
                    run.faults.push(FaultWindow {
                        subject: FaultSubject::Remote {
                            remote: remote.clone(),
                            fault,
                        },
                        at,
                        duration: None,
                    });
                }
            }
            SteerAction::Heal { remote } => {
                for w in &mut run.faults {
                    let on_it =
                        matches!(&w.subject, FaultSubject::Remote { remote: r, .. } if r == remote);
                    if on_it {
                        end_at(w, at);
                    }
                }
            }
            SteerAction::HealAll => {
                run.faults.retain(|w| w.at <= at);
                for w in &mut run.faults {
                    end_at(w, at);
                }
            }
            SteerAction::StopLoad => {}
        }
    }
    run.faults.retain(|w| w.duration != Some(Duration::ZERO));
    run
}

/// Ends `w` at `at` if it is in force then.
fn end_at(w: &mut FaultWindow, at: Duration) {
    if w.at <= at && w.end().is_none_or(|end| end > at) {
        w.duration = Some(at - w.at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::testkit::{fault, plan};

    fn steer(at_s: u32, action: SteerAction) -> Steered {
        Steered {
            at_ms: at_s * 1000,
            action,
        }
    }

    fn windows(p: &Plan) -> Vec<(String, u64, Option<u64>)> {
        p.faults
            .iter()
            .map(|w| {
                (
                    w.subject.target(),
                    w.at.as_secs(),
                    w.duration.map(|d| d.as_secs()),
                )
            })
            .collect()
    }

    /// (planned faults, actions) → the timeline as run: (target, at, for).
    #[test]
    fn the_timeline_as_run() {
        let heal_down = SteerAction::Heal {
            remote: "down".into(),
        };
        let inject_ok = SteerAction::Inject {
            remote: "ok".into(),
            fault: serde_json::json!("refuse"),
        };
        type Want = Vec<(&'static str, u64, Option<u64>)>;
        let table: Vec<(Vec<FaultWindow>, Vec<Steered>, Want)> = vec![
            // Nobody steered: the plan.
            (
                vec![fault("down", 10, Some(30))],
                vec![],
                vec![("down", 10, Some(30))],
            ),
            // Healed by hand at 15 s: ended then; a later window still comes.
            (
                vec![fault("down", 10, Some(30)), fault("down", 60, Some(10))],
                vec![steer(15, heal_down.clone())],
                vec![("down", 10, Some(5)), ("down", 60, Some(10))],
            ),
            // Healing a remote with nothing in force changes nothing.
            (
                vec![fault("down", 10, Some(30))],
                vec![steer(5, heal_down)],
                vec![("down", 10, Some(30))],
            ),
            // Heal all at 20 s: the one in force ends, the later one never happens.
            (
                vec![fault("down", 10, None), fault("ok", 50, Some(10))],
                vec![steer(20, SteerAction::HealAll)],
                vec![("down", 10, Some(10))],
            ),
            // Injected at 12 s, healed by "heal all" at 40 s.
            (
                vec![],
                vec![
                    steer(12, inject_ok.clone()),
                    steer(40, SteerAction::HealAll),
                ],
                vec![("ok", 12, Some(28))],
            ),
            // Injected and never healed: to the end of the run.
            (
                vec![],
                vec![steer(12, inject_ok), steer(13, SteerAction::StopLoad)],
                vec![("ok", 12, None)],
            ),
        ];
        for (faults, steered, want) in table {
            let got = windows(&as_run(&plan(faults.clone(), vec![]), &steered));
            let want: Vec<(String, u64, Option<u64>)> = want
                .into_iter()
                .map(|(t, a, d)| (format!("remote {t}"), a, d))
                .collect();
            assert_eq!(got, want, "{faults:?} steered {steered:?}");
        }
    }

    #[test]
    fn the_verdict_note_lists_every_action() {
        assert_eq!(verdict_note(&[]), None);
        let note = verdict_note(&[
            steer(
                3,
                SteerAction::Inject {
                    remote: "ok".into(),
                    fault: serde_json::json!({"tarpit": {"banner": "2s"}}),
                },
            ),
            steer(12, SteerAction::HealAll),
        ]);
        assert_eq!(
            note.as_deref(),
            Some("steered by hand: inject tarpit on ok at 3.0s, heal all at 12.0s")
        );
    }

    #[test]
    fn a_steered_action_round_trips_as_json() {
        let s = steer(
            7,
            SteerAction::Heal {
                remote: "down".into(),
            },
        );
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"at_ms": 7000, "action": "heal", "remote": "down"})
        );
        assert_eq!(serde_json::from_value::<Steered>(json).unwrap(), s);
    }
}
