//! UTC timestamps for the audit export, without a date library: civil date
//! from days since the epoch (Howard Hinnant's `civil_from_days`).

/// `2026-11-26T03:40:43.123456Z` for nanoseconds since the Unix epoch
/// (truncated to microseconds, as regulators' tooling expects).
pub fn utc_micros(ns: u64) -> String {
    let secs = ns / 1_000_000_000;
    let micros = (ns % 1_000_000_000) / 1_000;
    let days = (secs / 86_400) as i64;
    let sod = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{micros:06}Z",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Nanoseconds since the Unix epoch now (vDSO clock read, no syscall).
pub fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        assert_eq!(utc_micros(0), "1970-01-01T00:00:00.000000Z");
        // 2000-02-29 (leap day) 12:34:56.789012345 UTC = 951827696 s.
        assert_eq!(
            utc_micros(951_827_696_789_012_345),
            "2000-02-29T12:34:56.789012Z"
        );
        // 2024-12-31T23:59:59.999999Z = 1735689599 s.
        assert_eq!(
            utc_micros(1_735_689_599_999_999_000),
            "2024-12-31T23:59:59.999999Z"
        );
    }
}
