//! The DATA receiver on any bytes: it must not panic, must find the same end and the same
//! body however the input is cut into reads (the first byte picks the read size), must
//! never keep more than its limit, and must say "oversize" exactly when the body went
//! over it.
#![no_main]

use fake_remotes::fuzzing::receive;
use libfuzzer_sys::fuzz_target;

/// Small enough that fuzzed inputs go over it.
const LIMIT: usize = 64;

fuzz_target!(|input: &[u8]| {
    let Some((&first, body)) = input.split_first() else {
        return;
    };
    let chunk = usize::from(first % 17) + 1;
    let whole = receive(body, body.len().max(1), usize::MAX);
    let cut = receive(body, chunk, usize::MAX);
    assert_eq!(whole, cut, "reads of {chunk} bytes change the outcome");
    let limited = receive(body, chunk, LIMIT);
    match (&whole, &limited) {
        (None, None) => {}
        (Some((full, used, false)), Some((kept, used_limited, oversize))) => {
            assert_eq!(used, used_limited, "the limit moves the end");
            assert!(kept.len() <= LIMIT);
            assert_eq!(kept[..], full[..kept.len()], "kept a different prefix");
            assert_eq!(*oversize, full.len() > LIMIT);
        }
        other => panic!("the limit changes whether the end is found: {other:?}"),
    }
    if let Some((_, used, _)) = whole {
        assert!(body[..used].ends_with(b"\r\n.\r\n") || body[..used] == *b".\r\n");
    }
});
