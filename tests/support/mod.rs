//! Shared by the integration tests: prerequisites that skip visibly by hand and fail in CI.
#![allow(dead_code)]

use std::process::Command;

/// Whether the tests may run: root, and each named program on PATH. Without them, a test
/// prints SKIP and passes when run by hand, and fails in CI (see [`is_ci`]).
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
    skip(&format!("{test}: needs {}", missing.join(", ")));
    false
}

/// Whether this is CI: any value of `CI` but empty, `0` or `false` (the same rule everywhere,
/// so a CI that says `CI=1` fails on a missing prerequisite like one that says `CI=true`).
pub fn is_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false")
}

/// A test that cannot run here: in CI a failure; by hand a `SKIP:` line written straight to
/// the process's stderr (libtest captures `eprintln!`, so a skip would go unseen).
pub fn skip(msg: &str) {
    use std::io::Write;
    if is_ci() {
        panic!("{msg} (CI: a missing prerequisite is a failure)");
    }
    let _ = writeln!(std::io::stderr(), "SKIP: {msg}");
}

/// `../shared/corpus/<sub>` beside the repository (keepalived's samples, operators' files),
/// or `None` with a visible SKIP when it is not there; in CI a missing corpus fails `test`.
pub fn shared_corpus(sub: &str, test: &str) -> Option<std::path::PathBuf> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/corpus")
        .join(sub);
    if dir.is_dir() {
        return Some(dir);
    }
    skip(&format!("{} not found; {test} did not run", dir.display()));
    None
}

/// Two directors and a client on one LAN, 10.`net`.0.0/24: d1 at .71, d2 at .70, client at
/// .10.
pub fn two_directors_and_a_client(tag: &str, net: u8) -> Topology {
    use lvsdeck::lab::netns::HostSpec;
    let addr = |host: u8| format!("10.{net}.0.{host}/24");
    Topology::build(
        &prefix(tag),
        vec![
            HostSpec::new("d1", 0x71, &[&addr(71)]),
            HostSpec::new("d2", 0x70, &[&addr(70)]),
            HostSpec::new("client", 0x10, &[&addr(10)]),
        ],
    )
    .expect("topology")
}

/// Runs `f` on a thread that has entered network namespace `ns` (made by `ip netns add`).
/// Sockets made there stay in that namespace whichever thread uses them later.
pub fn in_netns<T: Send>(ns: &str, f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| {
        s.spawn(|| {
            enter_netns(ns);
            f()
        })
        .join()
        .expect("thread in the namespace")
    })
}

/// Moves the calling thread into network namespace `ns` (for a thread that serves there).
pub fn enter_netns(ns: &str) {
    use std::os::fd::AsRawFd;
    let file = std::fs::File::open(format!("/run/netns/{ns}"))
        .unwrap_or_else(|e| panic!("namespace {ns}: {e}"));
    // SAFETY: setns(2) on an open namespace file; it changes this thread only.
    let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
    assert_eq!(rc, 0, "setns {ns}: {}", std::io::Error::last_os_error());
}

/// A namespace prefix unique to this test process and test, short enough for interface names.
pub fn prefix(tag: &str) -> String {
    format!("lt{}{tag}", std::process::id() % 100_000)
}

pub mod frr;
pub mod screen;

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use lvsdeck::lab::netns::Topology;

