//! The team's rule for tests that need an outside tool (Verilator, yosys,
//! nextpnr): run when the tool is there; otherwise skip with the reason printed,
//! except under CI (`CI` set), where a missing tool is a failure.

/// `Ok` if the test can run. Outside CI a missing tool prints `SKIP: …` and
/// returns `false`; under CI it panics with the reason.
///
/// # Panics
/// When `CI` is set and `available` is an error.
pub fn can_run<E: std::fmt::Display>(test: &str, available: Result<(), E>) -> bool {
    match available {
        Ok(()) => true,
        Err(why) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "{test}: cannot run under CI: {why}"
            );
            eprintln!("SKIP {test}: {why}");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_when_available_and_skips_or_fails_otherwise() {
        assert!(can_run::<String>("t", Ok(())));
        let missing: Result<(), &str> = Err("no tool");
        if std::env::var_os("CI").is_some() {
            let r = std::panic::catch_unwind(|| can_run("t", missing));
            assert!(r.is_err(), "under CI a missing tool must fail");
        } else {
            assert!(!can_run("t", missing));
        }
    }
}
