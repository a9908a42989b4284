//! `lvsdeck lab --bgp 3` with the real kernel's IPVS, in the qemu guest: three directors
//! announcing one VIP over BGP to BIRD's ECMP router (L4 hash), Maglev (`mh`, `mh-port`) over
//! two web nodes in DR with sloppy TCP, a client holding 300 long connections (one 8-byte
//! echo each every 500 ms, retransmissions counted per connection by the kernel) while new
//! HTTP requests keep arriving. Measured, from the client, connection by connection:
//! - a graceful drain of a whole director (`ctl drain-director`): no connection reset;
//! - a director killed (SIGKILL of lvsdeck and BIRD, its cable pulled), without BFD on its
//!   session and then another with BFD (100 ms × 3): the connections the router sent to the
//!   survivors retransmit nothing, the killed director's continue on the survivors (same
//!   real server by Maglev, taken mid-flow by sloppy TCP), stalled for about the router's
//!   withdrawal time, which is measured.
//!
//! Which director carries a connection is the router's own answer (`ip route get` with the
//! connection's ports) just before each fault; the router hashes the five-tuple
//! (`lab::bgp` says why not policy 1 in a lab of namespaces).

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::guest::{self, lvsdeck_exe};
use common::support::screen::Tmux;
use common::vm;
use lvsdeck::lab::bgp::{ECHO_PORT, VIP, director, next_hops};
use lvsdeck::lab::client::ClientStatus;
use lvsdeck::lab::flows::{Flow, FlowsStatus};
use lvsdeck::lab::{PREFIX, RUN_DIR};

#[test]
fn bgp_in_the_guest() {
    vm::run_tests_in_guest_within(
        &["three_directors_kill_and_drain", "pair_master_kill_flows"],
        Some(900),
    );
}

const FLOWS: usize = 300;

fn ns(host: &str) -> String {
    format!("{PREFIX}-{host}")
}

