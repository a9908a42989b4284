//! The doctor's report as an operator reads it: findings first, each with what was probed,
//! what was seen, why it matters and the fix; then what passed and what was not checked.

use std::fmt::Write;

use super::Report;

/// A wall-clock time in ms as `YYYY-MM-DD HH:MM:SS UTC`.
pub fn wall(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

pub fn text(report: &Report, verbose: bool) -> String {
    let mut out = String::new();
    if report.findings.is_empty() {
        let _ = writeln!(out, "No finding ({} checks passed).", report.passed.len());
    } else {
        let _ = writeln!(out, "{} finding(s):", report.findings.len());
    }
    for (i, f) in report.findings.iter().enumerate() {
        let _ = writeln!(out, "\n{}. [{}] {}", i + 1, f.check, f.host);
        let _ = writeln!(out, "   probed: {}", f.probed);
        let _ = writeln!(out, "   seen:   {}", f.seen);
        let _ = writeln!(out, "   why:    {}", f.why);
        let _ = writeln!(out, "   fix:    {}", f.fix);
    }
    if (verbose || !report.findings.is_empty()) && !report.passed.is_empty() {
        let _ = writeln!(out, "\npassed:");
        for p in &report.passed {
            let _ = writeln!(out, "  ok  {p}");
        }
    }
    if !report.skipped.is_empty() {
        let _ = writeln!(out, "\nnot checked:");
        for s in &report.skipped {
            let _ = writeln!(out, "  --  {s}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wall_clock_dates() {
        assert_eq!(wall(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(wall(1_796_132_096_000), "2026-12-01 13:34:56 UTC");
        assert_eq!(wall(951_782_400_000), "2000-02-29 00:00:00 UTC");
    }
}
