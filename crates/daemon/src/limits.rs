//! The process's open-file limit, raised at start.
//!
//! systemd (and many shells) start services with a soft `RLIMIT_NOFILE` of 1024 and a much
//! higher hard limit. A daemon serving many connections keeps the soft limit it was given
//! unless it raises it itself: at 1024 the collector stopped accepting at about a thousand
//! connections.

use nix::sys::resource::{Resource, getrlimit, setrlimit};

/// Raises the soft open-file limit to the hard limit and logs the figure. Returns the limit
/// in force afterwards, or `None` when it cannot be read.
pub fn raise_open_files_limit() -> Option<u64> {
    let (soft, hard) = match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok(limits) => limits,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the open-file limit");
            return None;
        }
    };
    if soft >= hard {
        tracing::info!(open_files_limit = soft, "open-file limit is the hard limit");
        return Some(soft);
    }
    match setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
        Ok(()) => {
            tracing::info!(
                open_files_limit = hard,
                was = soft,
                "raised the open-file limit to the hard limit"
            );
            Some(hard)
        }
        Err(e) => {
            tracing::warn!(
                open_files_limit = soft,
                hard_limit = hard,
                error = %e,
                "cannot raise the open-file limit to the hard limit"
            );
            Some(soft)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn soft_limit_ends_at_the_hard_limit() {
        let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
        let now = raise_open_files_limit().unwrap();
        assert_eq!(now, hard);
        assert_eq!(getrlimit(Resource::RLIMIT_NOFILE).unwrap(), (hard, hard));
    }
}
