//! What a run ends with: an [`Outcome`] (the summary it wrote, and the exit code that
//! follows from its verdict — or, for a shard, from whether its data is complete), or a
//! [`RunError`] when it gave no verdict.

use std::path::PathBuf;

use crate::report::Summary;

/// Why a run gave no verdict; each message is one line.
#[derive(Debug, PartialEq, Eq)]
pub enum RunError {
    /// The scenario does not fit the remotes it attached to (exit 2).
    Invalid(String),
    /// The harness could not do its job (exit 3).
    Failed(String),
    /// A shard reached T0 later than its tolerance and sent nothing (exit 4).
    Late(String),
}

impl From<String> for RunError {
    fn from(message: String) -> Self {
        RunError::Failed(message)
    }
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::Invalid(m) | RunError::Failed(m) | RunError::Late(m) => f.write_str(m),
        }
    }
}

/// What a finished run decided.
#[derive(Debug)]
pub struct Outcome {
    pub summary: Summary,
    pub out_dir: PathBuf,
    /// Some file of the output folder could not be written.
    pub unwritten: bool,
    /// A shard: whether its data is complete (it has no verdict of its own).
    pub shard_complete: Option<bool>,
}

impl Outcome {
    pub fn exit_code(&self) -> u8 {
        if let Some(complete) = self.shard_complete {
            return if complete && !self.unwritten { 0 } else { 3 };
        }
        if self.unwritten {
            3
        } else {
            self.summary.verdict.exit_code()
        }
    }
}
