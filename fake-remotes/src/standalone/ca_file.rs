//! The test CA's file for clients in other processes: written in a folder of the
//! process's own (`$TMPDIR/fake-remotes-PID/ca.pem`, mode 0700, made fresh: a folder of
//! that name already there is never written into), removed with it when the process
//! ends — on return, on a stop signal (the server returns) and on a panic (unwinding
//! drops it). Only a kill that gives no chance (SIGKILL) leaves it behind.

use std::path::{Path, PathBuf};

/// The folder holding `ca.pem`; removed when dropped.
#[derive(Debug)]
pub struct CaFile {
    dir: PathBuf,
}

impl CaFile {
    /// Writes the test CA in a new folder under `parent`; `Err` is one line.
    pub fn write_in(parent: &Path) -> Result<CaFile, String> {
        let dir = fresh_dir(parent)?;
        let file = CaFile { dir };
        crate::tls::write_ca_pem(&file.path())
            .map_err(|e| format!("cannot write the test CA to {}: {e}", file.path().display()))?;
        Ok(file)
    }

    /// Where the PEM is.
    pub fn path(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }
}

impl Drop for CaFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `parent/fake-remotes-PID` (or `-PID-N` when taken), created by this call, 0700.
fn fresh_dir(parent: &Path) -> Result<PathBuf, String> {
    let base = format!("fake-remotes-{}", std::process::id());
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    let mut last = String::new();
    for n in 0..100 {
        let dir = match n {
            0 => parent.join(&base),
            n => parent.join(format!("{base}-{n}")),
        };
        match builder.create(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = e.to_string(),
            Err(e) => return Err(format!("cannot create {}: {e}", dir.display())),
        }
    }
    Err(format!(
        "cannot create a folder for the test CA in {}: {last}",
        parent.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A folder removed when dropped.
    struct Tmp(PathBuf);

    impl Drop for Tmp {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn the_folder_is_fresh_and_goes_with_the_file() {
        let tmp = std::env::temp_dir().join(format!("ca-file-test-{}", std::process::id()));
        std::fs::create_dir_all(&tmp).unwrap();
        let tmp = Tmp(tmp);
        // A folder of that name already there is left alone.
        let taken = tmp
            .0
            .as_path()
            .join(format!("fake-remotes-{}", std::process::id()));
        std::fs::create_dir(&taken).unwrap();
        let ca = CaFile::write_in(tmp.0.as_path()).unwrap();
        assert_eq!(
            ca.path().parent().unwrap(),
            taken.with_file_name(format!("fake-remotes-{}-1", std::process::id()))
        );
        assert_eq!(
            std::fs::read_to_string(ca.path()).unwrap(),
            crate::tls::ca_pem()
        );
        let dir = ca.path().parent().unwrap().to_path_buf();
        drop(ca);
        assert!(!dir.exists());
        assert!(taken.is_dir(), "not ours: kept");
        let err = CaFile::write_in(&tmp.0.as_path().join("a-file-not-there/x")).unwrap_err();
        assert!(err.starts_with("cannot create "), "{err}");
    }
}
