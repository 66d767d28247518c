//! The `*.hlog` files: one per phase, in the HdrHistogram interval-log format (as
//! written by hdrhistogram's `IntervalLogWriter`, readable by its `IntervalLogIterator`
//! and by the Java `HistogramLogReader`/`HistogramLogProcessor`).
//!
//! Each interval is one untagged line (every node), one line per node tagged with the
//! node's banner host name, and one line per target endpoint tagged `endpoint:NAME`
//! (so `mailquake merge` can give per-endpoint latency exactly too). Values are microseconds. `StartTime` and `BaseTime` are
//! the load start, and interval timestamps are seconds since it, so logs from several
//! generator processes can be merged on the wall clock.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};
use hdrhistogram::serialization::V2DeflateSerializer;

use super::histograms::{IntervalHistograms, PhaseHistograms};
use crate::smtp::Phase;

/// The log files of a run, opened as phases first get data.
pub struct HlogFiles {
    dir: PathBuf,
    start: SystemTime,
    interval: Duration,
    files: Vec<Option<BufWriter<File>>>,
    serializer: V2DeflateSerializer,
    /// The target's endpoint names, by index (for the `endpoint:` tags).
    endpoints: Vec<String>,
}

/// The tag prefix of an endpoint's line (a banner host name has no `:`).
pub const ENDPOINT_TAG: &str = "endpoint:";

impl HlogFiles {
    /// Logs into `dir` (which must exist) for a load that started at `start`.
    pub fn new(dir: &Path, start: SystemTime, interval: Duration) -> Self {
        HlogFiles {
            dir: dir.to_owned(),
            start,
            interval,
            files: (0..Phase::ALL.len()).map(|_| None).collect(),
            serializer: V2DeflateSerializer::new(),
            endpoints: Vec::new(),
        }
    }

    /// Names the target's endpoints (by index) for their tagged lines.
    pub fn with_endpoints(mut self, endpoints: Vec<String>) -> Self {
        self.endpoints = endpoints;
        self
    }

    /// The file of `phase`, in `dir`.
    pub fn path(dir: &Path, phase: Phase) -> PathBuf {
        dir.join(format!("{}.hlog", phase.as_str()))
    }

    /// Writes interval `i` of every phase that has data in it.
    pub fn write_interval(&mut self, i: u32, hists: &IntervalHistograms) -> Result<(), String> {
        let start = self.interval * i;
        let mut nodes: Vec<(&str, &PhaseHistograms)> =
            hists.by_node.iter().map(|(n, h)| (&**n, h)).collect();
        nodes.sort_by_key(|(n, _)| *n);
        for phase in Phase::ALL {
            let Some(all) = hists.all.get(phase) else {
                continue;
            };
            self.open(phase)?;
            let interval = self.interval;
            let file = self.files[phase.index()].as_mut().expect("opened above");
            let mut lines = Vec::with_capacity(1 + nodes.len());
            lines.push((None, all));
            for (node, h) in &nodes {
                if let Some(h) = h.get(phase) {
                    lines.push((Some(tag_text(node)), h));
                }
            }
            for (index, h) in &hists.by_endpoint {
                if let (Some(h), Some(name)) = (h.get(phase), self.endpoints.get(*index as usize)) {
                    lines.push((Some(format!("{ENDPOINT_TAG}{}", tag_text(name))), h));
                }
            }
            let mut writer = IntervalLogWriterBuilder::new()
                .begin_log_with(file, &mut self.serializer)
                .map_err(|e| e.to_string())?;
            for (tag, h) in lines {
                let tag = tag.as_deref().and_then(Tag::new);
                writer
                    .write_histogram(h, start, interval, tag)
                    .map_err(|e| format!("{}: {e:?}", phase.as_str()))?;
            }
        }
        Ok(())
    }

    /// Creates the file of `phase` with its header, unless it exists.
    fn open(&mut self, phase: Phase) -> Result<(), String> {
        let slot = &mut self.files[phase.index()];
        if slot.is_none() {
            let path = HlogFiles::path(&self.dir, phase);
            let file =
                File::create(&path).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            let mut file = BufWriter::new(file);
            let mut serializer = V2DeflateSerializer::new();
            IntervalLogWriterBuilder::new()
                .add_comment(&format!(
                    "mailquake {} phase `{}`: latency in microseconds; untagged = all nodes, tag = node (banner host name) or endpoint:NAME",
                    env!("CARGO_PKG_VERSION"),
                    phase.as_str()
                ))
                .with_start_time(self.start)
                .with_base_time(self.start)
                .begin_log_with(&mut file, &mut serializer)
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            *slot = Some(file);
        }
        Ok(())
    }

    /// Flushes and closes every file; their paths.
    pub fn finish(self) -> Result<Vec<PathBuf>, String> {
        let mut paths = Vec::new();
        for (phase, file) in Phase::ALL.iter().zip(self.files) {
            if let Some(mut f) = file {
                let path = HlogFiles::path(&self.dir, *phase);
                f.flush()
                    .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
                paths.push(path);
            }
        }
        Ok(paths)
    }
}

/// A node name as a log tag (no `,`, space or line break).
fn tag_text(node: &str) -> String {
    let text: String = node
        .chars()
        .map(|c| {
            if c == ',' || c.is_whitespace() {
                '_'
            } else {
                c
            }
        })
        .collect();
    if text.is_empty() {
        "no-banner".to_owned()
    } else {
        text
    }
}
