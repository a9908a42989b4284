//! `lvsdeck lab --no-console` with the real kernel's IPVS, in the qemu guest (tests/vm/): the
//! seed's two directors (both running IPVS; in DR only the VIP holder receives the client's
//! traffic), two web nodes and the client's steady request stream, all in namespaces. The
//! client's status file (`ClientStatus`) is the measure: answers per web node and failures.
//!
//! One guest test (`lab_in_the_guest` boots it): both web nodes answer through the VIP; a drain
//! on the master sends every new request to web-node2 without a failure; graceful hand-overs
//! to the backup and back move the VIP with no request timing out (a request in flight at the
//! very switch may be reset: counted and printed); killing the master's daemon (SIGKILL, cable
//! pulled) loses requests for about one Master_Down_Interval, which is measured and printed.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::guest::{self, lvsdeck_exe, now_ms, snapshot_at};
use common::vm;
use lvsdeck::engine::snapshot::Snapshot;
use lvsdeck::lab::client::ClientStatus;
use lvsdeck::lab::{self, PREFIX, RUN_DIR, VIP};

#[test]
fn lab_in_the_guest() {
    vm::run_tests_in_guest(&["lab_drain_handover_and_master_kill"]);
}

/// Client requests per second: 50 gives a 20 ms resolution to the failure window.
const RATE: u32 = 50;
const SERVICE: &str = "TCP  10.10.10.100:80";
const WEB1: &str = "10.10.10.72:80";

/// `lvsdeck lab --no-console`, stopped with SIGINT on drop (it tears its namespaces down).
struct LabProc {
    child: Child,
    log: PathBuf,
}

impl LabProc {
    fn start() -> LabProc {
        let log = PathBuf::from("/tmp/lvsdeck-lab.log");
        let file = std::fs::File::create(&log).unwrap();
        let child = Command::new(lvsdeck_exe())
            .args(["lab", "--no-console", "--rate", &RATE.to_string()])
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .expect("start lvsdeck lab");
        LabProc { child, log }
    }

    fn log_text(&self) -> String {
        let mut text = std::fs::read_to_string(&self.log).unwrap_or_default();
        for host in ["lvs-master", "lvs-backup"] {
            let path = Path::new(RUN_DIR).join(format!("{host}.log"));
            text.push_str(&format!(
                "\n--- {host}.log:\n{}",
                std::fs::read_to_string(path).unwrap_or_default()
            ));
        }
        text
    }
}

