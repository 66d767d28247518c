//! The framing of mailquake's saved binary files (`ledger.bin`, `attempts.bin`): 8 magic
//! bytes, a `u32` format version, a `u32` header length, a UTF-8 JSON header, then
//! fixed-size records (all little-endian). Each file's own module owns its header and
//! record layout; this one writes and checks the frame around them.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::Path;

use serde::de::DeserializeOwned;
use serde::Serialize;

/// What frames one kind of file.
pub struct Framing {
    pub magic: &'static [u8; 8],
    pub version: u32,
    /// For errors: `not a mailquake ledger`, `ledger format 2`.
    pub what: &'static str,
    /// A longer header is corrupt.
    pub max_header: u32,
}

/// Bytes before the header: magic, version, header length.
const PREAMBLE: u64 = 16;

impl Framing {
    /// Writes the file (synced): the frame, `header`, then each record's bytes.
    pub fn write<R: AsRef<[u8]>>(
        &self,
        path: &Path,
        header: &impl Serialize,
        records: impl IntoIterator<Item = R>,
    ) -> io::Result<()> {
        let json = serde_json::to_vec(header).map_err(io::Error::other)?;
        let mut out = BufWriter::with_capacity(1 << 20, File::create(path)?);
        out.write_all(self.magic)?;
        out.write_all(&self.version.to_le_bytes())?;
        out.write_all(&(json.len() as u32).to_le_bytes())?;
        out.write_all(&json)?;
        for record in records {
            out.write_all(record.as_ref())?;
        }
        out.into_inner().map_err(|e| e.into_error())?.sync_all()
    }

    /// Opens the file and reads its frame and header: (header, the reader at the first
    /// record, the file's size, the bytes before the first record). `Err` is a one-line
    /// reason.
    pub fn read<H: DeserializeOwned>(
        &self,
        path: &Path,
    ) -> Result<(H, BufReader<File>, u64, u64), String> {
        let file = File::open(path).map_err(|e| format!("cannot read: {e}"))?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        let mut input = BufReader::with_capacity(1 << 20, file);
        let mut magic = [0u8; 8];
        input.read_exact(&mut magic).map_err(truncated)?;
        if &magic != self.magic {
            return Err(format!("not a mailquake {} (bad magic bytes)", self.what));
        }
        let mut word = [0u8; 4];
        input.read_exact(&mut word).map_err(truncated)?;
        let version = u32::from_le_bytes(word);
        if version != self.version {
            return Err(format!(
                "{} format {version}, this mailquake reads format {}",
                self.what, self.version
            ));
        }
        input.read_exact(&mut word).map_err(truncated)?;
        let header_len = u32::from_le_bytes(word);
        if header_len > self.max_header {
            return Err(format!("header of {header_len} bytes: corrupt"));
        }
        let mut json = vec![0u8; header_len as usize];
        input.read_exact(&mut json).map_err(truncated)?;
        let header = serde_json::from_slice(&json).map_err(|e| format!("bad header: {e}"))?;
        Ok((header, input, size, PREAMBLE + u64::from(header_len)))
    }
}

/// The one-line reason for a read that came up short.
pub fn truncated(e: io::Error) -> String {
    format!("truncated or unreadable: {e}")
}
