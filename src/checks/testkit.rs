//! Test support: hand-built ledgers and plans, so each check's tests state exactly the
//! messages they judge (no YAML, no network).

use std::path::PathBuf;
use std::time::Duration;

use fake_remotes::Fault;

use crate::collector::ledger::{flag, Ledger, MessageRecord, NO_NODE};
use crate::scenario::{
    Check, During, EmbeddedSpec, FaultSubject, FaultWindow, Load, LoadModel, MessageSpec, Plan,
    RemoteSpec, SizeSpec, Step, Target, TlsSpec, BOUNCE_DOMAIN,
};

/// Builds a ledger message by message. `domain` and `node` set the defaults for the
/// messages that follow; `with` adjusts the last message added.
pub struct LedgerBuilder {
    ledger: Ledger,
    domain: u16,
    node: u8,
}

impl LedgerBuilder {
    pub fn new() -> Self {
        let mut ledger = Ledger {
            run_id: "run".to_string(),
            ..Default::default()
        };
        let domain = ledger.domain_index("ok.test");
        LedgerBuilder {
            ledger,
            domain,
            node: NO_NODE,
        }
    }

    /// Messages that follow go to `name`.
    pub fn domain(mut self, name: &str) -> Self {
        self.domain = self.ledger.domain_index(name);
        self
    }

    /// Messages that follow are accepted (and relayed) by node `name`.
    pub fn node(mut self, name: &str) -> Self {
        self.node = self.ledger.node_index(name);
        self
    }

    /// Messages that follow have no known node.
    pub fn no_node(mut self) -> Self {
        self.node = NO_NODE;
        self
    }

    /// A message submitted and accepted at `accepted` ms, delivered at `delivered` (if any).
    pub fn msg(mut self, accepted: u32, delivered: Option<u32>) -> Self {
        let mut r = MessageRecord {
            intended_ms: accepted,
            accepted_ms: accepted,
            domain: self.domain,
            accepted_node: self.node,
            flags: flag::SUBMITTED | flag::ACCEPTED,
            ..Default::default()
        };
        if let Some(d) = delivered {
            r.delivered_ms = d;
            r.delivered_mask = r.all_rcpts_mask();
            r.delivered_node = self.node;
        }
        self.ledger.records.push(r);
        self
    }

    /// `n` identical messages.
    pub fn msgs(mut self, n: usize, accepted: u32, delivered: Option<u32>) -> Self {
        for _ in 0..n {
            self = self.msg(accepted, delivered);
        }
        self
    }

    /// A message submitted at `intended` that the cluster did not accept (`flags` says how).
    pub fn not_accepted(mut self, intended: u32, how: u8) -> Self {
        self.ledger.records.push(MessageRecord {
            intended_ms: intended,
            domain: self.domain,
            flags: flag::SUBMITTED | how,
            ..Default::default()
        });
        self
    }

    /// Adjusts the last message.
    pub fn with(mut self, f: impl FnOnce(&mut MessageRecord)) -> Self {
        f(self
            .ledger
            .records
            .last_mut()
            .expect("with() after a message"));
        self
    }

    /// Adjusts the ledger itself (counters).
    pub fn ledger(mut self, f: impl FnOnce(&mut Ledger)) -> Self {
        f(&mut self.ledger);
        self
    }

    /// The ledger; `end_ms` is at least the latest time recorded.
    pub fn build(mut self) -> Ledger {
        let latest = self
            .ledger
            .records
            .iter()
            .flat_map(|r| [r.intended_ms, r.accepted_ms, r.delivered_ms, r.bounced_ms])
            .filter(|&t| t != u32::MAX)
            .max()
            .unwrap_or(0);
        self.ledger.end_ms = self.ledger.end_ms.max(latest + 1);
        self.ledger
    }
}

/// Marks a record bounced at `at`.
pub fn bounced(at: u32) -> impl FnOnce(&mut MessageRecord) {
    move |r| {
        r.flags |= flag::BOUNCED;
        r.bounced_ms = at;
    }
}

/// `isolation` of ok.test during the faults: p99 ≤ 5 s, 90% delivered.
pub fn isolation_of_ok_during_faults() -> Check {
    Check::Isolation {
        healthy: vec!["ok.test".into()],
        during: During::Faults,
        percentile: 99.0,
        limit: Duration::from_secs(5),
        min_delivered: 0.9,
        baseline: None,
    }
}

/// One check of each kind but `queue`, as the plan of [`plan`] allows them;
/// `latency_limit` is acceptance's optional limit.
pub fn one_of_each(latency_limit: Option<Duration>) -> Vec<Check> {
    vec![
        isolation_of_ok_during_faults(),
        Check::Drain {
            domain: "down.test".into(),
            within: Duration::from_secs(90),
        },
        Check::NoLoss,
        Check::NoDuplicates { max: 0 },
        Check::Nodes { min_ratio: 0.5 },
        Check::Acceptance {
            min_accepted: 0.99,
            percentile: 99.0,
            limit: latency_limit,
        },
    ]
}

/// A `refuse` fault on `remote` from `at_s` for `for_s` seconds (`None`: to the end).
pub fn fault(remote: &str, at_s: u64, for_s: Option<u64>) -> FaultWindow {
    FaultWindow {
        subject: FaultSubject::Remote {
            remote: remote.to_string(),
            fault: Fault::REFUSE,
        },
        at: Duration::from_secs(at_s),
        duration: for_s.map(Duration::from_secs),
    }
}

/// A plan with remotes `ok` (ok.test, fine.test), `down` (down.test) and the bounce
/// remote, and the given timeline and checks.
pub fn plan(faults: Vec<FaultWindow>, checks: Vec<Check>) -> Plan {
    let remote = |name: &str, domains: &[&str]| RemoteSpec {
        name: name.to_string(),
        domains: domains.iter().map(|d| d.to_string()).collect(),
        listen: "127.0.0.1:0".parse().unwrap(),
    };
    Plan {
        name: "test".to_string(),
        description: String::new(),
        seed: 7,
        source: PathBuf::from("test.yaml"),
        sets: Vec::new(),
        target: Target::Embedded(EmbeddedSpec::default()),
        remotes: vec![
            remote("ok", &["ok.test", "fine.test"]),
            remote("down", &["down.test"]),
            remote("bounces", &[BOUNCE_DOMAIN]),
        ],
        external_remotes: None,
        load: Load {
            model: LoadModel::Open,
            tls: TlsSpec::default(),
            auth: None,
            hlog_interval: Duration::from_secs(1),
            max_shortfall: 0.01,
            steps: vec![Step {
                rate: 100.0,
                to: None,
                duration: Duration::from_secs(120),
            }],
            mix: vec![("ok.test".to_string(), 0.9), ("down.test".to_string(), 0.1)],
            message: MessageSpec {
                size: SizeSpec::Fixed(4096),
                recipients: 1,
            },
            sessions: 16,
            messages_per_connection: 10,
        },
        faults,
        checks,
        abort_on_fail: Vec::new(),
        settle: Duration::from_secs(60),
        probes: vec![],
        preflight: Default::default(),
        safety: Default::default(),
        capacity: Default::default(),
    }
}