impl Drop for LabProc {
    fn drop(&mut self) {
        if std::thread::panicking() {
            println!("lab log:\n{}", self.log_text());
        }
        // SAFETY: kill(2) on our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn socket(director: &str) -> PathBuf {
    Path::new(RUN_DIR).join(format!("{director}.sock"))
}

fn snap(director: &str) -> Snapshot {
    snapshot_at(&socket(director)).unwrap_or_else(|e| panic!("{director}: {e}"))
}

fn vrrp_state(director: &str) -> String {
    snapshot_at(&socket(director))
        .ok()
        .and_then(|s| s.vrrp.first().map(|v| v.state.clone()))
        .unwrap_or_else(|| "no answer".into())
}

fn client() -> ClientStatus {
    ClientStatus::read(&Path::new(RUN_DIR).join("client.json")).unwrap_or_default()
}

fn answers(c: &ClientStatus, node: &str) -> u64 {
    c.by_server.get(node).copied().unwrap_or(0)
}

/// Whether `director` holds the VIP on eth0.
fn holds_vip(director: &str) -> bool {
    vm::try_sh(&format!("ip -n {PREFIX}-{director} -br addr show dev eth0"))
        .stdout
        .split(|&b| b == b' ' || b == b'\n')
        .any(|w| w.starts_with(format!("{VIP}/").as_bytes()))
}

/// `lvsdeck --socket <director's socket> ctl ARGS`; its answer.
fn ctl(director: &str, args: &[&str]) -> String {
    let out = Command::new(lvsdeck_exe())
        .arg("--socket")
        .arg(socket(director))
        .arg("ctl")
        .args(args)
        .output()
        .expect("run lvsdeck ctl");
    assert!(
        out.status.success(),
        "lvsdeck ctl {args:?} on {director}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Take a host's cable out at the lab's switch, as `Topology::set_cable` does (the lab's
/// topology lives in the `lvsdeck lab` process; its ports are `p<index in lab::hosts()>`).
fn pull_cable(host: &str) {
    let i = lab::hosts()
        .iter()
        .position(|h| h.name == host)
        .expect("a lab host");
    vm::sh(&format!("ip -n {PREFIX}-sw link set p{i} down"));
}

/// The pid of the lvsdeck daemon in a director's namespace.
fn daemon_pid(director: &str) -> i32 {
    let pids = vm::sh(&format!("ip netns pids {PREFIX}-{director}"));
    pids.split_whitespace()
        .filter_map(|p| p.parse::<i32>().ok())
        .find(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| c.split(|&b| b == 0).any(|a| a == b"--daemon"))
        })
        .unwrap_or_else(|| panic!("no lvsdeck --daemon in {director}'s namespace: {pids}"))
}

/// Lets the client run for `d` and returns its counts before and after.
fn over(d: Duration) -> (ClientStatus, ClientStatus) {
    let before = client();
    std::thread::sleep(d);
    (before, client())
}

fn print_client(what: &str, c: &ClientStatus) {
    println!(
        "{what}: sent {} ok {} failed {} {:?} last error {:?}",
        c.sent, c.ok, c.failed, c.by_server, c.last_error
    );
}

#[test]
#[ignore = "runs in the guest, booted by lab_in_the_guest"]
fn lab_drain_handover_and_master_kill() {
    vm::guest_only("lab_drain_handover_and_master_kill", || {
        // The seed's chk_httpd runs /usr/bin/curl, which the guest lacks (and the daemon
        // refuses a script that does not exist). A stand-in that fails as curl does with
        // nothing listening on the director (exit 7, "000"): the check fails on both
        // directors alike and lowers both priorities by 5.
        std::fs::create_dir_all("/usr/bin").unwrap();
        std::fs::write(
            "/usr/bin/curl",
            "#!/bin/bash\n# test guest stand-in for curl: nothing listens, as `curl` would report\nprintf 000\nexit 7\n",
        )
        .unwrap();
        vm::sh("chmod 755 /usr/bin/curl");

        let t = Instant::now();
        let lab = LabProc::start();
        let up = vm::wait_for(
            "the lab's directors to answer",
            Duration::from_secs(60),
            || {
                socket("lvs-master").exists()
                    && socket("lvs-backup").exists()
                    && snapshot_at(&socket("lvs-master")).is_ok()
                    && snapshot_at(&socket("lvs-backup")).is_ok()
            },
        );
        println!("lab up (both control sockets answer) in {up:.1?}");
        vm::wait_for(
            "lvs-master to hold the VIP",
            Duration::from_secs(20),
            || holds_vip("lvs-master") && vrrp_state("lvs-backup") == "BACKUP",
        );
        println!(
            "lvs-master MASTER, lvs-backup BACKUP {:.1?} after the start",
            t.elapsed()
        );

        // Both web nodes answer through the VIP.
        vm::wait_for(
            "answers from both web nodes",
            Duration::from_secs(20),
            || {
                let c = client();
                answers(&c, "web-node1") >= 10 && answers(&c, "web-node2") >= 10
            },
        );
        let (a, b) = over(Duration::from_secs(2));
        print_client("running", &b);
        assert!(
            answers(&b, "web-node1") > answers(&a, "web-node1")
                && answers(&b, "web-node2") > answers(&a, "web-node2"),
            "both nodes answer: {a:?} -> {b:?}"
        );
        let failed_at_start = b.failed;
        println!(
            "{}",
            String::from_utf8_lossy(
                &vm::try_sh(&format!("ip netns exec {PREFIX}-lvs-master ipvsadm -Ln")).stdout
            )
        );

        // Drain web-node1 on the master: new requests all go to web-node2, none fails.
        let before = client();
        let answer = ctl("lvs-master", &["drain", SERVICE, WEB1]);
        println!("ctl drain: {answer}");
        // Requests already under way may still finish on web-node1: under TCG an answer can
        // take up to the client's 2 s timeout, after which every request sent before the
        // drain has answered or failed.
        std::thread::sleep(Duration::from_millis(2500));
        let (a, b) = over(Duration::from_secs(4));
        print_client("4 s drained", &b);
        assert_eq!(
            answers(&b, "web-node1"),
            answers(&a, "web-node1"),
            "no new answer from web-node1 while drained"
        );
        assert!(
            answers(&b, "web-node2") - answers(&a, "web-node2") >= u64::from(RATE) * 2,
            "web-node2 takes them all: {a:?} -> {b:?}"
        );
        let drain_failed = b.failed - before.failed;
        println!("drain: failed requests {drain_failed}");
        assert_eq!(drain_failed, 0, "no request lost to the drain: {b:?}");
        let listing = vm::sh(&format!("ip netns exec {PREFIX}-lvs-master ipvsadm -Ln"));
        println!("{listing}");
        assert!(
            guest::dests_of(&listing, "TCP 10.10.10.100:80").contains(&format!("{WEB1} Route 0")),
            "{listing}"
        );
        println!(
            "ctl undrain: {}",
            ctl("lvs-master", &["undrain", SERVICE, WEB1])
        );
        vm::wait_for("web-node1 answering again", Duration::from_secs(10), || {
            answers(&client(), "web-node1") > answers(&b, "web-node1")
        });

        // Graceful hand-over, there and back: the VIP moves (make-before-break) and no
        // request times out. A request in flight at the instant the client's ARP entry flips
        // (the new holder's gratuitous ARP) can still be reset: its SYN went through the old
        // director's IPVS, its next packet reaches the new one, whose IPVS has no entry for it
        // (no connection sync in the lab), so the new holder's own stack answers RST. Those
        // are counted and reported apart; nothing else may fail.
        let mut resets = Vec::new();
        for (from, to) in [("lvs-master", "lvs-backup"), ("lvs-backup", "lvs-master")] {
            let before = client();
            println!(
                "ctl handover on {from}: {}",
                ctl(from, &["handover", "VI_1"])
            );
            let moved = vm::wait_for(
                &format!("{to} to hold the VIP alone"),
                Duration::from_secs(20),
                || holds_vip(to) && !holds_vip(from),
            );
            println!("VIP on {to} only {moved:.1?} after the hand-over command");
            assert_eq!(vrrp_state(to), "MASTER");
            assert_eq!(vrrp_state(from), "BACKUP");
            let (_, b) = over(Duration::from_secs(3));
            print_client(&format!("3 s after the hand-over to {to}"), &b);
            let failed = b.failed - before.failed;
            let switched = snap(to).vrrp[0]
                .last_transition
                .clone()
                .expect("a transition");
            println!(
                "hand-over {from} -> {to}: {failed} failed of {} sent; {to} became master \
                 ({}); last error {:?} {} ms from that",
                b.sent - before.sent,
                switched.reason,
                b.last_error,
                b.last_error_at_ms as i64 - switched.at_ms as i64
            );
            assert!(
                b.ok > before.ok + u64::from(RATE) * 2,
                "{before:?} -> {b:?}"
            );
            if failed > 0 {
                assert!(
                    failed <= 2
                        && b.last_error.as_deref().is_some_and(|e| e.contains("reset"))
                        && b.last_error_at_ms.abs_diff(switched.at_ms) < 1000,
                    "a hand-over may only reset requests in flight at the switch: {b:?}"
                );
            }
            resets.push(failed);
        }
        println!("hand-overs: requests reset at the switch {resets:?}");

        // Kill the master's daemon and pull its cable: lvs-backup takes over after its
        // Master_Down_Interval (3 × 1 s + skew (256 - 85) / 256 = 3.67 s after the last advert
        // it heard, so 2.67-3.67 s after the kill).
        let (victim, heir) = ("lvs-master", "lvs-backup");
        let pid = daemon_pid(victim);
        let before = client();
        let samples = std::thread::spawn(|| {
            let start = Instant::now();
            let mut out = Vec::new();
            while start.elapsed() < Duration::from_secs(14) {
                out.push((now_ms(), client()));
                std::thread::sleep(Duration::from_millis(50));
            }
            out
        });
        std::thread::sleep(Duration::from_millis(1000));
        let killed_ms = now_ms();
        // SAFETY: kill(2) on the daemon's pid, found in its namespace.
        unsafe { libc::kill(pid, libc::SIGKILL) };
        pull_cable(victim);
        let took = vm::wait_for(
            &format!("{heir} to take the VIP"),
            Duration::from_secs(15),
            || vrrp_state(heir) == "MASTER",
        );
        let samples = samples.join().unwrap();
        let after = samples.last().unwrap().1.clone();
        print_client("before the kill", &before);
        print_client("after the kill", &after);
        let transition = snap(heir).vrrp[0]
            .last_transition
            .clone()
            .expect("a transition");
        println!(
            "{heir}: {} -> {} ({}) {} ms after the kill (seen by polling in {took:.1?})",
            transition.from,
            transition.to,
            transition.reason,
            transition.at_ms as i64 - killed_ms as i64
        );
        // The client's view: the longest stretch without a new answer around the kill, and
        // the requests lost.
        let mut gap = (0u64, 0u64);
        let mut last_ok = (samples[0].0, samples[0].1.ok);
        for (at, c) in &samples {
            if c.ok > last_ok.1 {
                if at - last_ok.0 > gap.1 - gap.0 {
                    gap = (last_ok.0, *at);
                }
                last_ok = (*at, c.ok);
            }
        }
        let lost = after.failed - before.failed;
        let window = lost as f64 / f64::from(RATE);
        println!(
            "master kill: {lost} requests failed of {} sent (= {window:.2} s of requests at {RATE}/s); \
             no answer for {} ms (from {} ms to {} ms after the kill); VRRP take-over {} ms after the kill",
            after.sent - before.sent,
            gap.1 - gap.0,
            gap.0 as i64 - killed_ms as i64,
            gap.1 as i64 - killed_ms as i64,
            transition.at_ms as i64 - killed_ms as i64,
        );
        let takeover = transition.at_ms.saturating_sub(killed_ms);
        assert!(
            transition.to == "MASTER" && (2500..=5000).contains(&takeover),
            "take-over {takeover} ms after the kill: {transition:?}"
        );
        assert!(
            lost > 0,
            "the kill lost requests (else nothing was measured)"
        );
        assert!(
            window <= 4.5,
            "requests failed for about one Master_Down_Interval, not {window:.2} s"
        );
        assert!(gap.1 - gap.0 <= 5000, "no answer for {} ms", gap.1 - gap.0);
        assert!(holds_vip(heir));
        // Answers again from both nodes through the new master.
        let (a, b) = over(Duration::from_secs(2));
        assert!(
            answers(&b, "web-node1") > answers(&a, "web-node1")
                && answers(&b, "web-node2") > answers(&a, "web-node2")
                && b.failed == a.failed,
            "{a:?} -> {b:?}"
        );
        println!(
            "failed over the whole run: {} of {} sent ({failed_at_start} while starting)",
            b.failed, b.sent
        );
        if std::env::var_os("LVSDECK_LAB_LOGS").is_some() {
            println!("{}", lab.log_text());
        }
        drop(lab);
    });
}
