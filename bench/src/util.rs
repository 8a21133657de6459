//! Shared pieces: the clock every timestamp uses, CPU pinning, histogram
//! bounds, percentile summaries, machine facts and the synthesis Fmax.

use std::path::{Path, PathBuf};

use hdrhistogram::Histogram;
use serde::Serialize;

/// `CLOCK_MONOTONIC` in ns (vDSO, no system call): exchange send stamps, host
/// stage marks and order arrival stamps all come from this one clock.
pub use eti_kernel_bypass::mono_ns;

/// Largest value tracked (60 s in ns); larger values saturate.
pub const MAX_NS: u64 = 60_000_000_000;

/// A histogram of nanoseconds, 3 significant digits, fixed bounds (recording
/// never allocates).
pub fn hist() -> Histogram<u64> {
    match Histogram::new_with_bounds(1, MAX_NS, 3) {
        Ok(h) => h,
        Err(e) => panic!("static histogram bounds rejected: {e}"),
    }
}

/// Pin the calling thread to `cpu`.
///
/// # Errors
/// The `sched_setaffinity` error (CPU offline or outside the cpuset).
pub fn pin_current(cpu: usize) -> std::io::Result<()> {
    // SAFETY: cpu_set_t is plain data; zeroed is the empty set. CPU_SET only
    // writes inside the set for cpu < CPU_SETSIZE, which we check first, and
    // sched_setaffinity(0, ..) reads the set for the calling thread only.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if cpu >= libc::CPU_SETSIZE as usize {
            return Err(std::io::Error::from_raw_os_error(libc::EINVAL));
        }
        libc::CPU_SET(cpu, &mut set);
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Run the calling thread under `SCHED_FIFO` at `priority`, so other load on
/// the machine does not time-slice a busy-polling thread (a dedicated core in
/// production). The kernel's RT throttling still leaves 5% to everyone else.
///
/// # Errors
/// `EPERM` without `CAP_SYS_NICE`.
pub fn set_fifo(priority: i32) -> std::io::Result<()> {
    let p = libc::sched_param {
        sched_priority: priority,
    };
    // SAFETY: p is a valid sched_param; pid 0 is the calling thread.
    if unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &p) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// CPUs the process may run on.
pub fn online_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Percentiles of one histogram in ns (what summary.json carries).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Pcts {
    pub count: u64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
    pub mean: f64,
}

impl Pcts {
    pub fn of(h: &Histogram<u64>) -> Pcts {
        if h.is_empty() {
            return Pcts::default();
        }
        Pcts {
            count: h.len(),
            p50: h.value_at_quantile(0.50),
            p90: h.value_at_quantile(0.90),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
            mean: h.mean(),
        }
    }

    /// p50 <= p90 <= p99 <= p99.9 <= max (what the smoke test checks).
    pub fn monotonic(&self) -> bool {
        self.p50 <= self.p90
            && self.p90 <= self.p99
            && self.p99 <= self.p999
            && self.p999 <= self.max
    }
}

/// Facts about the machine a report was measured on.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub cpus: usize,
    pub kernel: String,
    pub clocksource: String,
    pub cpu_model: String,
    pub loadavg: String,
}

impl Machine {
    pub fn probe() -> Machine {
        let read = |p: &str| {
            std::fs::read_to_string(p)
                .unwrap_or_default()
                .trim()
                .to_string()
        };
        let cpu_model = read("/proc/cpuinfo")
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split(':').nth(1))
            .unwrap_or("")
            .trim()
            .to_string();
        Machine {
            cpus: online_cpus(),
            kernel: read("/proc/sys/kernel/osrelease"),
            clocksource: read("/sys/devices/system/clocksource/clocksource0/current_clocksource"),
            cpu_model,
            loadavg: read("/proc/loadavg"),
        }
    }
}

/// The clock the gate's cycle counts are converted with.
#[derive(Debug, Clone, Serialize)]
pub struct Fmax {
    pub mhz: f64,
    /// `synth.json` path it was read from, or why it is an assumption.
    pub source: String,
}

/// Default when no synthesis report exists: a conservative iCE40 UP5K/HX8K
/// figure for a small registered datapath (stated as an assumption).
pub const ASSUMED_FMAX_MHZ: f64 = 50.0;

/// The Fmax a synthesis report gives the gate, and the key it came from:
/// eti-hdl's whole-design `fmax_mhz` when nextpnr placed the design, else
/// `block_fmax_min_mhz` (the slowest RTL block bounds the clock), else any
/// numeric field whose key mentions "fmax" (the layout is owned by eti-hdl).
fn report_fmax(v: &serde_json::Value) -> Option<(f64, String)> {
    for key in ["fmax_mhz", "block_fmax_min_mhz"] {
        if let Some(f) = v.get(key).and_then(serde_json::Value::as_f64) {
            return Some((f, key.to_string()));
        }
    }
    find_fmax(v).map(|f| (f, "first field named *fmax*".to_string()))
}

