//! Real IPVS for integration tests: run a test's body inside a qemu guest (Debian's kernel, TCG)
//! that has `ip_vs`, the schedulers, netns, veth, bridge, ipvsadm and iproute2.
//!
//! ```ignore
//! mod common;
//! use common::vm;
//!
//! #[test]
//! fn ipvs_roundtrip() {
//!     vm::in_guest("ipvs_roundtrip", || {
//!         // runs inside the guest, as root, in the same working directory
//!         vm::sh("ipvsadm -A -t 10.1.1.1:80 -s rr");
//!         assert!(vm::sh("ipvsadm -Ln").contains("10.1.1.1:80"));
//!     });
//! }
//! ```
//!
//! On the host, [`in_guest`] runs `tests/vm/prepare.sh` once per process, boots a guest with
//! `tests/vm/run.sh` running this same test executable as
//! `<exe> <name> --exact --include-ignored --nocapture --test-threads=1` with `LVSDECK_IN_VM=1`, streams the
//! guest's output as `vm| ` lines (captured by libtest like any `println!`), and panics unless the
//! guest exits 0 and the body reported completion. In the guest (`LVSDECK_IN_VM=1`) it just runs
//! the body. One boot costs about 5-9 s.
//!
//! When the guest cannot be had (not root, packages not installable, kernel not downloadable)
//! the test prints `SKIP: ...` on stderr and passes, except in CI (`support::is_ci`), where it fails.
//!
//! Several tests in one boot: write them with [`guest_only`], mark them
//! `#[ignore = "runs in the guest, booted by <host test>"]` (on the host they would do nothing;
//! the guest runs them with `--include-ignored`), and boot them together from one host test
//! with [`run_tests_in_guest`].
//!
//! Environment (host): `LVSDECK_VM_JOBS` guests at once per test process (default 2, capped by
//! the CPU count: on 2 cores three boots took 19 s in parallel against 31 s one at a time; set 1
//! when timing inside the guest matters),
//! `LVSDECK_VM_TIMEOUT` seconds per boot (default 300), and the other `LVSDECK_VM_*` knobs of
//! `tests/vm/run.sh`. Host variables named `LVSDECK_*`, `RUST_*`, `CARGO_*` and `CI` reach the
//! guest.

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Set to `1` in the guest's environment.
pub const IN_VM_ENV: &str = "LVSDECK_IN_VM";
/// Printed by the guest after a body returned: `LVSDECK_VM_TEST_OK <name> <seconds>s`.
pub const OK_MARKER: &str = "LVSDECK_VM_TEST_OK";

/// True inside the test guest.
pub fn in_vm() -> bool {
    std::env::var_os(IN_VM_ENV).is_some_and(|v| v == "1")
}

/// Runs `body` inside the guest. `name` is this test's libtest name (the `#[test]` fn's path
/// within the test file, e.g. `ipvs_roundtrip` or `sched::wrr`), which the guest runs with
/// `--exact`. On the host: boots a guest for this one test and asserts it passed there.
pub fn in_guest<F: FnOnce()>(name: &str, body: F) {
    if in_vm() {
        run_body(name, body);
    } else {
        check_name(name);
        run_tests_in_guest(&[name]);
    }
}

/// Like [`in_guest`] but on the host does nothing: for tests that a host test boots together
/// with [`run_tests_in_guest`] (one boot for many tests).
pub fn guest_only<F: FnOnce()>(name: &str, body: F) {
    if in_vm() {
        run_body(name, body);
    } else {
        check_name(name);
        println!("{name}: runs in the guest only, from a test that calls run_tests_in_guest");
    }
}

/// Boots one guest running the named tests of this executable (each written with [`in_guest`]
/// or [`guest_only`]) and asserts each passed. Skips (or fails under CI) when no guest can be
/// had.
pub fn run_tests_in_guest(names: &[&str]) {
    run_tests_in_guest_within(names, None)
}

