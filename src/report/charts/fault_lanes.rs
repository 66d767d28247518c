//! Which fault windows the time charts shade, and where their labels go: one lane (a thin
//! band row along the top of the plot) per remote, so the labels of overlapping or
//! adjacent faults never overlap. [`fault_windows`] is the one place the windows come
//! from (the plan's faults, and the faults the remotes reported beyond the plan); a fault
//! without an end is shaded to the run's end.

use super::time_chart::Window;
use super::ChartData;
use crate::collector::fault_log::RecordedWindow;
use crate::report::series::fault_label;
use crate::scenario::{FaultSubject, FaultWindow};

/// Width of one character of a fault label (12 px bold; DejaVu Sans Bold runs ~0.7 em), generously: labels placed with
/// it never touch.
const CHAR_PX: f64 = 8.5;
/// Space between two labels of one lane, and between a band's start and its label.
const GAP_PX: f64 = 4.0;

/// The faults the time charts shade: remote faults (one lane per remote) and node faults
/// (node and `exec` windows, drawn along the top edge). Ends are resolved: a fault
/// without an end, or one past the run's end, ends at the run's end (`ledger.end_ms`).
/// Faults the remotes reported beyond the plan (set by hand) are remote faults too, in
/// their remote's lane, labelled with what set them (`refuse@down (api)`).
pub fn fault_windows(run: &ChartData) -> (Vec<Window>, Vec<Window>) {
    let end = run.ledger.end_ms;
    let (mut remote, node) = windows_of(&run.plan.faults, end);
    remote.extend(recorded_of(
        crate::checks::recorded::beyond_plan(run.plan, run.ledger),
        end,
    ));
    (remote, node)
}

/// Windows of faults the remotes reported (not the plan's), cut at `end`.
fn recorded_of(recorded: Vec<RecordedWindow>, end: u32) -> impl Iterator<Item = Window> {
    recorded
        .into_iter()
        .map(move |(remote, from, to, kinds, source)| Window {
            from_ms: from.min(end),
            to_ms: to.min(end),
            label: format!("{}@{remote} ({})", kinds.join("+"), source.as_str()),
            lane: remote,
        })
}

/// [`fault_windows`] of these faults in a run that ended at `end` (ms since load start).
fn windows_of(faults: &[FaultWindow], end: u32) -> (Vec<Window>, Vec<Window>) {
    let ms = |d: std::time::Duration| d.as_millis().min(u128::from(end)) as u32;
    let (mut remote, mut node) = (Vec::new(), Vec::new());
    for f in faults {
        let (lane, list) = match &f.subject {
            FaultSubject::Remote { remote: r, .. } => (r.clone(), &mut remote),
            FaultSubject::Node { node: n, .. } => (n.clone(), &mut node),
            FaultSubject::Exec { name, .. } => (name.clone(), &mut node),
        };
        list.push(Window {
            from_ms: ms(f.at),
            to_ms: f.end().map_or(end, ms),
            label: fault_label(f),
            lane,
        });
    }
    (remote, node)
}

/// One fault placed in its lane, in chart coordinates.
#[derive(Clone, Debug, PartialEq)]
pub struct Placed {
    /// The shaded stretch: `from_x..to_x`.
    pub from_x: f64,
    pub to_x: f64,
    /// Where its label starts, or `None` when there is no room for it left in its lane
    /// (its band still carries the label as a tooltip).
    pub label_x: Option<f64>,
    pub label: String,
}

impl Placed {
    /// The x range the label covers, if it is drawn.
    pub fn label_span(&self) -> Option<(f64, f64)> {
        self.label_x.map(|x| (x, x + label_width(&self.label)))
    }
}

/// One remote's row of faults.
#[derive(Clone, Debug, PartialEq)]
pub struct Lane {
    pub name: String,
    pub faults: Vec<Placed>,
}

fn label_width(label: &str) -> f64 {
    label.chars().count() as f64 * CHAR_PX
}

