//! Process limits: thousands of held connections (black holes, tarpits) need as many
//! file descriptors, and the default soft limit is often 1024. Binaries raise the soft
//! limit to the hard limit at start-up; no privilege is needed for that. Commands that
//! only print restore the default SIGPIPE.

/// Raises RLIMIT_NOFILE's soft limit to its hard limit; returns the limit now in force
/// (`None` if it cannot be read). Never fails: a lower limit only means fewer connections.
#[allow(clippy::unnecessary_cast)] // rlim_t is not u64 everywhere
pub fn raise_open_files() -> Option<u64> {
    // SAFETY: getrlimit/setrlimit only read and write the struct passed by pointer.
    unsafe {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return None;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                return Some(raised.rlim_cur as u64);
            }
        }
        Some(limit.rlim_cur as u64)
    }
}

/// For a command that only prints (no sockets, no child processes): a reader that goes
/// away (`validate FILE | head -1`) ends the process quietly, as it ends `cat`, instead
/// of making `println!` panic on the broken pipe (Rust ignores SIGPIPE by default).
/// Never for a command that talks to the network: there a closed peer must be a
/// recorded outcome, not the end of the process.
pub fn end_quietly_on_closed_stdout() {
    // SAFETY: restores the default disposition of one signal; no handler is installed.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    #[allow(clippy::unnecessary_cast)]
    fn the_soft_limit_ends_at_the_hard_limit() {
        let now = super::raise_open_files().expect("readable");
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: as above.
        assert_eq!(
            unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) },
            0
        );
        assert_eq!(now, limit.rlim_cur as u64);
        assert_eq!(limit.rlim_cur, limit.rlim_max);
    }
}
