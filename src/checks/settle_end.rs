//! How the run ended for mail still queued: when settle ran out (relative to the load's
//! end) and whether the cluster was still delivering then. Tells "raise `settle`, the
//! queue was draining" apart from "nothing moves" (a stuck queue), for `no_loss`.

use super::common::fmt_ms;
use crate::collector::Ledger;

/// The delivery rate is measured over the last this-many ms before the end.
const RATE_WINDOW_MS: u32 = 5_000;

/// The end of measurement as the reader of a `no_loss` finding needs it.
pub(super) struct SettleEnd {
    /// From the load's end to the end of measurement, ms.
    pub after_load_ms: u32,
    /// Messages delivered per second over the last [`RATE_WINDOW_MS`] (or the whole
    /// settle, if shorter).
    pub rate: f64,
}

impl SettleEnd {
    pub fn measure(ledger: &Ledger, load_end_ms: u32) -> SettleEnd {
        let end = ledger.end_ms;
        let after_load_ms = end.saturating_sub(load_end_ms);
        let window = RATE_WINDOW_MS.min(after_load_ms).max(1_000);
        let from = end.saturating_sub(window);
        let recent = ledger
            .records
            .iter()
            .filter(|r| r.delivered() && r.delivered_ms >= from && r.delivered_ms < end)
            .count();
        SettleEnd {
            after_load_ms,
            rate: recent as f64 * 1000.0 / f64::from(window),
        }
    }

    /// Mail was still arriving at the remotes when measurement stopped.
    pub fn still_delivering(&self) -> bool {
        self.rate > 0.0
    }

    /// `still queued when settle ended (5s after the load), still delivering at 12/s`.
    pub fn still_queued(&self) -> String {
        let rate = if self.rate >= 10.0 {
            format!("{:.0}", self.rate)
        } else {
            format!("{:.1}", self.rate)
        };
        format!(
            "still queued when settle ended ({} after the load), still delivering at {rate}/s",
            fmt_ms(self.after_load_ms)
        )
    }
}
