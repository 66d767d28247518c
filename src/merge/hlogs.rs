//! The shards' per-phase `*.hlog` interval histograms, summed per absolute interval:
//! every shard's logs start at the run's T0, so interval i of one shard is interval i of
//! all. Histograms are added, never their percentiles averaged, so the merged
//! percentiles are those of one histogram of every sample (HdrHistogram's 3 significant
//! digits). The sums give the merged `*.hlog` files, `phases.csv` and the per-phase
//! latency of the load section (overall and per node).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
use hdrhistogram::serialization::Deserializer;

use crate::generator::histograms::IntervalHistograms;
use crate::generator::hlog::{HlogFiles, ENDPOINT_TAG};
use crate::measure::PhaseHistograms;
use crate::report::samples::PhaseLatency;
use crate::smtp::Phase;

/// Interval index → the summed histograms of every shard.
#[derive(Default)]
pub struct Merged {
    pub intervals: BTreeMap<u32, IntervalHistograms>,
    /// The endpoint names met in `endpoint:` tags; an endpoint's index is its place here.
    pub endpoints: Vec<String>,
}

impl Merged {
    /// Adds the `*.hlog` files of shard folder `dir`; `interval` is the logs' interval.
    /// `Err` names the file.
    pub fn add_dir(&mut self, dir: &Path, interval: Duration) -> Result<(), String> {
        let width = interval.as_secs_f64().max(1e-3);
        for phase in Phase::ALL {
            let path = HlogFiles::path(dir, phase);
            let bytes = match std::fs::read(&path) {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(format!("{}: cannot read: {e}", path.display())),
            };
            let mut de = Deserializer::new();
            for entry in IntervalLogIterator::new(&bytes) {
                let entry =
                    entry.map_err(|e| format!("{}: not an interval log: {e:?}", path.display()))?;
                let LogEntry::Interval(h) = entry else {
                    continue;
                };
                let i = (h.start_timestamp().as_secs_f64() / width).round() as u32;
                let encoded = base64::Engine::decode(
                    &base64::engine::general_purpose::STANDARD,
                    h.encoded_histogram(),
                )
                .map_err(|e| format!("{}: bad histogram: {e}", path.display()))?;
                let hist: hdrhistogram::Histogram<u64> = de
                    .deserialize(&mut encoded.as_slice())
                    .map_err(|e| format!("{}: bad histogram: {e:?}", path.display()))?;
                // Read back, a histogram no longer grows: sum into one that does.
                let mut grows = hdrhistogram::Histogram::<u64>::new(3)
                    .map_err(|e| format!("{}: {e:?}", path.display()))?;
                grows
                    .add(&hist)
                    .map_err(|e| format!("{}: bad histogram: {e:?}", path.display()))?;
                let mut one = PhaseHistograms::default();
                one.0[phase.index()] = Some(grows);
                let slot = self.intervals.entry(i).or_default();
                match h.tag() {
                    None => slot.all.add(&one),
                    Some(tag) => match tag.as_str().strip_prefix(ENDPOINT_TAG) {
                        Some(name) => {
                            let index = match self.endpoints.iter().position(|e| e == name) {
                                Some(i) => i,
                                None => {
                                    self.endpoints.push(name.to_string());
                                    self.endpoints.len() - 1
                                }
                            };
                            let index = u16::try_from(index).map_err(|_| {
                                format!("{}: more than 65,535 endpoints", path.display())
                            })?;
                            slot.by_endpoint.entry(index).or_default().add(&one)
                        }
                        None => slot
                            .by_node
                            .entry(Arc::from(tag.as_str()))
                            .or_default()
                            .add(&one),
                    },
                }
            }
        }
        Ok(())
    }

    /// Writes the merged `*.hlog` files into `dir` (start = T0).
    pub fn write(
        &self,
        dir: &Path,
        t0_us: u64,
        interval: Duration,
    ) -> Result<Vec<PathBuf>, String> {
        let start: SystemTime = UNIX_EPOCH + Duration::from_micros(t0_us);
        let mut files = HlogFiles::new(dir, start, interval).with_endpoints(self.endpoints.clone());
        for (i, h) in &self.intervals {
            files.write_interval(*i, h)?;
        }
        files.finish()
    }

