//! Shared by the integration tests: prerequisites that skip visibly by hand and fail in CI.
#![allow(dead_code)]

use std::process::Command;

/// Whether the tests may run: root, and each named program on PATH. Without them, a test
/// prints SKIP and passes when run by hand, and fails when `CI=true`.
pub fn prerequisites(test: &str, programs: &[&str]) -> bool {
    let mut missing = Vec::new();
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        missing.push("root".to_string());
    }
    for p in programs {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {p}")])
            .output()
            .is_ok_and(|o| o.status.success());
        if !found {
            missing.push(p.to_string());
        }
    }
    if missing.is_empty() {
        return true;
    }
    let msg = format!("{test}: needs {}", missing.join(", "));
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{msg} (CI=true: a missing prerequisite is a failure)");
    }
    eprintln!("SKIP: {msg}");
    false
}

/// A namespace prefix unique to this test process and test, short enough for interface names.
pub fn prefix(tag: &str) -> String {
    format!("lt{}{tag}", std::process::id() % 100_000)
}
