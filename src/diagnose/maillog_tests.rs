use super::*;

/// Lines as the targets/postfix nodes wrote them (the mis-tuned cluster under a black
/// hole: six processes held by down.test, healthy mail waiting in the queue manager).
const LOG: &str = "\
Dec 01 10:34:03 n1 postfix-n1/master[4651]: daemon started -- version 3.7.11, configuration /tmp/mqpft/n1/etc
Dec 01 10:34:11 n1 postfix-n1/smtp[5397]: 8EA4299E354: to=<mq.56.0@down.test>, relay=127.0.0.1[127.0.0.1]:3202, delay=0.02, delays=0.01/0/0/0, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 3D)
Dec 01 10:35:30 n1 postfix-n1/smtp[5637]: AD09A99E38A: to=<mq.365.0@down.test>, relay=127.0.0.1[127.0.0.1]:3202, delay=74, delays=0/0/74/0, dsn=4.4.2, status=deferred (lost connection with 127.0.0.1[127.0.0.1] while receiving the initial server greeting)
Dec 01 10:35:30 n1 postfix-n1/smtp[5503]: B8C3599E38E: to=<mq.309.0@down.test>, relay=127.0.0.1[127.0.0.1]:3202, delay=75, delays=0/0/75/0, dsn=4.4.2, status=deferred (lost connection with 127.0.0.1[127.0.0.1] while receiving the initial server greeting)
Dec 01 10:35:31 n1 postfix-n1/smtp[5503]: DD6EA99E6AB: to=<mq.1098.0@DOWN.test>, relay=none, delay=62, delays=0/62/0/0, dsn=4.4.1, status=deferred (connect to 127.0.0.1[127.0.0.1]:3202: Connection refused)
Dec 01 10:35:30 n1 postfix-n1/smtp[5637]: BCCB599E3A9: to=<mq.430.0@ok.test>, relay=none, delay=73, delays=0/73/0/0, dsn=4.4.1, status=deferred (connect to 127.0.0.1[127.0.0.1]:3201: Connection refused)
Dec 01 10:34:12 n1 postfix-n1/smtp[5400]: 9C37B99E34A: to=<mq.2.0@ok.test>, relay=127.0.0.1[127.0.0.1]:3201, delay=0, delays=0/0/0/0, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 6)
Dec 01 10:34:20 n1 postfix-n1/error[6001]: 1A2B3C: to=<mq.77.0@down.test>, relay=none, delay=3, delays=3/0/0/0, dsn=4.4.1, status=deferred (delivery temporarily suspended: connect to 127.0.0.1[127.0.0.1]:3202: Connection refused)
Dec 01 10:34:13 n1 postfix-n1/smtpd[4657]: connect from localhost[127.0.0.1]
Dec 01 10:34:13 n1 postfix-n1/qmgr[4660]: 9C37B99E34A: removed
2026-12-01T10:35:40.123456+00:00 n1 postfix-n1/smtp[5700]: 1A: to=<x@ok.test>, relay=127.0.0.1[127.0.0.1]:3201, delay=2, delays=0/0/1/1, dsn=2.0.0, status=sent (250 ok)
";

#[test]
fn delays_outcomes_and_reasons_per_destination() {
    let got = summarise(LOG);
    let names: Vec<&str> = got.iter().map(|d| d.domain.as_str()).collect();
    assert_eq!(names, ["down.test", "ok.test"]);
    let down = &got[0];
    assert_eq!(
        (down.sent, down.deferred, down.bounced, down.suspended),
        (1, 4, 0, 1)
    );
    assert_eq!(
        down.c,
        DelayStat {
            p50: 0.0,
            max: 75.0
        }
    );
    assert_eq!(down.b.max, 62.0);
    assert_eq!(
        down.reasons
            ["lost connection with 127.0.0.1[127.0.0.1] while receiving the initial server greeting"],
        2
    );
    // Two processes held at once (5637 and 5503, 74–75 s each); the suspension is not an attempt.
    assert_eq!(down.peak_busy, 2);
    let ok = &got[1];
    assert_eq!((ok.sent, ok.deferred), (2, 1));
    assert_eq!(ok.b.max, 73.0);
    assert_eq!(ok.peak_busy, 1, "the RFC 3339 line is read: 1 s of c+d");
}

#[test]
fn busy_processes_are_counted_once_and_back_to_back_is_not_overlap() {
    let line = |at: &str, pid: u32, c: u32| {
        format!("Dec 01 10:00:{at} h postfix/smtp[{pid}]: Q: to=<a@d.test>, relay=r, delay={c}, delays=0/0/{c}/0, dsn=4.4.2, status=deferred (timeout)\n")
    };
    let cases: [(&str, Vec<String>, u32); 4] = [
        ("none", vec![], 0),
        (
            "one process, two lines of one connection",
            vec![line("10", 1, 10), line("10", 1, 10)],
            1,
        ),
        (
            "two processes overlapping",
            vec![line("10", 1, 10), line("12", 2, 10)],
            2,
        ),
        (
            "back to back",
            vec![line("10", 1, 10), line("20", 2, 10)],
            1,
        ),
    ];
    for (name, lines, want) in cases {
        let got = summarise(&lines.concat());
        assert_eq!(got.first().map_or(0, |d| d.peak_busy), want, "{name}");
    }
}

#[test]
fn other_lines_are_ignored() {
    for line in [
        "",
        "garbage",
        "Dec 01 10:34:13 n1 postfix-n1/smtpd[4657]: connect from localhost[127.0.0.1]",
        "Dec 01 10:34:13 n1 postfix-n1/cleanup[1]: Q: message-id=<x status=sent>",
        "Dec 01 10:34:13 n1 postfix-n1/smtp[1]: Q: to=<a@b.test>, delays=1/2, status=sent",
    ] {
        assert!(summarise(line).is_empty(), "{line}");
    }
}
