//! `lvsdeck doctor` on the lab, run as an operator would: `lvsdeck lab --no-console --break
//! KIND` builds the seed's cluster with one thing wrong, and `lvsdeck doctor` on each director
//! must name the exact host and fix (and, on the healthy lab, find nothing). On this host the
//! kernel has no IPVS, so the one expected extra finding is `ipvs-missing`; the same scenarios
//! run in the qemu guest with the real IPVS (`doctor_with_real_ipvs`), where nothing else may
//! be found. The daemons run the same checks themselves; their report follows a fix.

mod common;

use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use common::support::{self, wait_until};
use common::vm;
use lvsdeck::doctor::{Finding, Report};
use lvsdeck::lab::{self, PREFIX, RUN_DIR};

/// One lab at a time: it has one set of namespaces and one run directory.
static LAB: Mutex<()> = Mutex::new(());

fn exe() -> &'static str {
    if vm::in_vm() {
        common::guest::lvsdeck_exe()
    } else {
        support::lvsdeck_bin()
    }
}

/// `lvsdeck lab --no-console [--break KIND]`, stopped (SIGINT, as Ctrl-C) on drop.
struct RunningLab(Child);

impl RunningLab {
    fn start(broken: Option<&str>) -> RunningLab {
        let _ = Command::new(exe()).args(["lab", "down"]).output();
        let mut cmd = Command::new(exe());
        cmd.args(["lab", "--no-console", "--rate", "5"]);
        if let Some(kind) = broken {
            cmd.args(["--break", kind]);
        }
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("lvsdeck lab");
        RunningLab(child)
    }
}

impl Drop for RunningLab {
    fn drop(&mut self) {
        // SAFETY: kill(2) on our own child.
        unsafe { libc::kill(self.0.id() as i32, libc::SIGINT) };
        let _ = wait_until(Duration::from_secs(15), || {
            self.0.try_wait().ok().flatten().is_some()
        });
        let _ = self.0.kill();
        let _ = self.0.wait();
        let _ = Command::new(exe()).args(["lab", "down"]).output();
    }
}

fn holds_vip(host: &str) -> bool {
    let out = Command::new("ip")
        .args([
            "-n",
            &format!("{PREFIX}-{host}"),
            "-br",
            "addr",
            "show",
            "dev",
            "eth0",
        ])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    out.split_whitespace()
        .any(|a| a.split('/').next() == Some(lab::VIP))
}

/// `lvsdeck doctor --json` on a director of the lab: its exit code and report.
fn doctor(host: &str) -> (i32, Report) {
    let conf = format!("{RUN_DIR}/{host}.toml");
    let out = Command::new("ip")
        .args(["netns", "exec", &format!("{PREFIX}-{host}")])
        .args([exe(), "doctor", "-c", &conf, "--json"])
        .output()
        .expect("lvsdeck doctor");
    let text = String::from_utf8_lossy(&out.stdout);
    let report: Report = serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!(
            "doctor on {host} printed no report ({e}):\n{text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), report)
}

/// The findings but the one this host's kernel explains.
fn findings(report: &Report) -> Vec<&Finding> {
    report
        .findings
        .iter()
        .filter(|f| lab::kernel_has_ipvs() || f.check != "ipvs-missing")
        .collect()
}

fn checks(report: &Report) -> Vec<&str> {
    findings(report).iter().map(|f| f.check.as_str()).collect()
}

fn one<'a>(report: &'a Report, check: &str) -> &'a Finding {
    let found: Vec<&Finding> = report
        .findings
        .iter()
        .filter(|f| f.check == check)
        .collect();
    assert_eq!(found.len(), 1, "one {check} finding expected: {report:#?}");
    found[0]
}

/// Start the lab broken one way and wait until it has settled: a master holds the VIP (and,
/// where the break makes two, both do) and both daemons answer.
fn settled_lab(broken: Option<&str>) -> RunningLab {
    let running = RunningLab::start(broken);
    let both = broken == Some("vrrp-firewall");
    let settled = wait_until(Duration::from_secs(30), || {
        let sockets = ["lvs-master", "lvs-backup"].iter().all(|d| {
            std::os::unix::net::UnixStream::connect(format!("{RUN_DIR}/{d}.sock")).is_ok()
        });
        let holders = ["lvs-master", "lvs-backup"]
            .iter()
            .filter(|d| holds_vip(d))
            .count();
        sockets && if both { holders == 2 } else { holders == 1 }
    });
    assert!(
        settled.is_some(),
        "the lab (break {broken:?}) did not settle in 30 s"
    );
    running
}

