//! Live progress while a run goes: the phase (load / faults / settle), time elapsed of
//! the total, submitted / accepted / delivered per second, mail in flight, the faults in
//! force, and the queue depth when probed. On a terminal it is an indicatif bar redrawn
//! in place; otherwise (CI logs, pipes) one plain line every few seconds, so a log
//! stays readable and greppable.
//!
//! `run.rs` samples the collector and decides the phase; this module only shows it.
//! Lines that other stages print while the bar is drawn (the fault timeline, Ctrl-C) go
//! through [`log_line`], which puts them above the bar instead of through it.

use std::collections::VecDeque;
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::collector::Progress;

/// Plain lines are this far apart.
pub const PLAIN_EVERY: Duration = Duration::from_secs(5);
/// Rates are averaged over this much time (the bar is updated more often).
const RATE_WINDOW: Duration = Duration::from_secs(5);

/// The bar being drawn, if any: [`log_line`] prints above it.
static BAR: Mutex<Option<ProgressBar>> = Mutex::new(None);

/// What the run looks like now.
pub struct Snapshot<'a> {
    /// `load`, `faults` or `settle`.
    pub phase: &'a str,
    pub elapsed: Duration,
    /// When the run ends at the latest, as far as known now: the end of the load and the
    /// fault timeline; in `settle`, that plus the longest settle.
    pub total: Duration,
    pub totals: Progress,
    /// Faults in force, as `refuse@down`.
    pub faults: &'a [String],
    /// Messages queued on the target, when a probe reports it.
    pub queue_depth: Option<u64>,
}

enum Display {
    Bar(ProgressBar),
    /// `next_line`: when the next plain line is due (a fixed cadence, so jitter in the
    /// updates does not stretch it).
    Plain {
        next_line: Duration,
    },
}

/// The live display of one run.
pub struct LiveProgress {
    display: Display,
    /// Recent (elapsed, totals) samples for the rates.
    recent: VecDeque<(Duration, Progress)>,
}

impl LiveProgress {
    /// A bar when stderr is a terminal, plain lines otherwise.
    pub fn start(total: Duration) -> Self {
        if std::io::stderr().is_terminal() {
            Self::bar(total)
        } else {
            Self::plain()
        }
    }

    pub fn plain() -> Self {
        LiveProgress {
            display: Display::Plain {
                next_line: PLAIN_EVERY,
            },
            recent: VecDeque::from([(Duration::ZERO, Progress::default())]),
        }
    }

    fn bar(total: Duration) -> Self {
        let bar = ProgressBar::with_draw_target(
            Some(total.as_millis().max(1) as u64),
            ProgressDrawTarget::stderr(),
        );
        let style = ProgressStyle::with_template("{prefix:.bold} {bar:24.cyan/blue} {wide_msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("█▉▊▋▌▍▎▏ ");
        bar.set_style(style);
        // Drawn at once: say something until the first figures arrive.
        bar.set_prefix(format!("load     0.0s/{:.0}s", total.as_secs_f64()));
        bar.set_message("starting");
        if let Ok(mut slot) = BAR.lock() {
            *slot = Some(bar.clone());
        }
        LiveProgress {
            display: Display::Bar(bar),
            recent: VecDeque::from([(Duration::ZERO, Progress::default())]),
        }
    }

    /// Shows `now`: redraws the bar, or prints a plain line if one is due.
    pub fn update(&mut self, now: &Snapshot) {
        self.recent.push_back((now.elapsed, now.totals));
        while self.recent.len() > 2 && now.elapsed.saturating_sub(self.recent[1].0) >= RATE_WINDOW {
            self.recent.pop_front();
        }
        let figures = self.figures(now);
        match &mut self.display {
            Display::Bar(bar) => {
                bar.set_length(now.total.as_millis().max(1) as u64);
                bar.set_position(now.elapsed.min(now.total).as_millis() as u64);
                bar.set_prefix(format!(
                    "{:<6} {:>5.1}s/{:.0}s",
                    now.phase,
                    now.elapsed.as_secs_f64(),
                    now.total.as_secs_f64()
                ));
                bar.set_message(figures);
            }
            Display::Plain { next_line } => {
                // A little slack: an update a hair early still takes its turn.
                if now.elapsed + Duration::from_millis(200) < *next_line {
                    return;
                }
                while *next_line <= now.elapsed + Duration::from_millis(200) {
                    *next_line += PLAIN_EVERY;
                }
                let line = format!(
                    "[{} {:>5.1}s/{:.0}s] {}",
                    now.phase,
                    now.elapsed.as_secs_f64(),
                    now.total.as_secs_f64(),
                    figures
                );
                eprintln!("{line}");
            }
        }
    }

    /// `submitted 150/s · accepted 150/s · delivered 148/s · in flight 120 · faults: refuse@down`
    fn figures(&self, now: &Snapshot) -> String {
        let (then, old) = self.recent.front().copied().unwrap_or_default();
        let secs = now.elapsed.saturating_sub(then).as_secs_f64().max(1e-3);
        let rate = |a: u64, b: u64| a.saturating_sub(b) as f64 / secs;
        let mut text = format!(
            "submitted {:>4.0}/s · accepted {:>4.0}/s · delivered {:>4.0}/s · in flight {}",
            rate(now.totals.submitted, old.submitted),
            rate(now.totals.accepted, old.accepted),
            rate(now.totals.delivered, old.delivered),
            now.totals.outstanding,
        );
        if let Some(q) = now.queue_depth {
            text.push_str(&format!(" · queued {q}"));
        }
        text.push_str(" · faults: ");
        if now.faults.is_empty() {
            text.push_str("none");
        } else {
            text.push_str(&now.faults.join(", "));
        }
        text
    }
}

/// Clears the bar (before the final summary is printed); plain lines stay as they are.
pub fn finish() {
    if let Some(bar) = BAR.lock().ok().and_then(|mut slot| slot.take()) {
        bar.finish_and_clear();
    }
}

/// Prints a line on stderr, above the bar when one is drawn.
pub fn log_line(line: &str) {
    match BAR.lock().ok().and_then(|slot| slot.clone()) {
        Some(bar) => bar.println(line),
        None => eprintln!("{line}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_averaged_over_the_window() {
        let mut p = LiveProgress::plain();
        let at = |s: u64, n: u64| {
            (
                Duration::from_secs(s),
                Progress {
                    submitted: n,
                    accepted: n,
                    delivered: n / 2,
                    outstanding: 7,
                    ..Default::default()
                },
            )
        };
        for s in 1..=5 {
            let (elapsed, totals) = at(s, s * 100);
            p.update(&Snapshot {
                phase: "load",
                elapsed,
                total: Duration::from_secs(40),
                totals,
                faults: &[],
                queue_depth: None,
            });
        }
        let (elapsed, totals) = at(6, 600);
        let faults = ["refuse@down".to_string()];
        let now = Snapshot {
            phase: "faults",
            elapsed,
            total: Duration::from_secs(40),
            totals,
            faults: &faults,
            queue_depth: Some(12),
        };
        p.update(&now);
        assert_eq!(
            p.figures(&now),
            "submitted  100/s · accepted  100/s · delivered   50/s · in flight 7 · queued 12 · faults: refuse@down"
        );
    }
}