/// Find a numeric field whose key mentions "fmax" anywhere in a JSON value.
fn find_fmax(v: &serde_json::Value) -> Option<f64> {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                if k.to_ascii_lowercase().contains("fmax") {
                    if let Some(f) = x.as_f64() {
                        return Some(f);
                    }
                }
            }
            m.values().find_map(find_fmax)
        }
        serde_json::Value::Array(a) => a.iter().find_map(find_fmax),
        _ => None,
    }
}

/// Fmax from `explicit` (a synth.json), `ETI_SYNTH_JSON`, or the usual
/// output places of `eti-hdl synth --out DIR`; else [`ASSUMED_FMAX_MHZ`].
pub fn synthesis_fmax(explicit: Option<&Path>) -> Fmax {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(p) = explicit {
        candidates.push(p.to_path_buf());
    }
    if let Ok(p) = std::env::var("ETI_SYNTH_JSON") {
        candidates.push(PathBuf::from(p));
    }
    for d in [
        "target/synth",
        "target/hdl-synth",
        "target/eti-hdl-synth",
        "hdl/synth",
        "synth",
    ] {
        candidates.push(Path::new(d).join("synth.json"));
    }
    for c in &candidates {
        let Ok(text) = std::fs::read_to_string(c) else {
            continue;
        };
        if let Some((mhz, key)) = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .as_ref()
            .and_then(report_fmax)
            .filter(|f| f.0 > 0.0)
        {
            return Fmax {
                mhz,
                source: format!("{key} of {}", c.display()),
            };
        }
    }
    Fmax {
        mhz: ASSUMED_FMAX_MHZ,
        source: format!(
            "assumed {ASSUMED_FMAX_MHZ} MHz: no synth.json with an Fmax field found (run `eti-hdl synth --out target/synth` or pass --synth-json)"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fmax_is_found_at_any_depth() {
        let v: serde_json::Value =
            serde_json::from_str(r#"{"timing":{"clk":{"Fmax_MHz": 73.5}},"cells":10}"#).unwrap();
        assert_eq!(find_fmax(&v), Some(73.5));
        let v: serde_json::Value = serde_json::from_str(r#"{"cells":10}"#).unwrap();
        assert_eq!(find_fmax(&v), None);
        // eti-hdl's layout: no whole-design figure, slowest block given.
        let v: serde_json::Value = serde_json::from_str(
            r#"{"a_fmax": 99.0, "block_fmax_min_mhz": 23.5, "fmax_mhz": null}"#,
        )
        .unwrap();
        assert_eq!(report_fmax(&v), Some((23.5, "block_fmax_min_mhz".into())));
        let v: serde_json::Value =
            serde_json::from_str(r#"{"block_fmax_min_mhz": 23.5, "fmax_mhz": 40.0}"#).unwrap();
        assert_eq!(report_fmax(&v).map(|f| f.0), Some(40.0));
    }

    #[test]
    fn percentiles_are_monotonic_and_count_samples() {
        let mut h = hist();
        for v in 1..=10_000u64 {
            h.record(v).unwrap();
        }
        let p = Pcts::of(&h);
        assert_eq!(p.count, 10_000);
        assert!(p.monotonic());
        assert!((4_950..=5_050).contains(&p.p50), "{p:?}");
        assert_eq!(Pcts::of(&hist()), Pcts::default());
    }

    #[test]
    fn pinning_restricts_to_one_cpu() {
        // Runs in a scratch thread so the test harness thread keeps its mask.
        std::thread::spawn(|| {
            pin_current(0).unwrap();
            // SAFETY: sched_getcpu has no preconditions.
            let cpu = unsafe { libc::sched_getcpu() };
            assert_eq!(cpu, 0);
            assert!(pin_current(libc::CPU_SETSIZE as usize).is_err());
            match set_fifo(1) {
                // SAFETY: sched_getscheduler(0) only reads the calling thread's policy.
                Ok(()) => assert_eq!(unsafe { libc::sched_getscheduler(0) }, libc::SCHED_FIFO),
                Err(e) => {
                    assert_eq!(e.raw_os_error(), Some(libc::EPERM));
                    eprintln!("SCHED_FIFO not permitted here (not root): checked the refusal only");
                }
            }
        })
        .join()
        .unwrap();
    }
}