fn healthy() {
    let _lab = settled_lab(None);
    for host in ["lvs-master", "lvs-backup"] {
        let (code, report) = doctor(host);
        assert!(checks(&report).is_empty(), "{host}: {report:#?}");
        assert_eq!(code, if lab::kernel_has_ipvs() { 0 } else { 1 }, "{host}");
        assert!(
            report
                .passed
                .iter()
                .filter(|p| p.contains("takes connections for 10.10.10.100:80 (direct routing)"))
                .count()
                == 2,
            "{host}: both web nodes probed: {report:#?}"
        );
    }
}

/// A break on web-node2 that both directors see the same way: one finding, its host and fix.
fn one_real_server_finding(kind: &str, check: &str, host: &str, fix: &str) {
    let _lab = settled_lab(Some(kind));
    for director in ["lvs-master", "lvs-backup"] {
        let (code, report) = doctor(director);
        assert_eq!(code, 1);
        assert_eq!(checks(&report), [check], "{director}: {report:#?}");
        let f = one(&report, check);
        assert_eq!(f.host, host);
        assert!(f.fix.starts_with(fix), "{}", f.fix);
    }
}

fn arp_ignore() {
    one_real_server_finding(
        "arp-ignore",
        "rs-arp-leak",
        "real server 10.10.10.73 (02:77:00:00:00:73)",
        "on 10.10.10.73: sysctl -w net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2",
    );
}

fn no_vip_on_lo() {
    one_real_server_finding(
        "no-vip-on-lo",
        "rs-no-vip",
        "real server 10.10.10.73",
        "on 10.10.10.73: ip addr add 10.10.10.100/32 dev lo",
    );
}

fn vrrp_firewall() {
    let _lab = settled_lab(Some("vrrp-firewall"));
    // The director with the firewall: its rule, in nft's words, and the split brain it causes,
    // blamed on itself.
    let (_, report) = doctor("lvs-backup");
    let f = one(&report, "vrrp-firewall");
    assert_eq!(f.host, "this director");
    assert!(
        f.seen
            .contains("table inet lab_break, chain input, rule handle 2: `ip protocol vrrp drop`"),
        "{}",
        f.seen
    );
    assert!(
        f.fix
            .starts_with("nft delete rule inet lab_break input handle 2")
    );
    let split = one(&report, "split-brain");
    assert_eq!(split.host, "10.10.10.71 (02:77:00:00:00:71)");
    assert!(split.fix.starts_with("this director's firewall drops"));
    one(&report, "vip-claimed-twice");
    // The healthy director: two masters, the other one named.
    let (_, report) = doctor("lvs-master");
    assert!(!checks(&report).contains(&"vrrp-firewall"), "{report:#?}");
    let split = one(&report, "split-brain");
    assert_eq!(split.host, "10.10.10.70 (02:77:00:00:00:70)");
    assert!(split.fix.starts_with("10.10.10.70 does not hear"));
    let twice = one(&report, "vip-claimed-twice");
    assert!(twice.host.contains("director 10.10.10.70"));
}

/// The daemon's own doctor report (`status --json`), once it has one.
fn daemon_report(director: &str) -> Option<lvsdeck::engine::snapshot::Snapshot> {
    let out = Command::new(exe())
        .args([
            "status",
            "--json",
            "--socket",
            &format!("{RUN_DIR}/{director}.sock"),
        ])
        .output()
        .ok()?;
    serde_json::from_slice(&out.stdout).ok()
}

fn daemon_finds(director: &str, check: &str) -> Option<bool> {
    let snap = daemon_report(director)?;
    let report = snap.doctor?;
    Some(report.findings.iter().any(|f| f.check == check))
}