/// Poll `cond` every 10 ms until it holds or `timeout` passes; returns the time it took.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if cond() {
            return Some(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

/// A scratch directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(format!("lvsdeck-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A process running in a namespace, killed on drop; its stderr goes to a log file.
pub struct Proc {
    pub child: Child,
    pub log: PathBuf,
    pub name: String,
}

impl Proc {
    pub fn spawn(topo: &Topology, host: &str, program: &str, args: &[&str], log: PathBuf) -> Self {
        Proc::spawn_env(topo, host, &[], program, args, log)
    }

    /// As `spawn`, with extra environment.
    pub fn spawn_env(
        topo: &Topology,
        host: &str,
        env: &[(&str, String)],
        program: &str,
        args: &[&str],
        log: PathBuf,
    ) -> Self {
        let mut command = topo.command(host, program);
        command.envs(env.iter().map(|(k, v)| (k, v)));
        let _ = std::fs::remove_file(&log); // a fresh log, where spawn_in appends
        Proc::start(command, args, log, format!("{program} on {host}"))
    }

    /// `program ARGS` in network namespace `ns` (by name, as `ip netns` knows it), with extra
    /// environment; stdout and stderr appended to `log`.
    pub fn spawn_in(
        ns: &str,
        program: &str,
        args: &[&str],
        env: &[(&str, &str)],
        log: PathBuf,
    ) -> Self {
        let mut command = Command::new("ip");
        command
            .args(["netns", "exec", ns, program])
            .envs(env.iter().copied());
        Proc::start(command, args, log, format!("{program} in {ns}"))
    }

    fn start(mut command: Command, args: &[&str], log: PathBuf, name: String) -> Self {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap_or_else(|e| panic!("{}: {e}", log.display()));
        let child = command
            .args(args)
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("start {name}: {e}"));
        Proc { child, log, name }
    }

    /// The program's pid (`ip netns exec` execs it: the child's pid is the program's).
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on our own child.
        unsafe { libc::kill(self.pid(), sig) };
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Wait for exit up to `timeout`; the exit code, or None if still running.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status.code().unwrap_or(-1));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The lvsdeck binary under test.
pub fn lvsdeck_bin() -> &'static str {
    env!("CARGO_BIN_EXE_lvsdeck")
}

/// Start `lvsdeck --daemon -c config` in a host's namespace.
pub fn lvsdeck_daemon(topo: &Topology, host: &str, config: &Path, dir: &TempDir) -> Proc {
    let log = dir.0.join(format!("{host}.log"));
    // Each daemon its own control socket: tests run in parallel.
    let socket = dir.0.join(format!("{host}.sock"));
    let args = [
        "--daemon",
        "-c",
        config.to_str().unwrap(),
        "--socket",
        socket.to_str().unwrap(),
    ];
    Proc::spawn(topo, host, lvsdeck_bin(), &args, log)
}

/// SIGKILL every process in a host's namespace (a daemon and its VIP guard, scripts), as a
/// power cut would leave the host's addresses.
pub fn kill_all_in(topo: &Topology, host: &str) {
    let out = Command::new("ip")
        .args(["netns", "pids", &topo.ns(host)])
        .output()
        .expect("ip netns pids");
    for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
        if let Ok(pid) = pid.parse::<i32>() {
            // SAFETY: kill(2) on a pid the kernel listed in the namespace.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

/// Ping `target` from `host` every `interval_ms` for `count` pings; (sent, received).
pub fn ping_counts(output: &str) -> (u32, u32) {
    let line = output
        .lines()
        .find(|l| l.contains("packets transmitted"))
        .unwrap_or("");
    let nums: Vec<u32> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|w| w.parse().ok())
        .collect();
    (
        nums.first().copied().unwrap_or(0),
        nums.get(1).copied().unwrap_or(0),
    )
}

/// Start Debian's keepalived (VRRP only, in the foreground, logging to a file) in a host's
/// namespace with `conf` as its configuration; its pid files stay in `dir`.
pub fn keepalived(topo: &Topology, host: &str, conf: &str, dir: &TempDir) -> Proc {
    let file = dir.write(&format!("{host}-keepalived.conf"), conf);
    keepalived_with(
        topo,
        host,
        &file,
        dir,
        dir.0.join(format!("{host}-keepalived.log")),
    )
}

/// As [`keepalived`], from a configuration file already written, logging to `log`.
pub fn keepalived_with(
    topo: &Topology,
    host: &str,
    file: &Path,
    dir: &TempDir,
    log: PathBuf,
) -> Proc {
    let pid = |n: &str| {
        dir.0
            .join(format!("{host}-{n}.pid"))
            .to_str()
            .unwrap()
            .to_string()
    };
    let (p, r, c, b) = (pid("ka"), pid("vrrp"), pid("chk"), pid("bfd"));
    // VRRP only (-P), unless the file has BFD sessions: keepalived's BFD process runs only
    // when no subsystem is singled out.
    let bfd = std::fs::read_to_string(file).is_ok_and(|t| t.contains("bfd_instance"));
    let mut args = vec!["-n", "-l", "-D", "-G"];
    if !bfd {
        args.push("-P");
    }
    args.extend([
        "-f",
        file.to_str().unwrap(),
        "-p",
        &p,
        "-r",
        &r,
        "-c",
        &c,
        "-b",
        &b,
    ]);
    Proc::spawn(topo, host, "keepalived", &args, log)
}
