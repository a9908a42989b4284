//! Running the real daemon inside the VM guest (see [`super::vm`]): namespaces entered from the
//! test process, the lvsdeck binary started from a copy in the guest's RAM, its control socket
//! read in-process (one-shot and subscribed), and `ipvsadm` in a namespace as the referee.
//!
//! Needs only `mod common;` in a test file (`common` brings `support` along).

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use lvsdeck::control::client::Client;
use lvsdeck::control::protocol::{Request, Response};
use lvsdeck::engine::snapshot::{EventView, RealView, ServiceView, Snapshot};

use super::support::Proc;
use super::vm;

/// The lvsdeck binary under test, run from a copy in the guest's RAM: from the 9p share
/// (cache=none) every page it touches is a round trip to the host, which made a daemon take
/// 10-25 s to start on a loaded host; the copy costs ~3 s once per boot.
pub fn lvsdeck_exe() -> &'static str {
    static EXE: OnceLock<String> = OnceLock::new();
    EXE.get_or_init(|| {
        assert!(vm::in_vm(), "copies the binary into the guest's /tmp");
        let t = Instant::now();
        let copy = "/tmp/lvsdeck-under-test";
        std::fs::copy(env!("CARGO_BIN_EXE_lvsdeck"), copy).expect("copy lvsdeck to /tmp");
        println!("copied lvsdeck to {copy} in {:.1?}", t.elapsed());
        copy.to_string()
    })
}

/// Saves a console's screen, with its colours, as `target/lab-vm-screens/NAME-COLSxROWS.ansi`
/// in the repository; `cargo bench --bench screenshots` renders those into `screenshots/`.
pub fn save_screen(tmux: &super::support::screen::Tmux, name: &str) {
    let dir = vm::repo_dir().join("target/lab-vm-screens");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}-{}x{}.ansi", tmux.cols, tmux.rows));
    std::fs::write(&path, tmux.ansi()).unwrap();
    println!("screen saved: {}", path.display());
}

