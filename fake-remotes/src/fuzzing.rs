//! What `cargo fuzz` (`fake-remotes/fuzz/`) reaches inside the crate: the command parser
//! and the DATA receiver, which are private otherwise. Compiled only with the `fuzzing`
//! feature, so nothing here is part of the crate's API.

/// Parses one command line (through its `\n`); the result's debug form.
pub fn parse_command(line: &[u8]) -> String {
    format!("{:?}", crate::command::parse(line))
}

/// The longest command line (CRLF included) before it is answered `500 Line too long`.
pub const MAX_LINE: usize = crate::command::MAX_LINE;

/// Feeds `input` to a fresh DATA receiver in chunks of `chunk` bytes, keeping at most
/// `limit` bytes. Returns `(body kept, bytes used through the final dot, oversize)` once
/// the end of the body is seen, `None` if the input ends first.
pub fn receive(input: &[u8], chunk: usize, limit: usize) -> Option<(Vec<u8>, usize, bool)> {
    let mut rx = crate::data::DataReceiver::new(limit, 0);
    let mut offset = 0;
    for piece in input.chunks(chunk.max(1)) {
        if let Some(used) = rx.feed(piece) {
            assert!(used <= piece.len(), "used more than it was given");
            let oversize = rx.oversize();
            return Some((rx.into_body(), offset + used, oversize));
        }
        offset += piece.len();
    }
    None
}
