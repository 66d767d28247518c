//! A typed reader of a run's `summary.json`: the fields tests judge by (verdict, checks,
//! abort, preflight) typed, the whole document kept so a test can index any other field
//! (`s["totals"]["submitted"]`) and print it in a failure message.

use std::fmt;
use std::ops::Index;
use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

/// One `summary.json`.
#[derive(Debug)]
pub struct Summary {
    pub verdict: String,
    pub checks: Vec<Check>,
    pub abort: Option<Abort>,
    pub preflight: Option<Preflight>,
    raw: Value,
}

#[derive(Debug, Deserialize)]
struct Typed {
    verdict: String,
    checks: Vec<Value>,
    #[serde(default)]
    abort: Option<Abort>,
    #[serde(default)]
    preflight: Option<Preflight>,
}

/// One entry of `checks`; index it for the fields not typed here.
#[derive(Debug)]
pub struct Check {
    pub name: String,
    pub passed: bool,
    raw: Value,
}

#[derive(Debug, Deserialize)]
struct TypedCheck {
    name: String,
    passed: bool,
}

/// Why and when an aborted run stopped.
#[derive(Debug, Deserialize)]
pub struct Abort {
    pub reason: String,
    pub at_s: f64,
}

#[derive(Debug, Deserialize)]
pub struct Preflight {
    pub status: String,
}

impl Summary {
    /// Reads `DIR/summary.json`; fails the test if it is missing or not a summary.
    pub fn read(dir: &Path) -> Summary {
        let path = dir.join("summary.json");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (summary.json written?)", path.display()));
        let raw: Value = serde_json::from_str(&text).expect("summary.json is JSON");
        let typed: Typed = serde_json::from_value(raw.clone())
            .unwrap_or_else(|e| panic!("summary.json has the documented fields: {e}\n{raw}"));
        let checks = typed
            .checks
            .into_iter()
            .map(|raw| {
                let c: TypedCheck = serde_json::from_value(raw.clone())
                    .unwrap_or_else(|e| panic!("a check has a name and passed: {e}\n{raw}"));
                Check {
                    name: c.name,
                    passed: c.passed,
                    raw,
                }
            })
            .collect();
        Summary {
            verdict: typed.verdict,
            checks,
            abort: typed.abort,
            preflight: typed.preflight,
            raw,
        }
    }

    /// The check named `name`; fails the test if there is none.
    pub fn check(&self, name: &str) -> &Check {
        self.checks
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("no check {name} in {self}"))
    }

    /// The names of the checks that did not pass, in the file's order.
    pub fn failed_checks(&self) -> Vec<String> {
        self.checks
            .iter()
            .filter(|c| !c.passed)
            .map(|c| c.name.clone())
            .collect()
    }
}

impl Index<&str> for Summary {
    type Output = Value;
    fn index(&self, key: &str) -> &Value {
        &self.raw[key]
    }
}

impl Index<&str> for Check {
    type Output = Value;
    fn index(&self, key: &str) -> &Value {
        &self.raw[key]
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.raw.fmt(f)
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.raw.fmt(f)
    }
}
