//! AUTH PLAIN and LOGIN, with and without configured credentials.

use super::*;

/// base64("\0alice\0secret") and friends.
const PLAIN_GOOD: &str = "AGFsaWNlAHNlY3JldA==";
const PLAIN_BAD: &str = "AGFsaWNlAHdyb25n"; // \0alice\0wrong
const ALICE: &str = "YWxpY2U=";
const SECRET: &str = "c2VjcmV0";
const WRONG: &str = "d3Jvbmc=";

#[tokio::test]
async fn auth_table() {
    let creds = Some(("alice", "secret"));
    // (what, credentials configured, input, reply codes)
    type Row<'a> = (&'a str, Option<(&'a str, &'a str)>, String, Vec<u16>);
    let table: Vec<Row> = vec![
        (
            "PLAIN with an initial response, then mail",
            creds,
            format!("EHLO c\r\nAUTH PLAIN {PLAIN_GOOD}\r\nMAIL FROM:<a@b.test>\r\nQUIT\r\n"),
            vec![220, 250, 235, 250, 221],
        ),
        (
            "PLAIN wrong password; mail needs auth",
            creds,
            format!("EHLO c\r\nAUTH PLAIN {PLAIN_BAD}\r\nMAIL FROM:<a@b.test>\r\nQUIT\r\n"),
            vec![220, 250, 535, 530, 221],
        ),
        (
            "PLAIN in two steps",
            creds,
            format!("EHLO c\r\nAUTH PLAIN\r\n{PLAIN_GOOD}\r\nQUIT\r\n"),
            vec![220, 250, 334, 235, 221],
        ),
        (
            "LOGIN in three steps",
            creds,
            format!("EHLO c\r\nAUTH LOGIN\r\n{ALICE}\r\n{SECRET}\r\nQUIT\r\n"),
            vec![220, 250, 334, 334, 235, 221],
        ),
        (
            "LOGIN with the user name up front, wrong password",
            creds,
            format!("EHLO c\r\nAUTH LOGIN {ALICE}\r\n{WRONG}\r\nQUIT\r\n"),
            vec![220, 250, 334, 535, 221],
        ),
        (
            "cancelled, undecodable, unknown mechanism",
            creds,
            "EHLO c\r\nAUTH LOGIN\r\n*\r\nAUTH PLAIN !!!\r\nAUTH CRAM-MD5\r\nQUIT\r\n".into(),
            vec![220, 250, 334, 501, 501, 504, 221],
        ),
        (
            "a response line is not a command",
            creds,
            "EHLO c\r\nAUTH PLAIN\r\nQUIT\r\nQUIT\r\n".into(),
            vec![220, 250, 334, 501, 221],
        ),
        (
            "before EHLO, and twice",
            None,
            format!(
                "AUTH PLAIN {PLAIN_GOOD}\r\nEHLO c\r\nAUTH PLAIN {PLAIN_GOOD}\r\n\
                 AUTH PLAIN {PLAIN_GOOD}\r\nQUIT\r\n"
            ),
            vec![220, 503, 250, 235, 503, 221],
        ),
        (
            "no credentials configured: anything goes, and AUTH is optional",
            None,
            format!(
                "EHLO c\r\nMAIL FROM:<a@b.test>\r\nAUTH PLAIN {PLAIN_BAD}\r\nRSET\r\n\
                 AUTH PLAIN {PLAIN_BAD}\r\nQUIT\r\n"
            ),
            vec![220, 250, 250, 503, 250, 235, 221],
        ),
    ];
    for (name, creds, input, want) in table {
        let mut h = start_in(&server(creds, false), vec![]);
        let output = h.talk(&input).await;
        assert_eq!(codes(&output), want, "{name}: {output}");
    }
}

#[tokio::test]
async fn ehlo_offers_auth_and_login_prompts_are_base64() {
    let mut h = start_in(&server(None, false), vec![]);
    let output = h.talk("EHLO c\r\nAUTH LOGIN\r\n*\r\nQUIT\r\n").await;
    assert!(output.contains("250-AUTH PLAIN LOGIN\r\n"), "{output}");
    assert!(!output.contains("STARTTLS"), "no TLS configured: {output}");
    assert!(
        output.contains("334 VXNlcm5hbWU6\r\n"),
        "Username: {output}"
    );
    assert!(output.contains("501 5.7.0 Authentication aborted\r\n"));
}
