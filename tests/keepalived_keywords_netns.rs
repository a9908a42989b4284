//! keepalived.conf keywords with an effect on the wire or the process, checked where they act:
//! `vrrp_mcast_group4` against keepalived itself (both on the same non-standard group),
//! `vrrp_garp_interval` on the client's side of the wire, `vrrp_no_swap` in the kernel's view
//! of the daemon. lvsdeck reads the same keepalived.conf text keepalived does.

mod support;

use std::time::{Duration, Instant};

use lvsdeck::lab::netns::Topology;
use support::{TempDir, keepalived, lvsdeck_daemon, prerequisites, wait_until};

const VIP: &str = "10.78.0.100";

fn lan(tag: &str) -> Topology {
    support::two_directors_and_a_client(tag, 78)
}

/// A keepalived.conf: `global` lines in global_defs, one VRRPv2 instance at `priority`.
fn conf(global: &str, priority: u8, state: &str) -> String {
    format!(
        "global_defs {{\n    router_id t\n{global}}}\nvrrp_instance VI_1 {{\n    state {state}\n    \
         interface eth0\n    virtual_router_id 52\n    priority {priority}\n    advert_int 1\n    \
         virtual_ipaddress {{\n        {VIP}/24\n    }}\n}}\n"
    )
}

/// lvsdeck (100) and keepalived (90) both on 224.0.0.19: lvsdeck's adverts go there, and
/// keepalived hears them (it stays backup); killed, keepalived takes the VIP over.
#[test]
fn vrrp_mcast_group4_puts_adverts_on_the_group_keepalived_listens_to() {
    if !prerequisites(
        "vrrp_mcast_group4",
        &["ip", "sysctl", "keepalived", "tcpdump"],
    ) {
        return;
    }
    let group = "    vrrp_mcast_group4 224.0.0.19\n";
    let topo = lan("mg");
    let dir = TempDir::new("mg");
    let ka = keepalived(&topo, "d2", &conf(group, 90, "BACKUP"), &dir);
    let c1 = dir.write("d1.conf", &conf(group, 100, "BACKUP"));
    let mut ours = lvsdeck_daemon(&topo, "d1", &c1, &dir);
    let holder = || (topo.holds("d1", VIP), topo.holds("d2", VIP));
    wait_until(Duration::from_secs(10), || holder() == (true, false)).unwrap_or_else(|| {
        panic!(
            "lvsdeck never the only master: {:?}\n{}\n{}",
            holder(),
            ours.log_text(),
            ka.log_text()
        )
    });
    // Stable: keepalived hears us on that group (else it would take over within 3.6 s).
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(holder(), (true, false), "{}", ka.log_text());
    let dump = topo
        .command("client", "timeout")
        .args([
            "5", "tcpdump", "-i", "eth0", "-n", "-c", "2", "proto", "112",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&dump.stdout);
    assert!(
        text.lines().count() == 2
            && text
                .lines()
                .all(|l| l.contains("10.78.0.71 > 224.0.0.19: VRRPv2")),
        "adverts on 224.0.0.19:\n{text}"
    );
    ours.signal(libc::SIGKILL);
    ours.wait_exit(Duration::from_secs(2));
    // Its VIP guard takes the VIP off d1 when a backup can take over (no hand cleanup).
    wait_until(Duration::from_secs(6), || !topo.holds("d1", VIP))
        .expect("the killed daemon's VIP guard removes its VIP");
    wait_until(Duration::from_secs(6), || holder() == (false, true))
        .unwrap_or_else(|| panic!("keepalived never took over\n{}", ka.log_text()));
}

/// `vrrp_garp_interval 0.2` with three gratuitous ARPs on becoming master: the client sees
/// them 200 ms apart (back to back without it).
#[test]
fn vrrp_garp_interval_spaces_the_gratuitous_arps() {
    if !prerequisites(
        "vrrp_garp_interval",
        &["ip", "sysctl", "tcpdump", "timeout"],
    ) {
        return;
    }
    let topo = lan("gi");
    let dir = TempDir::new("gi");
    let global = "    vrrp_garp_interval 0.2\n    vrrp_garp_master_repeat 3\n";
    let c1 = dir.write("d1.conf", &conf(global, 100, "MASTER"));
    let capture = topo
        .command("client", "timeout")
        .args([
            "15", "tcpdump", "-i", "eth0", "-n", "-tt", "-c", "3", "arp", "and", "src", "host", VIP,
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let start = Instant::now();
    let d1 = lvsdeck_daemon(&topo, "d1", &c1, &dir);
    let out = capture.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let times: Vec<f64> = text
        .lines()
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .collect();
    assert_eq!(
        times.len(),
        3,
        "three gratuitous ARPs in {:?}:\n{text}\n{}",
        start.elapsed(),
        d1.log_text()
    );
    for pair in times.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(
            (0.18..0.6).contains(&gap),
            "gratuitous ARPs {gap:.3} s apart, not ~0.2 s:\n{text}"
        );
    }
}

/// `vrrp_no_swap`: the daemon's memory is locked (the kernel counts it in VmLck).
#[test]
fn vrrp_no_swap_locks_the_daemons_memory() {
    if !prerequisites("vrrp_no_swap", &["ip", "sysctl"]) {
        return;
    }
    let topo = lan("ns");
    let dir = TempDir::new("ns");
    let c1 = dir.write("d1.conf", &conf("    vrrp_no_swap\n", 100, "BACKUP"));
    let d1 = lvsdeck_daemon(&topo, "d1", &c1, &dir);
    let locked_kb = || -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", d1.child.id())).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmLck:"))?;
        line.split_whitespace().nth(1)?.parse().ok()
    };
    wait_until(Duration::from_secs(5), || {
        locked_kb().is_some_and(|kb| kb > 0)
    })
    .unwrap_or_else(|| {
        panic!(
            "VmLck {:?} kB for lvsdeck with vrrp_no_swap\n{}",
            locked_kb(),
            d1.log_text()
        )
    });
}