    /// `phases.csv`'s rows: each phase per interval, every node together.
    pub fn phases(&self, interval: Duration) -> Vec<PhaseLatency> {
        let width = interval.as_millis().min(u128::from(u32::MAX)) as u32;
        let mut rows = Vec::new();
        for (i, h) in &self.intervals {
            for phase in Phase::ALL {
                if let Some(h) = h.all.get(phase) {
                    let from_ms = i.saturating_mul(width);
                    rows.push(PhaseLatency {
                        phase: phase.as_str().to_string(),
                        from_ms,
                        to_ms: from_ms.saturating_add(width),
                        count: h.len(),
                        p50_us: h.value_at_quantile(0.50),
                        p99_us: h.value_at_quantile(0.99),
                        max_us: h.max(),
                    });
                }
            }
        }
        rows
    }

    /// Every interval summed: overall and per node (tag).
    pub fn totals(&self) -> (PhaseHistograms, BTreeMap<String, PhaseHistograms>) {
        let mut all = PhaseHistograms::default();
        let mut nodes: BTreeMap<String, PhaseHistograms> = BTreeMap::new();
        for h in self.intervals.values() {
            all.add(&h.all);
            let by: &HashMap<Arc<str>, PhaseHistograms> = &h.by_node;
            for (node, p) in by {
                nodes.entry(node.to_string()).or_default().add(p);
            }
        }
        (all, nodes)
    }

    /// Every interval summed per endpoint (by name; shards written before endpoint
    /// tags existed have none).
    pub fn endpoint_totals(&self) -> BTreeMap<String, PhaseHistograms> {
        let mut by: BTreeMap<String, PhaseHistograms> = BTreeMap::new();
        for h in self.intervals.values() {
            for (index, p) in &h.by_endpoint {
                if let Some(name) = self.endpoints.get(*index as usize) {
                    by.entry(name.clone()).or_default().add(p);
                }
            }
        }
        by
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]
        /// Latencies spread over N shards' logs merge to the percentiles of one
        /// histogram of them all, per interval and overall.
        #[test]
        fn summed_logs_give_the_percentiles_of_all_samples(
            n in 1usize..5,
            samples in prop::collection::vec((0u32..4, 1u64..2_000_000, 0usize..5), 1..400),
        ) {
            let interval = Duration::from_secs(1);
            let t0_us = 1_700_000_000_000_000;
            let dirs: Vec<tempfile::TempDir> = (0..n).map(|_| tempfile::tempdir().unwrap()).collect();
            let named = || Merged { endpoints: vec!["127.0.0.1:2525".into()], ..Merged::default() };
            let mut shards: Vec<Merged> = (0..n).map(|_| named()).collect();
            let mut whole = named();
            for (i, us, shard) in &samples {
                for m in [&mut shards[shard % n], &mut whole] {
                    let slot = m.intervals.entry(*i).or_default();
                    slot.all.record(Phase::Dot.index(), *us);
                    slot.by_node.entry(Arc::from("n1")).or_default().record(Phase::Dot.index(), *us);
                    slot.by_endpoint.entry(0).or_default().record(Phase::Dot.index(), *us);
                }
            }
            let mut merged = Merged::default();
            for (m, dir) in shards.iter().zip(&dirs) {
                m.write(dir.path(), t0_us, interval).unwrap();
                merged.add_dir(dir.path(), interval).unwrap();
            }
            prop_assert_eq!(merged.phases(interval), whole.phases(interval));
            let (got, got_nodes) = merged.totals();
            let (want, want_nodes) = whole.totals();
            let (got, want) = (got.get(Phase::Dot).unwrap(), want.get(Phase::Dot).unwrap());
            for q in [0.5, 0.9, 0.99, 1.0] {
                prop_assert_eq!(got.value_at_quantile(q), want.value_at_quantile(q));
            }
            prop_assert_eq!(got.len(), want.len());
            prop_assert_eq!(
                got_nodes["n1"].get(Phase::Dot).unwrap().len(),
                want_nodes["n1"].get(Phase::Dot).unwrap().len()
            );
            let (got_ep, want_ep) = (merged.endpoint_totals(), whole.endpoint_totals());
            let (got_ep, want_ep) = (
                got_ep["127.0.0.1:2525"].get(Phase::Dot).unwrap(),
                want_ep["127.0.0.1:2525"].get(Phase::Dot).unwrap(),
            );
            prop_assert_eq!(got_ep.len(), want_ep.len());
            for q in [0.5, 0.99, 1.0] {
                prop_assert_eq!(got_ep.value_at_quantile(q), want_ep.value_at_quantile(q));
            }
        }
    }
}