/// As [`run_tests_in_guest`], with the boot's time limit in seconds (`LVSDECK_VM_TIMEOUT`,
/// 300 by default) raised for a long test; a limit set in the environment wins.
pub fn run_tests_in_guest_within(names: &[&str], timeout_s: Option<u64>) {
    assert!(!names.is_empty(), "run_tests_in_guest needs test names");
    let exe = std::env::current_exe().expect("current_exe");
    let mut command: Vec<OsString> = vec![exe.into()];
    command.extend(names.iter().map(OsString::from));
    command.extend(
        [
            "--exact",
            "--include-ignored",
            "--nocapture",
            "--test-threads=1",
        ]
        .map(OsString::from),
    );
    let run = match boot_within(&command, timeout_s) {
        Ok(run) => run,
        Err(Unavailable(reason)) => return skip(&names.join(", "), &reason),
    };
    let label = names.join(", ");
    let missing: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| run.test_seconds(n).is_none())
        .collect();
    match run.exit_code {
        Some(0) if missing.is_empty() => {}
        Some(0) => panic!(
            "guest: {} did not run (does the name given to in_guest match the #[test] fn's path?)",
            missing.join(", ")
        ),
        Some(101) => panic!("guest: {label} failed inside the guest (see the vm| output above)"),
        Some(124) => panic!("guest: {label} timed out (LVSDECK_VM_TIMEOUT)"),
        Some(125) => panic!("guest: qemu failed or the guest crashed running {label}"),
        Some(126) => panic!("guest: the guest could not set up to run {label}"),
        Some(code) => panic!("guest: {label} exited with {code}"),
        None => panic!("guest: run.sh for {label} was killed by a signal"),
    }
}

/// Why no guest could be had (a missing prerequisite, not a test failure).
#[derive(Debug, Clone)]
pub struct Unavailable(pub String);

/// One finished boot.
#[derive(Debug, Clone)]
pub struct GuestRun {
    /// The guest command's exit code as run.sh reported it (see run.sh for 124-126).
    pub exit_code: Option<i32>,
    /// Guest console output and run.sh's messages, `\r` removed.
    pub output: String,
    /// Host wall time of run.sh: boot, command, power-off.
    pub elapsed: Duration,
}

impl GuestRun {
    /// Seconds the body of test `name` took in the guest, if it completed.
    pub fn test_seconds(&self, name: &str) -> Option<f64> {
        self.output.lines().find_map(|line| {
            // libtest may have written `test NAME ... ` on the same line before it.
            let mut words = line[line.find(OK_MARKER)?..].split_whitespace();
            (words.next() == Some(OK_MARKER) && words.next() == Some(name))
                .then(|| words.next()?.trim_end_matches('s').parse().ok())
                .flatten()
        })
    }
}

/// Boots a guest running `command` (a program and its arguments; the program must be on a
/// path the guest shares, like this test executable) in the current directory with
/// `LVSDECK_IN_VM=1`, and returns what happened. Runs prepare.sh first (once per process).
pub fn boot(command: &[OsString]) -> Result<GuestRun, Unavailable> {
    boot_within(command, None)
}

/// As [`boot`], with a time limit in seconds unless `LVSDECK_VM_TIMEOUT` sets one.
pub fn boot_within(command: &[OsString], timeout_s: Option<u64>) -> Result<GuestRun, Unavailable> {
    prepare()?;
    let _slot = Slot::acquire();
    let mut cmd = Command::new("bash");
    if let Some(s) = timeout_s
        && std::env::var_os("LVSDECK_VM_TIMEOUT").is_none()
    {
        cmd.env("LVSDECK_VM_TIMEOUT", s.to_string());
    }
    cmd.arg(run_sh());
    if let Some(dir) = command
        .first()
        .and_then(|p| Path::new(p).parent())
        .filter(|d| d.is_absolute())
    {
        cmd.arg("--share").arg(dir);
    }
    cmd.args(["--env", &format!("{IN_VM_ENV}=1")]);
    if std::env::var_os("RUST_BACKTRACE").is_none() {
        cmd.args(["--env", "RUST_BACKTRACE=1"]);
    }
    cmd.arg("--").args(command);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = cmd
        .spawn()
        .map_err(|e| Unavailable(format!("cannot start bash for {}: {e}", run_sh().display())))?;
    let mut stderr = child.stderr.take().expect("piped stderr");
    let errors = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let mut output = String::new();
    for line in BufReader::new(child.stdout.take().expect("piped stdout")).lines() {
        let Ok(line) = line else { break };
        println!("vm| {line}");
        output.push_str(&line);
        output.push('\n');
    }
    let status = child.wait().expect("wait for run.sh");
    let errors = errors.join().unwrap_or_default();
    for line in errors.lines() {
        println!("vm| {line}");
    }
    output.push_str(&errors);
    let run = GuestRun {
        exit_code: status.code(),
        output,
        elapsed: start.elapsed(),
    };
    println!(
        "vm: `{}` finished in {:.1}s (exit {:?})",
        command
            .iter()
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" "),
        run.elapsed.as_secs_f64(),
        run.exit_code
    );
    Ok(run)
}

