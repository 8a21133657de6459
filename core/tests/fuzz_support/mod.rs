//! What the codec property tests share: the case counts of the CI and long
//! profiles and the proptest runner they run with.

use proptest::test_runner::{Config, TestRunner};

/// Cases per property in the default (CI) profile.
pub const CI_CASES: u32 = 2_000;

/// Cases per property in the long profile: `PROPTEST_CASES`, or 1,000,000.
pub fn long_cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000)
}

/// A runner of `cases` cases that writes no failure-persistence files.
pub fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    })
}
