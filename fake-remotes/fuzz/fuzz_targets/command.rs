//! The command parser on any bytes: one line (the input up to its first `\n`, or all of
//! it with a `\n` added) must parse without panicking, and a line over the limit is
//! always `TooLong`.
#![no_main]

use fake_remotes::fuzzing::{parse_command, MAX_LINE};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let mut line = match input.iter().position(|&b| b == b'\n') {
        Some(at) => input[..=at].to_vec(),
        None => input.to_vec(),
    };
    if line.last() != Some(&b'\n') {
        line.push(b'\n');
    }
    let parsed = parse_command(&line);
    if line.len() > MAX_LINE {
        assert_eq!(parsed, "TooLong", "{} bytes", line.len());
    }
});
