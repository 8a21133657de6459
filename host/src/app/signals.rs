//! Ctrl-C and SIGTERM for `eti run` and `eti demo`: the first signal asks the
//! session to stop cleanly (orders cancelled where the session does so, the
//! journal sealed, the summary printed; the process then exits 128 + signal,
//! 130 for Ctrl-C); a second one exits at once.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Arc;

/// Set when an interrupt arrived; shared with whatever loop must stop.
#[derive(Debug, Default)]
pub struct Interrupt {
    requested: AtomicBool,
    signal: AtomicI32,
}

impl Interrupt {
    /// A flag nobody sets (library callers and tests).
    pub fn never() -> Arc<Interrupt> {
        Arc::new(Interrupt::default())
    }

    /// Whether the session was asked to stop.
    pub fn requested(&self) -> bool {
        self.requested.load(Ordering::Relaxed)
    }

    /// Ask the session to stop as if `signal` arrived.
    pub fn raise(&self, signal: i32) {
        self.signal.store(signal, Ordering::Relaxed);
        self.requested.store(true, Ordering::Relaxed);
    }

    /// The conventional exit status after the signal (130 for SIGINT, 143
    /// for SIGTERM), or `None` when none arrived.
    pub fn exit_code(&self) -> Option<u8> {
        self.requested()
            .then(|| 128u8.saturating_add(self.signal.load(Ordering::Relaxed) as u8))
    }

    /// Watch SIGINT and SIGTERM on a side thread (its own small tokio
    /// runtime). The handlers are installed before this returns.
    pub fn watch(what: &'static str) -> std::io::Result<Arc<Interrupt>> {
        use tokio::signal::unix::{signal, SignalKind};
        let flag = Arc::new(Interrupt::default());
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (mut int, mut term) = rt.block_on(async {
            Ok::<_, std::io::Error>((
                signal(SignalKind::interrupt())?,
                signal(SignalKind::terminate())?,
            ))
        })?;
        let f = flag.clone();
        std::thread::Builder::new()
            .name("eti-signals".into())
            .spawn(move || {
                rt.block_on(async move {
                    loop {
                        let sig = tokio::select! {
                            _ = int.recv() => libc::SIGINT,
                            _ = term.recv() => libc::SIGTERM,
                        };
                        if f.requested() {
                            eprintln!("[eti] second signal: exiting at once");
                            std::process::exit(128 + sig);
                        }
                        eprintln!(
                            "[eti] {}: stopping {what} cleanly (again to exit at once)",
                            if sig == libc::SIGINT {
                                "Ctrl-C"
                            } else {
                                "SIGTERM"
                            }
                        );
                        f.raise(sig);
                    }
                });
            })?;
        Ok(flag)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_code_follows_the_signal() {
        let i = Interrupt::never();
        assert!(!i.requested());
        assert_eq!(i.exit_code(), None);
        i.raise(libc::SIGINT);
        assert!(i.requested());
        assert_eq!(i.exit_code(), Some(130));
        i.raise(libc::SIGTERM);
        assert_eq!(i.exit_code(), Some(143));
    }
}