/// Lays `windows` out in lanes, one per lane name in order of first appearance, over a
/// plot spanning `left..right` for `0..end_ms`. Within a lane a label starts at its band
/// and moves right past the label before it; a label that would then cross `right` is
/// left out rather than drawn over another.
pub fn layout(windows: &[Window], end_ms: u32, left: f64, right: f64) -> Vec<Lane> {
    let end = f64::from(end_ms.max(1));
    let x = |ms: u32| left + (right - left) * (f64::from(ms) / end).clamp(0.0, 1.0);
    let mut lanes: Vec<Lane> = Vec::new();
    let mut sorted: Vec<&Window> = windows.iter().collect();
    sorted.sort_by_key(|w| (w.from_ms, w.to_ms));
    for w in sorted {
        let i = match lanes.iter().position(|l| l.name == w.lane) {
            Some(i) => i,
            None => {
                lanes.push(Lane {
                    name: w.lane.clone(),
                    faults: Vec::new(),
                });
                lanes.len() - 1
            }
        };
        let lane = &mut lanes[i];
        let (from_x, to_x) = (x(w.from_ms), x(w.to_ms.max(w.from_ms)));
        let after = lane
            .faults
            .iter()
            .filter_map(Placed::label_span)
            .map(|(_, e)| e + GAP_PX)
            .fold(from_x + GAP_PX, f64::max);
        let label_x = (after + label_width(&w.label) <= right).then_some(after);
        lane.faults.push(Placed {
            from_x,
            to_x,
            label_x,
            label: w.label.clone(),
        });
    }
    // Keep the order of first appearance in the plan, not of start time.
    let order: Vec<&str> = {
        let mut seen: Vec<&str> = Vec::new();
        for w in windows {
            if !seen.contains(&w.lane.as_str()) {
                seen.push(&w.lane);
            }
        }
        seen
    };
    lanes.sort_by_key(|l| order.iter().position(|n| *n == l.name));
    lanes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(lane: &str, from_ms: u32, to_ms: u32, label: &str) -> Window {
        Window {
            from_ms,
            to_ms,
            label: label.into(),
            lane: lane.into(),
        }
    }

    fn assert_no_overlap(lanes: &[Lane]) {
        for lane in lanes {
            let spans: Vec<(f64, f64)> =
                lane.faults.iter().filter_map(Placed::label_span).collect();
            for (i, a) in spans.iter().enumerate() {
                for b in &spans[i + 1..] {
                    assert!(
                        a.1 <= b.0 || b.1 <= a.0,
                        "{} overlaps: {a:?} {b:?}",
                        lane.name
                    );
                }
            }
        }
    }

    #[test]
    fn overlapping_faults_on_two_remotes_get_two_lanes() {
        let windows = [
            w("down", 1_000, 6_000, "refuse@down"),
            w("slow", 1_200, 4_000, "tarpit@slow"),
        ];
        let lanes = layout(&windows, 10_000, 0.0, 1000.0);
        assert_eq!(lanes.len(), 2);
        assert_eq!(lanes[0].name, "down");
        assert_eq!(lanes[1].name, "slow");
        assert_eq!(lanes[0].faults[0].label_x, Some(104.0));
        assert_eq!(lanes[1].faults[0].label_x, Some(124.0));
        assert_no_overlap(&lanes);
    }

    #[test]
    fn labels_within_a_lane_never_overlap() {
        let cases: &[(&str, &[Window])] = &[
            (
                "adjacent",
                &[
                    w("down", 1_000, 1_100, "refuse@down"),
                    w("down", 1_100, 1_200, "blackhole@down"),
                    w("down", 1_200, 1_300, "tarpit@down"),
                ],
            ),
            (
                "overlapping, listed out of order",
                &[
                    w("down", 3_000, 9_000, "tarpit@down"),
                    w("down", 2_900, 9_000, "refuse@down"),
                ],
            ),
            (
                "no room left at the right edge",
                &[
                    w("down", 9_800, 9_900, "refuse@down"),
                    w("down", 9_900, 10_000, "blackhole@down"),
                ],
            ),
        ];
        for (name, windows) in cases {
            let lanes = layout(windows, 10_000, 0.0, 1000.0);
            assert_eq!(lanes.len(), 1, "{name}");
            assert_eq!(lanes[0].faults.len(), windows.len(), "{name}");
            assert_no_overlap(&lanes);
            for p in &lanes[0].faults {
                if let Some((_, end)) = p.label_span() {
                    assert!(end <= 1000.0, "{name}: {p:?} crosses the right edge");
                }
            }
        }
        let edge = layout(
            &[
                w("down", 9_800, 9_900, "refuse@down"),
                w("down", 9_900, 10_000, "blackhole@down"),
            ],
            10_000,
            0.0,
            1000.0,
        );
        // Neither fits at the very end: both stay tooltips only.
        assert_eq!(edge[0].faults[1].label_x, None);
    }

    #[test]
    fn a_fault_without_an_end_ends_at_the_run_end() {
        use crate::checks::testkit::fault;
        let faults = [
            fault("down", 2, None),
            fault("slow", 1, Some(3)),
            fault("late", 5, Some(10)),
        ];
        let (remote, node) = windows_of(&faults, 7_500);
        assert!(node.is_empty());
        let got: Vec<(&str, u32, u32)> = remote
            .iter()
            .map(|w| (w.lane.as_str(), w.from_ms, w.to_ms))
            .collect();
        // Past the run's end too: cut at it.
        assert_eq!(
            got,
            [
                ("down", 2_000, 7_500),
                ("slow", 1_000, 4_000),
                ("late", 5_000, 7_500)
            ]
        );
        let lanes = layout(&remote, 7_500, 0.0, 750.0);
        assert_eq!(lanes[0].faults[0].to_x, 750.0);
    }

    #[test]
    fn faults_set_by_hand_share_their_remotes_lane_and_say_who() {
        use fake_remotes::event::FaultSource;
        let recorded = vec![
            (
                "down".to_string(),
                3_000,
                9_000,
                vec!["refuse".to_string()],
                FaultSource::Api,
            ),
            (
                "slow".to_string(),
                500,
                1_500,
                vec!["tarpit".to_string(), "greylist".to_string()],
                FaultSource::Timeline,
            ),
        ];
        let mut windows = vec![w("down", 1_000, 2_000, "blackhole@down")];
        windows.extend(recorded_of(recorded, 8_000));
        let got: Vec<(&str, u32, u32, &str)> = windows
            .iter()
            .map(|w| (w.lane.as_str(), w.from_ms, w.to_ms, w.label.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("down", 1_000, 2_000, "blackhole@down"),
                ("down", 3_000, 8_000, "refuse@down (api)"),
                ("slow", 500, 1_500, "tarpit+greylist@slow (timeline)"),
            ]
        );
        let lanes = layout(&windows, 8_000, 0.0, 800.0);
        assert_eq!(lanes.len(), 2);
        assert_eq!(lanes[0].faults.len(), 2);
        assert_no_overlap(&lanes);
    }
}