/// A fresh scratch directory in the guest's /tmp.
pub fn scratch(tag: &str) -> PathBuf {
    let dir = PathBuf::from(format!("/tmp/lvsdeck-{tag}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch directory");
    dir
}

/// `ipvsadm ARGS` in namespace `ns`.
pub fn ipvsadm(ns: &str, args: &str) -> String {
    vm::sh(&format!("ip netns exec {ns} ipvsadm {args}"))
}

/// The service and real-server lines of an `ipvsadm -Ln` listing, words single-spaced:
/// `TCP 10.0.0.1:80 rr`, `-> 10.0.0.11:80 Route 1 0 0`.
pub fn table_lines(listing: &str) -> Vec<String> {
    listing
        .lines()
        .filter(|l| {
            l.starts_with("TCP") || l.starts_with("UDP") || l.trim_start().starts_with("->")
        })
        .filter(|l| !l.contains("RemoteAddress:Port"))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

/// The real-server lines of one service in an `ipvsadm -Ln` listing (`service` as ipvsadm
/// heads it, single-spaced: `TCP 10.0.0.1:80`), each as `address forward weight`.
pub fn dests_of(listing: &str, service: &str) -> Vec<String> {
    let lines = table_lines(listing);
    let Some(i) = lines
        .iter()
        .position(|l| l.starts_with(&format!("{service} ")))
    else {
        return Vec::new();
    };
    lines[i + 1..]
        .iter()
        .take_while(|l| l.starts_with("->"))
        .map(|l| l.split(' ').skip(1).take(3).collect::<Vec<_>>().join(" "))
        .collect()
}

/// Polls `ipvsadm -Ln` in `ns` until `want` holds for the real servers of `service`; returns
/// how long that took and the listing. Panics after `timeout`, showing the last listing.
pub fn wait_dests(
    ns: &str,
    service: &str,
    timeout: Duration,
    want: impl Fn(&[String]) -> bool,
) -> (Duration, String) {
    let start = Instant::now();
    loop {
        let listing = ipvsadm(ns, "-Ln");
        if want(&dests_of(&listing, service)) {
            return (start.elapsed(), listing);
        }
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for the real servers of {service}; ipvsadm -Ln:\n{listing}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One `lvsdeck --daemon` in a namespace, killed on drop (by its [`Proc`]).
pub struct Daemon {
    pub proc: Proc,
    pub socket: PathBuf,
}

impl Daemon {
    /// Starts `lvsdeck --daemon -c CONFIG --socket DIR/NAME.sock` in `ns` (stdout and stderr
    /// to DIR/NAME.log) and waits until its control socket answers.
    pub fn start(ns: &str, config: &Path, dir: &Path, name: &str) -> Daemon {
        Self::start_with(ns, config, dir, name, &[])
    }

    /// [`Daemon::start`] with extra environment (e.g. `RUST_LOG`).
    pub fn start_with(
        ns: &str,
        config: &Path,
        dir: &Path,
        name: &str,
        env: &[(&str, &str)],
    ) -> Daemon {
        let socket = dir.join(format!("{name}.sock"));
        let _ = std::fs::remove_file(&socket);
        let proc = Proc::spawn_in(
            ns,
            lvsdeck_exe(),
            &[
                "--daemon",
                "-c",
                &config.to_string_lossy(),
                "--socket",
                &socket.to_string_lossy(),
            ],
            env,
            dir.join(format!("{name}.log")),
        );
        let mut d = Daemon { proc, socket };
        let start = Instant::now();
        loop {
            if d.socket.exists() && d.cli(&["status"]).status.success() {
                println!("{name}: daemon answering after {:.1?}", start.elapsed());
                return d;
            }
            if let Some(code) = d.proc.wait_exit(Duration::ZERO) {
                panic!("the daemon exited ({code}):\n{}", d.log_text());
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "no answer on the control socket after 30 s:\n{}",
                d.log_text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn pid(&self) -> i32 {
        self.proc.pid()
    }

    pub fn signal(&self, sig: i32) {
        self.proc.signal(sig);
    }

    /// Waits for the daemon to exit; its exit code (-1: killed by a signal), or None.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        self.proc.wait_exit(timeout)
    }

    pub fn log_text(&self) -> String {
        self.proc.log_text()
    }

    /// `lvsdeck --socket SOCKET ARGS`.
    pub fn cli(&self, args: &[&str]) -> Output {
        Command::new(lvsdeck_exe())
            .arg("--socket")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("run lvsdeck")
    }

    /// [`Daemon::cli`], panicking (with the daemon's log) unless it exits 0; its stdout.
    pub fn cli_ok(&self, args: &[&str]) -> String {
        let out = self.cli(args);
        assert!(
            out.status.success(),
            "lvsdeck {args:?}: {}{}\ndaemon log:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            self.log_text()
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `lvsdeck status --json`.
    pub fn snapshot(&self) -> Snapshot {
        serde_json::from_str(&self.cli_ok(&["status", "--json"])).expect("status --json")
    }

    /// `lvsdeck status`.
    pub fn status(&self) -> String {
        self.cli_ok(&["status"])
    }

    /// Subscribes to the control socket: every snapshot and event from now on.
    pub fn watch(&self) -> Watch {
        Watch::start(&self.socket)
    }
}

/// What a subscription has received.
#[derive(Default, Clone)]
pub struct Seen {
    pub snapshots: Vec<Snapshot>,
    pub events: Vec<EventView>,
}

impl Seen {
    /// The distinct check results of real server `addr` (`10.0.0.11`) of service `key` (as
    /// the snapshot names it, `TCP  10.0.0.1:80`), in order: (Unix ms, ok, message).
    pub fn checks(&self, key: &str, addr: &str) -> Vec<(u64, bool, String)> {
        let mut out: Vec<(u64, bool, String)> = Vec::new();
        for s in &self.snapshots {
            if let Some(c) = real_in(s, key, addr).and_then(|r| r.last_check.as_ref())
                && out.last().is_none_or(|l| l.0 < c.at_ms)
            {
                out.push((c.at_ms, c.ok, c.message.clone()));
            }
        }
        out
    }

    /// Events of `kind` whose subject contains `subject`: (Unix ms, message).
    pub fn events_about(&self, kind: &str, subject: &str) -> Vec<(u64, String)> {
        self.events
            .iter()
            .filter(|e| e.kind == kind && e.subject.contains(subject))
            .map(|e| (e.at_ms, e.message.clone()))
            .collect()
    }
}

/// A service of a snapshot by key (whitespace-insensitive).
pub fn service_in<'a>(s: &'a Snapshot, key: &str) -> Option<&'a ServiceView> {
    let norm = |t: &str| t.split_whitespace().collect::<Vec<_>>().join(" ");
    s.ipvs.services.iter().find(|v| norm(&v.key) == norm(key))
}

/// A real server (by address) of a service of a snapshot.
pub fn real_in<'a>(s: &'a Snapshot, key: &str, addr: &str) -> Option<&'a RealView> {
    service_in(s, key)?.reals.iter().find(|r| r.address == addr)
}

/// A subscription to a daemon's control socket on a thread of its own.
pub struct Watch {
    seen: Arc<Mutex<Seen>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Watch {
    fn start(socket: &Path) -> Watch {
        let seen = Arc::new(Mutex::new(Seen::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = {
            let (seen, stop, socket) = (seen.clone(), stop.clone(), socket.to_path_buf());
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                rt.block_on(async move {
                    let mut client = Client::connect(&socket).await.expect("connect");
                    client.send(&Request::Subscribe).await.expect("subscribe");
                    let _ = ready_tx.send(());
                    while !stop.load(Ordering::Relaxed) {
                        let Ok(r) =
                            tokio::time::timeout(Duration::from_millis(100), client.recv()).await
                        else {
                            continue;
                        };
                        let Ok(r) = r else { return };
                        let mut seen = seen.lock().unwrap();
                        match r {
                            Response::Snapshot { snapshot } => seen.snapshots.push(*snapshot),
                            Response::Event { event } => seen.events.push(event),
                            _ => {}
                        }
                    }
                });
            })
        };
        ready_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("subscribed to the control socket");
        Watch {
            seen,
            stop,
            thread: Some(thread),
        }
    }

    /// What has come so far.
    pub fn seen(&self) -> Seen {
        self.seen.lock().unwrap().clone()
    }

    /// Polls until `f` holds for what has come; returns how long that took.
    pub fn wait(&self, what: &str, timeout: Duration, f: impl Fn(&Seen) -> bool) -> Duration {
        vm::wait_for(what, timeout, || f(&self.seen.lock().unwrap()))
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One snapshot from the daemon at `socket`, asked in-process (no CLI process to start: under
/// TCG that costs 0.2-1.5 s).
pub fn snapshot_at(socket: &Path) -> io::Result<Snapshot> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let ask = async {
            let mut client = Client::connect(socket).await?;
            match client.call(&Request::Snapshot).await? {
                Response::Snapshot { snapshot } => Ok(*snapshot),
                other => Err(io::Error::other(format!("unexpected answer {other:?}"))),
            }
        };
        tokio::time::timeout(Duration::from_secs(60), ask)
            .await
            .map_err(|_| io::Error::other("no snapshot within 60 s"))?
    })
}

/// Unix ms now (the guest's clock, the one the daemon stamps with).
pub fn now_ms() -> u64 {
    lvsdeck::engine::snapshot::now_ms()
}