/// The daemons run the doctor by themselves (10 s after start): the finding reaches the
/// Snapshot (the console's badge and view) and the event log; fixed on the real server and
/// re-run on request (`ctl doctor`), it clears.
fn daemon_follows_a_fix() {
    let _lab = settled_lab(Some("arp-ignore"));
    let found = wait_until(Duration::from_secs(30), || {
        daemon_finds("lvs-master", "rs-arp-leak") == Some(true)
    });
    assert!(
        found.is_some(),
        "the daemon's doctor never reported the leak"
    );
    for key in ["all", "eth0"] {
        for (name, value) in [("arp_ignore", "1"), ("arp_announce", "2")] {
            let set = format!("net.ipv4.conf.{key}.{name}={value}");
            let ok = Command::new("ip")
                .args([
                    "netns",
                    "exec",
                    &format!("{PREFIX}-web-node2"),
                    "sysctl",
                    "-qw",
                    &set,
                ])
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "sysctl {set} on web-node2");
        }
    }
    let asked = Command::new(exe())
        .args([
            "--socket",
            &format!("{RUN_DIR}/lvs-master.sock"),
            "ctl",
            "doctor",
        ])
        .output()
        .expect("lvsdeck ctl doctor");
    assert!(asked.status.success(), "{asked:?}");
    let cleared = wait_until(Duration::from_secs(15), || {
        daemon_finds("lvs-master", "rs-arp-leak") == Some(false)
    });
    assert!(
        cleared.is_some(),
        "the leak stayed in the daemon's report after the fix"
    );
    let snap = daemon_report("lvs-master").expect("a snapshot");
    let events: Vec<&str> = snap
        .events
        .iter()
        .filter(|e| e.kind == "doctor" && e.subject == "rs-arp-leak")
        .map(|e| e.message.as_str())
        .collect();
    assert!(
        events
            .iter()
            .any(|m| m.contains("answered that 10.10.10.100 is at its MAC"))
            && events.iter().any(|m| m.ends_with("no longer found")),
        "{events:#?}"
    );
}

