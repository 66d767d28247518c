//! Tracking ids and addresses (DESIGN §3): how a message's id, recipients, VERP sender
//! and the preflight's canaries are spelt, and how they parse back. A leaf: the
//! generator writes these, the collector and the preflight read them, and none of them
//! needs the others for it.

/// Local-part prefix of the routing preflight's canaries (`mq-canary.<run>.<n>@domain`):
/// never a tracking address, so the collector leaves them out of every figure.
pub const CANARY_PREFIX: &str = "mq-canary.";

/// The canary address of run `run`, number `n` (a mix domain's index, or `b` for the
/// bounce canary's VERP sender) at `domain`.
pub fn canary_address(run: &str, n: &str, domain: &str) -> String {
    format!("{CANARY_PREFIX}{run}.{n}@{domain}")
}

/// Whether `addr` is a preflight canary's address (of any run).
pub fn is_canary(addr: &str) -> bool {
    addr.get(..CANARY_PREFIX.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(CANARY_PREFIX))
}

/// Parses a tracking recipient `mq.<seq>.<n>@…` into (seq, n).
pub fn parse_rcpt(rcpt: &str) -> Option<(u64, u8)> {
    let local = rcpt.split('@').next()?;
    let mut parts = local.strip_prefix("mq.")?.split('.');
    let seq = parts.next()?.parse().ok()?;
    let n = parts.next()?.parse().ok()?;
    parts.next().is_none().then_some((seq, n))
}

/// Parses a VERP sender `mq.<seq>@…` into seq.
pub fn parse_verp(addr: &str) -> Option<u64> {
    let local = addr.split('@').next()?;
    local.strip_prefix("mq.")?.parse().ok()
}

/// Which messages a process sends and keeps: shard `index` of `count` owns the sequence
/// numbers `seq % count == index` (a run that is not sharded is shard 0 of 1 and owns
/// them all). Its k-th message is `k * count + index`, so ids are unique across shards
/// and their ledgers union without renumbering.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Part {
    pub index: u64,
    pub count: u64,
}

impl Default for Part {
    fn default() -> Self {
        Part::WHOLE
    }
}

impl Part {
    /// Not sharded: every message.
    pub const WHOLE: Part = Part { index: 0, count: 1 };

    /// Whether message `seq` is this part's.
    pub fn owns(self, seq: u64) -> bool {
        seq % self.count.max(1) == self.index
    }

    /// The sequence number of this part's `k`-th message.
    pub fn seq(self, k: u64) -> u64 {
        k * self.count.max(1) + self.index
    }

    pub fn is_whole(self) -> bool {
        self.count <= 1
    }
}

/// Parses a tracking id `<run>.<seq>` into (run, seq).
pub fn parse_tracking(id: &str) -> Option<(&str, u64)> {
    let (run, seq) = id.trim().rsplit_once('.')?;
    Some((run, seq.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tracking_addresses() {
        let table = [
            ("mq.7.0@ok.test", Some((7, 0))),
            ("mq.123.63@x", Some((123, 63))),
            ("mq.7@ok.test", None),
            ("someone@ok.test", None),
            ("mq.x.1@ok.test", None),
        ];
        for (rcpt, want) in table {
            assert_eq!(parse_rcpt(rcpt), want, "{rcpt}");
        }
        assert_eq!(parse_verp("mq.9@bounces.test"), Some(9));
        assert_eq!(parse_verp("MAILER-DAEMON@x"), None);
        assert_eq!(parse_tracking("ab12.77"), Some(("ab12", 77)));
        assert_eq!(parse_tracking("junk"), None);
        let canary = canary_address("ab12", "0", "ok.test");
        assert_eq!(canary, "mq-canary.ab12.0@ok.test");
        assert!(is_canary(&canary) && is_canary("MQ-Canary.x.b@bounces.test"));
        assert!(!is_canary("mq.7.0@ok.test") && parse_rcpt(&canary).is_none());
        assert_eq!(parse_verp(&canary), None);
    }

    #[test]
    fn parts_own_disjoint_sequence_numbers() {
        let parts: Vec<Part> = (0..3).map(|index| Part { index, count: 3 }).collect();
        for k in 0..10 {
            for (i, p) in parts.iter().enumerate() {
                let seq = p.seq(k);
                assert_eq!(parts.iter().filter(|q| q.owns(seq)).count(), 1);
                assert!(parts[i].owns(seq));
            }
        }
        assert!(Part::WHOLE.owns(17) && Part::WHOLE.seq(17) == 17);
    }
}
