//! Thread placement for busy-polling threads: pin to a CPU and optionally run
//! under `SCHED_FIFO`, so a hot receive loop is not time-sliced away behind
//! unrelated work (a descheduled poller lets the RX ring overflow).

use crate::error::IoError;

/// Number of CPUs this process may run on.
pub fn online_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// Pins the calling thread to `cpu`.
///
/// # Errors
/// [`IoError::Sys`] if `sched_setaffinity` fails (e.g. CPU not allowed).
pub fn pin_current_thread(cpu: usize) -> Result<(), IoError> {
    if cpu >= libc::CPU_SETSIZE as usize {
        return Err(IoError::Config(format!("cpu {cpu} out of range")));
    }
    // SAFETY: cpu_set_t is a plain bit array for which all-zero is the empty
    // set; CPU_SET writes inside it (cpu < CPU_SETSIZE checked above), and
    // sched_setaffinity(0, ..) reads it for the calling thread only.
    let rc = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set)
    };
    if rc != 0 {
        return Err(IoError::last("sched_setaffinity"));
    }
    Ok(())
}

/// Runs the calling thread under `SCHED_FIFO` at `priority` (1..=99); the
/// kernel's RT throttling still leaves other tasks 5% of the CPU by default.
///
/// # Errors
/// [`IoError::Privilege`] without CAP_SYS_NICE, [`IoError::Sys`] otherwise.
pub fn set_fifo_priority(priority: i32) -> Result<(), IoError> {
    let p = libc::sched_param {
        sched_priority: priority,
    };
    // SAFETY: reads one sched_param; pid 0 means the calling thread.
    let rc = unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &p) };
    if rc != 0 {
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::EPERM) {
            return Err(IoError::Privilege(format!(
                "SCHED_FIFO needs CAP_SYS_NICE: {e}"
            )));
        }
        return Err(IoError::Sys {
            what: "sched_setscheduler",
            source: e,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinning_restricts_the_thread() {
        let cpus = online_cpus();
        let last = cpus - 1;
        std::thread::spawn(move || {
            // Only meaningful if CPU `last` is in our allowed set, which
            // available_parallelism implies on an unrestricted machine.
            if pin_current_thread(last).is_ok() {
                // SAFETY: sched_getcpu has no preconditions.
                let now = unsafe { libc::sched_getcpu() };
                assert_eq!(now as usize, last);
            }
            assert!(pin_current_thread(libc::CPU_SETSIZE as usize).is_err());
        })
        .join()
        .unwrap();
    }

    #[test]
    fn fifo_priority_is_applied_or_refused_cleanly() {
        std::thread::spawn(|| match set_fifo_priority(1) {
            Ok(()) => {
                // SAFETY: no preconditions; 0 = calling thread.
                assert_eq!(unsafe { libc::sched_getscheduler(0) }, libc::SCHED_FIFO);
            }
            Err(e) => crate::netns::skip_or_fail_in_ci(
                "fifo_priority_is_applied_or_refused_cleanly",
                &format!("SCHED_FIFO not allowed here: {e}"),
            ),
        })
        .join()
        .unwrap();
        assert!(set_fifo_priority(1000).is_err());
    }
}