/// NAT and tunnelled real servers, probed from a director that holds the VIPs (here by hand:
/// no VRRP in the configuration). n1 (NAT) routes back through the director; n2 (NAT) routes
/// elsewhere; n3 (NAT) listens on nothing; with `tunnels`, t1 decapsulates IP-in-IP and holds
/// the VIP on tunl0, t2 does not.
fn nat_and_tunnels(tunnels: bool) {
    use lvsdeck::lab::netns::{HostSpec, Topology};
    let mut hosts = vec![
        HostSpec::new("d", 1, &["10.20.0.1/24", "10.21.0.1/24"]),
        HostSpec::new("n1", 11, &["10.21.0.11/24"]),
        HostSpec::new("n2", 12, &["10.21.0.12/24"]),
        HostSpec::new("n3", 13, &["10.21.0.13/24"]),
    ];
    if tunnels {
        hosts.push(HostSpec::new("t1", 21, &["10.21.0.21/24"]));
        hosts.push(HostSpec::new("t2", 22, &["10.21.0.22/24"]));
    }
    let topo = Topology::build(&support::prefix("dm"), hosts).expect("topology");
    topo.exec("d", &["ip", "addr", "add", "10.20.0.100/32", "dev", "eth0"])
        .unwrap();
    topo.sysctl("d", "net.ipv4.ip_forward", "1").unwrap();
    let route = |host: &str, via: &str| {
        topo.exec(host, &["ip", "route", "add", "default", "via", via])
            .unwrap();
    };
    route("n1", "10.21.0.1");
    route("n2", "10.21.0.254");
    route("n3", "10.21.0.1");
    let mut nodes = Vec::new();
    let mut listen = |host: &str| {
        let child = topo
            .command(host, exe())
            .args(["lab-node", "--name", host, "--listen", "0.0.0.0:80"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("lab-node");
        nodes.push(child);
    };
    listen("n1");
    listen("n2");
    let mut config =
        String::from("[[virtual_server]]\nip = \"10.20.0.100\"\nport = 80\nlvs_method = \"NAT\"\n");
    for n in ["11", "12", "13"] {
        config.push_str(&format!(
            "[[virtual_server.real_server]]\nip = \"10.21.0.{n}\"\nport = 80\n"
        ));
    }
    if tunnels {
        for t in ["t1", "t2"] {
            topo.exec(t, &["modprobe", "ipip"]).unwrap();
            topo.exec(t, &["ip", "link", "set", "tunl0", "up"]).unwrap();
            // As for DR: the VIP is on tunl0, never announced on the segment.
            for key in ["all", "tunl0"] {
                topo.sysctl(t, &format!("net.ipv4.conf.{key}.rp_filter"), "0")
                    .unwrap();
            }
            for key in ["all", "eth0"] {
                topo.sysctl(t, &format!("net.ipv4.conf.{key}.arp_ignore"), "1")
                    .unwrap();
                topo.sysctl(t, &format!("net.ipv4.conf.{key}.arp_announce"), "2")
                    .unwrap();
            }
            listen(t);
        }
        // A second VIP, so that the tunnelled service is its own.
        topo.exec("d", &["ip", "addr", "add", "10.20.0.101/32", "dev", "eth0"])
            .unwrap();
        topo.exec(
            "t1",
            &["ip", "addr", "add", "10.20.0.101/32", "dev", "tunl0"],
        )
        .unwrap();
        config.push_str(
            "[[virtual_server]]\nip = \"10.20.0.101\"\nport = 80\nlvs_method = \"TUN\"\n",
        );
        for n in ["21", "22"] {
            config.push_str(&format!(
                "[[virtual_server.real_server]]\nip = \"10.21.0.{n}\"\nport = 80\n"
            ));
        }
    }
    let dir = std::env::temp_dir().join(support::prefix("doctor-nat"));
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("nat.toml");
    std::fs::write(&conf, &config).unwrap();
    // The listeners are up once n1 answers.
    let up = wait_until(Duration::from_secs(10), || {
        topo.exec("d", &["bash", "-c", "exec 3<>/dev/tcp/10.21.0.11/80"])
            .is_ok()
    });
    assert!(up.is_some(), "n1's listener did not start");
    let out = topo
        .command("d", exe())
        .args(["doctor", "--json", "-c"])
        .arg(&conf)
        .output()
        .expect("lvsdeck doctor");
    for mut n in nodes {
        let _ = n.kill();
        let _ = n.wait();
    }
    let report: Report = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("no report ({e}): {}", String::from_utf8_lossy(&out.stderr)));
    let by_host = |host: &str| -> Vec<&str> {
        findings(&report)
            .iter()
            .filter(|f| f.host == host)
            .map(|f| f.check.as_str())
            .collect()
    };
    assert!(by_host("real server 10.21.0.11").is_empty(), "{report:#?}");
    assert!(
        report
            .passed
            .iter()
            .any(|p| p == "real server 10.21.0.11: takes connections for 10.20.0.100:80 (NAT)"),
        "{report:#?}"
    );
    assert_eq!(
        by_host("real server 10.21.0.12"),
        ["rs-nat-route"],
        "{report:#?}"
    );
    assert!(
        one(&report, "rs-nat-route")
            .fix
            .starts_with("on 10.21.0.12: ip route replace default via 10.21.0.1 ")
    );
    assert_eq!(
        by_host("real server 10.21.0.13"),
        ["rs-not-listening"],
        "{report:#?}"
    );
    if lab::kernel_has_ipvs() {
        // A namespace's defaults: redirects on, which a NAT director must turn off.
        assert!(
            by_host("this director").contains(&"send-redirects"),
            "{report:#?}"
        );
    }
    if tunnels {
        assert!(by_host("real server 10.21.0.21").is_empty(), "{report:#?}");
        assert_eq!(
            by_host("real server 10.21.0.22"),
            ["rs-tun-no-vip"],
            "{report:#?}"
        );
        assert!(
            one(&report, "rs-tun-no-vip")
                .fix
                .contains("ip addr add 10.20.0.101/32 dev tunl0")
        );
    }
}

fn nat_only() {
    nat_and_tunnels(false);
}

fn nat_and_tun() {
    nat_and_tunnels(true);
}

fn run(scenario: fn()) {
    if !support::prerequisites("doctor on the lab", &["ip", "nft", "sysctl"]) {
        return;
    }
    let _one = LAB.lock().unwrap_or_else(|p| p.into_inner());
    scenario();
}

#[test]
fn healthy_lab_has_no_finding() {
    run(healthy);
}

#[test]
fn real_server_answering_arp_for_the_vip() {
    run(arp_ignore);
}

#[test]
fn real_server_without_the_vip_on_lo() {
    run(no_vip_on_lo);
}

#[test]
fn director_firewall_dropping_vrrp() {
    run(vrrp_firewall);
}

#[test]
fn the_daemon_runs_the_doctor_and_follows_a_fix() {
    run(daemon_follows_a_fix);
}

#[test]
fn nat_real_servers_probed_through_the_director() {
    run(nat_only);
}

#[test]
fn doctor_with_real_ipvs() {
    vm::in_guest("doctor_with_real_ipvs", || {
        for scenario in [
            healthy,
            arp_ignore,
            no_vip_on_lo,
            vrrp_firewall,
            nat_and_tun,
        ] {
            run(scenario);
        }
    });
}