/// Runs tests/vm/prepare.sh once per process: packages, kernel, initramfs.
pub fn prepare() -> Result<(), Unavailable> {
    static PREPARED: OnceLock<Result<(), Unavailable>> = OnceLock::new();
    PREPARED
        .get_or_init(|| {
            if !is_root() {
                return Err(Unavailable(
                    "not root (the guest's 9p share and package installs need root)".into(),
                ));
            }
            let script = repo_dir().join("tests/vm/prepare.sh");
            let out = Command::new("bash")
                .arg(&script)
                .stdin(Stdio::null())
                .output()
                .map_err(|e| Unavailable(format!("cannot run {}: {e}", script.display())))?;
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            for line in text.lines() {
                println!("vm| {line}");
            }
            match out.status.code() {
                Some(0) => Ok(()),
                Some(2) => Err(Unavailable(
                    text.lines().last().unwrap_or("prepare.sh: exit 2").into(),
                )),
                _ => panic!("tests/vm/prepare.sh failed ({}):\n{text}", out.status),
            }
        })
        .clone()
}

/// Runs `script` with bash; panics (showing its output) unless it exits 0; returns stdout.
pub fn sh(script: &str) -> String {
    let out = try_sh(script);
    assert!(
        out.status.success(),
        "`{script}` failed ({}):\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `script` with bash and returns its output whatever the exit status.
pub fn try_sh(script: &str) -> Output {
    Command::new("bash")
        .args(["-c", script])
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run bash: {e}"))
}

/// Polls `check` every 100 ms until it returns true and returns how long that took; panics
/// after `timeout`. (IPVS counters, for one, move on a ~2 s kernel timer.)
pub fn wait_for(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !check() {
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    start.elapsed()
}

/// The repository root (where Cargo.toml is).
pub fn repo_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn run_sh() -> PathBuf {
    repo_dir().join("tests/vm/run.sh")
}

fn run_body<F: FnOnce()>(name: &str, body: F) {
    let start = Instant::now();
    body();
    println!("\n{OK_MARKER} {name} {:.2}s", start.elapsed().as_secs_f64());
}

/// Catches a wrong `name` on the host, where libtest names each test's thread after it.
fn check_name(name: &str) {
    if let Some(thread) = std::thread::current().name()
        && thread != "main"
        && thread != name
    {
        panic!("in_guest(\"{name}\", ..) is called from test `{thread}`: pass \"{thread}\"");
    }
}

fn skip(what: &str, reason: &str) {
    super::support::skip(&format!("VM test {what}: {reason}"));
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|uids| uids.split_whitespace().nth(1).map(|euid| euid == "0"))
            .unwrap_or(false)
    })
}

/// Limits the guests booted at once by one test process (`LVSDECK_VM_JOBS`, default 2 or the
/// CPU count if smaller; each guest keeps one CPU busy).
struct Slot;

static SLOTS: (Mutex<usize>, Condvar) = (Mutex::new(0), Condvar::new());

impl Slot {
    fn acquire() -> Slot {
        let max = std::env::var("LVSDECK_VM_JOBS")
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
            .filter(|&n| n > 0)
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get().min(2)));
        let (lock, cvar) = &SLOTS;
        let mut used = lock.lock().unwrap_or_else(|e| e.into_inner());
        while *used >= max {
            used = cvar.wait(used).unwrap_or_else(|e| e.into_inner());
        }
        *used += 1;
        Slot
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let (lock, cvar) = &SLOTS;
        *lock.lock().unwrap_or_else(|e| e.into_inner()) -= 1;
        cvar.notify_one();
    }
}