fn sh(args: &[&str]) -> String {
    let out = Command::new(args[0]).args(&args[1..]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn hops() -> Vec<String> {
    next_hops(&sh(&[
        "ip",
        "-n",
        &ns("router"),
        "-j",
        "route",
        "show",
        VIP,
    ]))
}

fn flows() -> FlowsStatus {
    FlowsStatus::read(&Path::new(RUN_DIR).join("flows.json")).unwrap_or_default()
}

fn client() -> ClientStatus {
    ClientStatus::read(&Path::new(RUN_DIR).join("client.json")).unwrap_or_default()
}

fn socket(d: &str) -> PathBuf {
    Path::new(RUN_DIR).join(format!("{d}.sock"))
}

fn ctl(d: &str, what: &str) {
    let out = Command::new(lvsdeck_exe())
        .args(["ctl", what, "--socket", socket(d).to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "ctl {what} on {d}: {out:?}");
}

fn addrs(list: &[usize]) -> Vec<String> {
    list.iter().map(|&i| director(i).1).collect()
}

/// Waits until the router's route has these directors' next hops; the time it took.
fn wait_hops(want: &[usize], timeout: Duration) -> Duration {
    let want = addrs(want);
    vm::wait_for(&format!("the router's next hops {want:?}"), timeout, || {
        hops() == want
    })
}

/// Which director the router sends each connection to now, by its local port.
fn carriers(ports: &[u16]) -> BTreeMap<u16, String> {
    let batch: String = ports
        .iter()
        .map(|p| {
            format!(
                "route get {VIP} from 10.99.0.10 iif eth0 ipproto tcp sport {p} dport {ECHO_PORT}\n"
            )
        })
        .collect();
    let mut child = Command::new("ip")
        .args(["-n", &ns("router"), "-batch", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(batch.as_bytes())
        .unwrap();
    let out = String::from_utf8_lossy(&child.wait_with_output().unwrap().stdout).into_owned();
    let vias: Vec<String> = out
        .lines()
        .filter(|l| l.starts_with(VIP))
        .map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            w.iter()
                .position(|x| *x == "via")
                .map_or(String::new(), |i| w[i + 1].to_string())
        })
        .collect();
    assert_eq!(vias.len(), ports.len(), "ip route get answered:\n{out}");
    ports.iter().copied().zip(vias).collect()
}

/// The pids in director `i`'s namespace (lvsdeck, its guard, BIRD), taken before a fault
/// so that the fault itself starts no process in a starved guest.
fn pids_of(i: usize) -> Vec<i32> {
    sh(&["ip", "netns", "pids", &ns(&director(i).0)])
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// Kill director `i` as a power cut would: its cable first (so no FIN or BGP notification
/// gets out), then every process in its namespace.
fn kill_director(i: usize, pids: &[i32]) {
    kill_host(i, pids);
}

/// Pull the cable of the lab's host at switch port `port`, then SIGKILL `pids`.
fn kill_host(i: usize, pids: &[i32]) {
    sh(&[
        "ip",
        "-n",
        &format!("{PREFIX}-sw"),
        "link",
        "set",
        &format!("p{i}"),
        "down",
    ]);
    for &pid in pids {
        // SAFETY: kill(2) on processes of the lab's namespace.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
}

struct LabProcess(Child);

impl Drop for LabProcess {
    fn drop(&mut self) {
        // SAFETY: kill(2) on our own child; SIGINT tears the lab down.
        unsafe { libc::kill(self.0.id() as i32, libc::SIGINT) };
        let _ = self.0.wait();
    }
}

/// The outcome of one fault for the connections, by who carried them.
struct Outcome {
    victims: usize,
    victims_alive: usize,
    victims_stall_ms: Vec<u64>,
    others: usize,
    others_alive: usize,
    others_retransmits: u32,
    others_lost: u32,
    http_failed: u64,
}

fn judge(
    before: &FlowsStatus,
    after: &FlowsStatus,
    carriers: &BTreeMap<u16, String>,
    victim: &str,
    t0_ms: u64,
) -> Outcome {
    let by_port: BTreeMap<u16, &Flow> = before.flows.iter().map(|f| (f.local_port, f)).collect();
    let mut o = Outcome {
        victims: 0,
        victims_alive: 0,
        victims_stall_ms: Vec::new(),
        others: 0,
        others_alive: 0,
        others_retransmits: 0,
        others_lost: 0,
        http_failed: 0,
    };
    for f in after
        .flows
        .iter()
        .filter(|f| carriers.contains_key(&f.local_port))
    {
        let was = by_port[&f.local_port];
        let alive = f.error.is_none() && f.echoed > was.echoed;
        if carriers[&f.local_port] == victim {
            o.victims += 1;
            o.victims_alive += usize::from(alive);
            o.victims_stall_ms
                .push(f.worst_wait_since(t0_ms.saturating_sub(1000)));
        } else {
            o.others += 1;
            o.others_alive += usize::from(alive);
            o.others_retransmits += f.retransmits.saturating_sub(was.retransmits);
            o.others_lost += f.lost().saturating_sub(was.lost());
        }
    }
    o.victims_stall_ms.sort_unstable();
    o
}

/// Segments retransmitted and lost between two readings of the client's file.
fn retransmitted(before: &FlowsStatus, after: &FlowsStatus) -> (u32, u32) {
    after
        .flows
        .iter()
        .zip(&before.flows)
        .fold((0, 0), |(r, l), (a, b)| {
            (
                r + a.retransmits.saturating_sub(b.retransmits),
                l + a.lost().saturating_sub(b.lost()),
            )
        })
}

/// Room for 10,000 packets in the guest's input backlog (`net.core.netdev_max_backlog`, 1,000
/// by default). Every namespace's veth traffic goes through the one emulated CPU's backlog.
/// When BFD moves a dead director's connections within ~0.5 s, their retransmissions come
/// together. In a fresh-clone CI run (the host busy with the other streams, TCG slower) the
/// default overflowed: 874 packets dropped, 209 segments lost by the survivor's connections.
/// A router has queues per NIC and CPU of its own; the guest is a scratch machine.
fn roomy_backlog() {
    sh(&["sysctl", "-qw", "net.core.netdev_max_backlog=10000"]);
    let now = std::fs::read_to_string("/proc/sys/net/core/netdev_max_backlog").unwrap();
    assert_eq!(now.trim(), "10000", "the guest's backlog");
}

/// Packets the guest's CPUs dropped from their input backlog (`/proc/net/softnet_stat`,
/// second column, summed): every namespace's veth traffic shares these queues.
fn backlog_drops() -> u64 {
    std::fs::read_to_string("/proc/net/softnet_stat")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1))
        .filter_map(|h| u64::from_str_radix(h, 16).ok())
        .sum()
}

/// Every drop and error counter of every host of the lab (their `/proc/net/snmp` and
/// `netstat`) and of the switch's ports, by name: what a fault's diff is read from.
fn drop_counters() -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    let hosts = [
        "router",
        "d1",
        "d2",
        "d3",
        "web-node1",
        "web-node2",
        "client",
    ];
    for host in hosts {
        for file in ["/proc/net/snmp", "/proc/net/netstat"] {
            let text = sh(&["ip", "netns", "exec", &ns(host), "cat", file]);
            let lines: Vec<&str> = text.lines().collect();
            for pair in lines.chunks(2) {
                let [head, vals] = pair else { continue };
                let mut h = head.split_whitespace();
                let group = h.next().unwrap_or("").trim_end_matches(':').to_string();
                for (k, v) in h.zip(vals.split_whitespace().skip(1)) {
                    let interesting = [
                        "Drop", "Discard", "Err", "Fail", "NoRoute", "Unreach", "Prune", "Reset",
                        "Abort", "Lost", "Timeout", "Retrans", "Backlog", "Filter",
                    ]
                    .iter()
                    .any(|w| k.contains(w));
                    if interesting && let Ok(v) = v.parse() {
                        out.insert(format!("{host}.{group}.{k}"), v);
                    }
                }
            }
        }
    }
    let links: Vec<serde_json::Value> = serde_json::from_str(&sh(&[
        "ip",
        "-n",
        &format!("{PREFIX}-sw"),
        "-s",
        "-j",
        "link",
    ]))
    .unwrap_or_default();
    for l in links {
        let name = l["ifname"].as_str().unwrap_or("").to_string();
        for dir in ["rx", "tx"] {
            if let Some(v) = l["stats64"][dir]["dropped"].as_i64() {
                out.insert(format!("sw.{name}.{dir}_dropped"), v);
            }
        }
    }
    out
}

/// What rose between two readings of [`drop_counters`].
fn rose(before: &BTreeMap<String, i64>, after: &BTreeMap<String, i64>) -> String {
    after
        .iter()
        .filter_map(|(k, v)| {
            let d = v - before.get(k).copied().unwrap_or(0);
            (d > 0).then(|| format!("{k}+{d}"))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The router's counters of packets it could not route or forward (`/proc/net/snmp`).
fn router_drops() -> String {
    let snmp = sh(&[
        "ip",
        "netns",
        "exec",
        &ns("router"),
        "cat",
        "/proc/net/snmp",
    ]);
    let lines: Vec<&str> = snmp.lines().filter(|l| l.starts_with("Ip:")).collect();
    let (Some(head), Some(vals)) = (lines.first(), lines.get(1)) else {
        return snmp;
    };
    head.split_whitespace()
        .zip(vals.split_whitespace())
        .filter(|(k, _)| {
            k.contains("NoRoutes") || k.contains("Discards") || k.contains("ForwDatagrams")
        })
        .map(|(k, v)| format!("{k}={v}"))
        .chain([format!("backlog drops={}", backlog_drops())])
        .collect::<Vec<_>>()
        .join(" ")
}

fn kill_and_measure(i: usize, survivors: &[usize], label: &str) -> (Outcome, Duration) {
    println!("BGP-VM router before: {}", router_drops());
    let live: Vec<u16> = flows()
        .flows
        .iter()
        .filter(|f| f.error.is_none())
        .map(|f| f.local_port)
        .collect();
    let carriers = carriers(&live);
    let pids = pids_of(i);
    // Quiet first: what the guest's own load costs over as long, the fault's baseline.
    let quiet_from = flows();
    std::thread::sleep(Duration::from_secs(3));
    let before = flows();
    let (r, l) = retransmitted(&quiet_from, &before);
    println!("BGP-VM before {label}: {r} segments retransmitted, {l} lost, in 3 s with no fault");
    let http_before = client().failed;
    let counters_before = drop_counters();
    std::thread::sleep(Duration::from_secs(1));
    let t0_ms = common::guest::now_ms();
    let t0 = Instant::now();
    kill_director(i, &pids);
    let withdrawn = vm::wait_for(
        "the router to withdraw the dead director",
        Duration::from_secs(30),
        || hops() == addrs(survivors),
    );
    let took = t0.elapsed();
    // Retransmissions back off (200, 400, 800 ms, ...): give the stalled ones time to land.
    std::thread::sleep(Duration::from_secs(6));
    let after = flows();
    println!("BGP-VM router after: {}", router_drops());
    println!(
        "BGP-VM counters that rose: {}",
        rose(&counters_before, &drop_counters())
    );
    let mut o = judge(&before, &after, &carriers, &director(i).1, t0_ms);
    // Where the survivors' retransmissions were, if any: by carrier, and the worst waits.
    let moved = self::carriers(&live);
    for f in after.flows.iter().filter(|f| {
        carriers
            .get(&f.local_port)
            .is_some_and(|c| *c != director(i).1)
    }) {
        let was = before
            .flows
            .iter()
            .find(|b| b.local_port == f.local_port)
            .unwrap();
        if f.lost() > was.lost() {
            println!(
                "BGP-VM   port {} on {} (now {}): {} lost, slow echoes since the fault {:?}",
                f.local_port,
                carriers[&f.local_port],
                moved.get(&f.local_port).cloned().unwrap_or_default(),
                f.lost() - was.lost(),
                f.slow
                    .iter()
                    .filter(|(at, _)| *at + 1000 >= t0_ms)
                    .map(|(at, w)| (*at as i64 - t0_ms as i64, *w))
                    .collect::<Vec<_>>()
            );
        }
    }
    o.http_failed = client().failed - http_before;
    let median = o
        .victims_stall_ms
        .get(o.victims_stall_ms.len() / 2)
        .copied()
        .unwrap_or(0);
    let max = o.victims_stall_ms.last().copied().unwrap_or(0);
    println!(
        "BGP-VM {label}: withdrawn after {took:.2?} (waited {withdrawn:.2?}); killed director's {} connections: {} continued, stall median {median} ms, max {max} ms; the other {} connections: {} alive, {} segments retransmitted, {} lost; new HTTP requests failed: {}",
        o.victims,
        o.victims_alive,
        o.others,
        o.others_alive,
        o.others_retransmits,
        o.others_lost,
        o.http_failed
    );
    (o, took)
}

#[test]
#[ignore = "runs in the guest, booted by bgp_in_the_guest"]
fn three_directors_kill_and_drain() {
    vm::guest_only("three_directors_kill_and_drain", || {
        roomy_backlog();
        let log = std::fs::File::create("/tmp/lab-bgp.log").unwrap();
        let _lab = LabProcess(
            Command::new(lvsdeck_exe())
                .args([
                    "lab",
                    "--bgp",
                    "3",
                    "--bfd",
                    "3",
                    "--no-console",
                    "--rate",
                    "20",
                ])
                .args(["--flows", &FLOWS.to_string()])
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap(),
        );
        let t = Instant::now();
        let up = wait_hops(&[1, 2, 3], Duration::from_secs(90));
        println!("BGP-VM ECMP route with 3 next hops {up:.1?} after the start");
        vm::wait_for("300 connections up", Duration::from_secs(90), || {
            flows().alive() == FLOWS
        });
        println!(
            "BGP-VM {FLOWS} connections up {:.1?} after the start",
            t.elapsed()
        );
        let per_server = flows()
            .flows
            .iter()
            .fold(BTreeMap::<String, usize>::new(), |mut m, f| {
                *m.entry(f.server.clone()).or_default() += 1;
                m
            });
        println!("BGP-VM connections per real server: {per_server:?}");
        assert_eq!(
            per_server.len(),
            2,
            "Maglev with mh-port spreads one client's ports"
        );
        for i in 1..=3 {
            let d = ns(&director(i).0);
            let sloppy = sh(&[
                "ip",
                "netns",
                "exec",
                &d,
                "cat",
                "/proc/sys/net/ipv4/vs/sloppy_tcp",
            ]);
            assert_eq!(sloppy.trim(), "1", "sloppy_tcp on d{i}");
            let table = sh(&["ip", "netns", "exec", &d, "ipvsadm", "-Ln"]);
            assert!(
                table.contains("mh (mh-port)") || table.contains("mh"),
                "d{i}:\n{table}"
            );
        }
        let spread = carriers(
            &flows()
                .flows
                .iter()
                .map(|f| f.local_port)
                .collect::<Vec<_>>(),
        );
        let mut per_director = BTreeMap::<String, usize>::new();
        for d in spread.values() {
            *per_director.entry(d.clone()).or_default() += 1;
        }
        println!("BGP-VM connections per director (the router's hash): {per_director:?}");

        console_shots();

        // A graceful drain of d1: its connections move to d2 and d3; none is reset.
        println!("BGP-VM router before the drain: {}", router_drops());
        let before = flows();
        let t0_ms = common::guest::now_ms();
        ctl("d1", "drain-director");
        let gone = wait_hops(&[2, 3], Duration::from_secs(10));
        std::thread::sleep(Duration::from_secs(5));
        let after = flows();
        let reset: Vec<&Flow> = after.flows.iter().filter(|f| f.error.is_some()).collect();
        let stalled = after
            .flows
            .iter()
            .zip(&before.flows)
            .filter(|(a, b)| a.echoed <= b.echoed)
            .count();
        let (retrans, lost) = retransmitted(&before, &after);
        println!(
            "BGP-VM drain-director d1: withdrawn in {gone:.2?}; connections reset {}, stalled {stalled}, segments retransmitted {retrans}, lost {lost}",
            reset.len()
        );
        println!("BGP-VM router after the drain: {}", router_drops());
        for f in after
            .flows
            .iter()
            .filter(|f| f.worst_wait_since(t0_ms) > 0)
            .take(10)
        {
            let slow: Vec<(i64, u64)> = f
                .slow
                .iter()
                .filter(|(at, _)| *at >= t0_ms)
                .map(|(at, w)| (*at as i64 - t0_ms as i64, *w))
                .collect();
            println!("BGP-VM   drain: port {} slow echoes {slow:?}", f.local_port);
        }
        assert!(
            reset.is_empty(),
            "a graceful drain reset connections: {reset:?}"
        );
        assert_eq!(stalled, 0);
        assert_eq!(lost, 0, "a graceful drain lost packets");
        ctl("d1", "undrain-director");
        wait_hops(&[1, 2, 3], Duration::from_secs(10));
        std::thread::sleep(Duration::from_secs(3));
        assert_eq!(flows().alive(), FLOWS, "connections lost on the undrain");

        // d2 killed, no BFD on its session: the router waits for the hold time (3 s).
        let (o, _) = kill_and_measure(2, &[1, 3], "d2 killed, no BFD (hold time 3 s)");
        assert_eq!(
            o.others_lost, 0,
            "connections on the survivors lost packets"
        );
        assert_eq!(o.others_alive, o.others);
        assert_eq!(
            o.victims_alive, o.victims,
            "the dead director's connections did not all continue"
        );
        // d3 killed, BFD on its session: the router withdraws within ~300 ms.
        let (o, took) = kill_and_measure(3, &[1], "d3 killed, BFD 100 ms x 3");
        assert_eq!(o.others_lost, 0, "connections on d1 lost packets");
        assert_eq!(o.others_alive, o.others);
        assert_eq!(
            o.victims_alive, o.victims,
            "d3's connections did not all continue on d1"
        );
        assert!(
            took < Duration::from_secs(2),
            "BFD withdrawal took {took:?}"
        );
        assert_eq!(flows().alive(), FLOWS);
    });
}

/// The console's screens (`screenshots/lab-bgp-*.png`): a console on d1 following d2 and d3
/// (`--peer`), all three announcing, then d1 drained and back. It runs before the timed
/// faults and is closed before them, so no console shares the guest's CPU while they run.
fn console_shots() {
    let peers: Vec<String> = (2..=3)
        .map(|i| format!("--peer d{i}={}", socket(&format!("d{i}")).display()))
        .collect();
    let command = format!(
        "{} --socket {} {}",
        lvsdeck_exe(),
        socket("d1").display(),
        peers.join(" ")
    );
    let tmux = Tmux::start("lvsdeck-bgp", 160, 48, &command);
    let screen = |what: &str, ok: &dyn Fn(&str) -> bool| {
        vm::wait_for(what, Duration::from_secs(20), || ok(&tmux.text()));
    };
    // The strip's rows: a director's BGP sessions, then what it announces.
    let announcing = |t: &str| {
        t.lines()
            .filter(|l| l.contains("BGP 1/1 up") && l.contains(&format!("announces {VIP}")))
            .count()
    };
    screen(
        "the console's strip with three directors announcing",
        &|t| announcing(t) == 3 && t.contains("BGP 1/1 up") && !t.contains("STALE"),
    );
    guest::save_screen(&tmux, "lab-bgp");
    ctl("d1", "drain-director");
    wait_hops(&[2, 3], Duration::from_secs(10));
    screen("d1 shown drained", &|t| {
        t.contains("BGP DRAINED") && announcing(t) == 2 && !t.contains("STALE")
    });
    guest::save_screen(&tmux, "lab-bgp-drained");
    ctl("d1", "undrain-director");
    wait_hops(&[1, 2, 3], Duration::from_secs(10));
    drop(tmux);
}

/// The comparison row: the same 300 connections through the seed's VRRP pair (`lvsdeck lab
/// --flows 300`: rr over the same web nodes, the kernel's sync daemons on), its master killed
/// the same way. Every connection is on the master, so every one waits for the backup's
/// Master_Down_Interval; the sync daemon is what lets them continue there.
#[test]
#[ignore = "runs in the guest, booted by bgp_in_the_guest"]
fn pair_master_kill_flows() {
    vm::guest_only("pair_master_kill_flows", || {
        roomy_backlog();
        let log = std::fs::File::create("/tmp/lab-pair.log").unwrap();
        let _lab = LabProcess(
            Command::new(lvsdeck_exe())
                .args([
                    "lab",
                    "--no-console",
                    "--rate",
                    "20",
                    "--flows",
                    &FLOWS.to_string(),
                ])
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap(),
        );
        let holds = |host: &str| {
            sh(&["ip", "-n", &ns(host), "addr", "show", "dev", "eth0"])
                .contains(&format!("{}/", lvsdeck::lab::VIP))
        };
        vm::wait_for(
            "lvs-master to hold the VIP",
            Duration::from_secs(90),
            || holds("lvs-master"),
        );
        vm::wait_for("300 connections up", Duration::from_secs(90), || {
            flows().alive() == FLOWS
        });
        let quiet_from = flows();
        std::thread::sleep(Duration::from_secs(3));
        let before = flows();
        let (r, l) = retransmitted(&quiet_from, &before);
        println!(
            "PAIR-VM before the kill: {r} segments retransmitted, {l} lost, in 3 s with no fault"
        );
        let pids: Vec<i32> = sh(&["ip", "netns", "pids", &ns("lvs-master")])
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect();
        let http_before = client().failed;
        let t0_ms = common::guest::now_ms();
        let t0 = Instant::now();
        // lvs-master is the lab's first host: switch port p0.
        kill_host(0, &pids);
        vm::wait_for(
            "lvs-backup to take the VIP",
            Duration::from_secs(30),
            || holds("lvs-backup"),
        );
        let took = t0.elapsed();
        std::thread::sleep(Duration::from_secs(8));
        let after = flows();
        let continued = after
            .flows
            .iter()
            .zip(&before.flows)
            .filter(|(a, b)| a.error.is_none() && a.echoed > b.echoed)
            .count();
        let mut stalls: Vec<u64> = after
            .flows
            .iter()
            .map(|f| f.worst_wait_since(t0_ms))
            .collect();
        stalls.sort_unstable();
        let (r, l) = retransmitted(&before, &after);
        println!(
            "PAIR-VM master killed: VIP on the backup after {took:.2?}; {FLOWS} connections, all on the master: {continued} continued, stall median {} ms, max {} ms; {r} segments retransmitted, {l} lost; new HTTP requests failed: {}",
            stalls[stalls.len() / 2],
            stalls[stalls.len() - 1],
            client().failed - http_before
        );
        assert!(continued > 0, "no connection continued on the backup");
    });
}
