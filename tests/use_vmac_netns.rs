//! `use_vmac` on the wire, against keepalived's own VMAC: lvsdeck and keepalived, each with
//! `use_vmac`, on one bridge with a client. The VIP answers ARP from 00:00:5e:00:01:VRID
//! whoever is master, the adverts and gratuitous ARPs leave from it, and the bridge learns it
//! only at the master's port (a backup's VMAC sends nothing).
//!
//! As with keepalived, the director's own replies from the VIP leave by the base interface
//! (its route to the LAN is the older one), whose ARP requests carry the base's MAC: a
//! client that talks to the director itself may learn that MAC for the VIP (keepalived on
//! the same topology does the same; `arp_announce` is the operator's to set).

mod support;

use std::time::Duration;

use lvsdeck::lab::netns::Topology;
use support::{TempDir, keepalived, lvsdeck_daemon, prerequisites, wait_until};

const VIP: &str = "10.79.0.100";
/// VRID 52 = 0x34.
const VMAC: &str = "00:00:5e:00:01:34";

fn lan(tag: &str) -> Topology {
    support::two_directors_and_a_client(tag, 79)
}

fn conf(priority: u8) -> String {
    format!(
        "global_defs {{\n    router_id t\n}}\nvrrp_instance VI_1 {{\n    state BACKUP\n    \
         interface eth0\n    use_vmac\n    virtual_router_id 52\n    priority {priority}\n    \
         advert_int 1\n    virtual_ipaddress {{\n        {VIP}/24\n    }}\n}}\n"
    )
}

fn out(topo: &Topology, host: &str, args: &[&str]) -> String {
    let o = topo
        .command(host, args[0])
        .args(&args[1..])
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Which bridge port (p0 = d1, p1 = d2) the switch learned the virtual MAC at.
fn learned_at(topo: &Topology) -> Option<String> {
    let o = std::process::Command::new("bridge")
        .args(["-n", &topo.switch_ns(), "fdb", "show", "br", "br0"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .find(|l| l.starts_with(VMAC))
        .and_then(|l| l.split_whitespace().nth(2).map(str::to_string))
}

fn vip_on_vmac(topo: &Topology, host: &str) -> bool {
    out(topo, host, &["ip", "-o", "addr", "show", "dev", "vrrp.52"]).contains(VIP)
}

fn ping(topo: &Topology) -> bool {
    topo.command("client", "ping")
        .args(["-c", "2", "-i", "0.2", "-W", "1", VIP])
        .output()
        .unwrap()
        .status
        .success()
}

/// tcpdump at the client for 6 s: the ARP packets `filter` picks, with their MACs.
fn arp_capture(topo: &Topology, filter: &str) -> std::process::Child {
    let child = topo
        .command("client", "timeout")
        .args(["6", "tcpdump", "-i", "eth0", "-e", "-n", "-l"])
        .arg(format!("arp and {filter}"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(700));
    child
}

/// The ARP replies the client gets when it pings the VIP with an empty neighbour table.
fn arp_replies_to_a_ping(topo: &Topology, log: &str) -> String {
    let replies = arp_capture(topo, "arp[6:2] == 2");
    out(topo, "client", &["ip", "neigh", "flush", "dev", "eth0"]);
    assert!(ping(topo), "client cannot reach the VIP\n{log}");
    let replies = replies.wait_with_output().unwrap();
    String::from_utf8_lossy(&replies.stdout).into_owned()
}

fn sysctl(topo: &Topology, host: &str, key: &str) -> String {
    out(topo, host, &["sysctl", "-n", key]).trim().to_string()
}

/// lvsdeck master (100), keepalived backup (90): the VIP on lvsdeck's VMAC, adverts from the
/// virtual MAC that keepalived hears; stopped, lvsdeck removes its VMAC and puts its settings
/// back, keepalived takes over and the client reaches the VIP at the same MAC.
#[test]
fn use_vmac_moves_the_vip_behind_one_virtual_mac() {
    if !prerequisites(
        "use_vmac",
        &[
            "ip",
            "sysctl",
            "bridge",
            "keepalived",
            "tcpdump",
            "nft",
            "ping",
            "timeout",
        ],
    ) {
        return;
    }
    let topo = lan("vm");
    let dir = TempDir::new("vm");
    let ka = keepalived(&topo, "d2", &conf(90), &dir);
    let c1 = dir.write("d1.conf", &conf(100));
    let garps = arp_capture(&topo, &format!("ether src {VMAC}"));
    let mut ours = lvsdeck_daemon(&topo, "d1", &c1, &dir);
    wait_until(Duration::from_secs(10), || {
        vip_on_vmac(&topo, "d1") && !vip_on_vmac(&topo, "d2")
    })
    .unwrap_or_else(|| {
        panic!(
            "lvsdeck never master on its VMAC\n{}\n{}",
            ours.log_text(),
            ka.log_text()
        )
    });
    let link = out(
        &topo,
        "d1",
        &["ip", "-d", "-o", "link", "show", "dev", "vrrp.52"],
    );
    assert!(
        link.contains(&format!("link/ether {VMAC}")) && link.contains("macvlan mode private"),
        "{link}"
    );
    assert_eq!(sysctl(&topo, "d1", "net.ipv4.conf.eth0.arp_ignore"), "1");
    assert_eq!(sysctl(&topo, "d1", "net.ipv4.conf.eth0.arp_filter"), "1");
    let garps = garps.wait_with_output().unwrap();
    let garps = String::from_utf8_lossy(&garps.stdout);
    assert!(
        garps.contains(&format!("{VMAC} > ff:ff:ff:ff:ff:ff")) && garps.contains(VIP),
        "no gratuitous ARP from the virtual MAC:\n{garps}\n{}",
        ours.log_text()
    );
    // The client asks for the VIP: only the VMAC answers (the base has arp_ignore=1).
    let replies = arp_replies_to_a_ping(&topo, &ours.log_text());
    let is_at: Vec<&str> = replies
        .lines()
        .filter(|l| l.contains(&format!("Reply {VIP}")))
        .collect();
    assert!(
        !is_at.is_empty() && is_at.iter().all(|l| l.contains(&format!("is-at {VMAC}"))),
        "ARP replies for the VIP:\n{replies}"
    );
    let dump = out(
        &topo,
        "client",
        &[
            "timeout", "5", "tcpdump", "-i", "eth0", "-e", "-n", "-c", "2", "proto", "112",
        ],
    );
    assert!(
        dump.lines().count() == 2
            && dump
                .lines()
                .all(|l| l.contains(&format!("{VMAC} > 01:00:5e:00:00:12"))
                    && l.contains("10.79.0.71 > 224.0.0.18: VRRPv2")),
        "adverts from the virtual MAC:\n{dump}"
    );
    // keepalived, backup, hears them on its own VMAC: it stays backup.
    std::thread::sleep(Duration::from_secs(4));
    assert!(!vip_on_vmac(&topo, "d2"), "{}", ka.log_text());
    assert_eq!(learned_at(&topo).as_deref(), Some("p0"));

    ours.signal(libc::SIGTERM);
    assert_eq!(
        ours.wait_exit(Duration::from_secs(5)),
        Some(0),
        "{}",
        ours.log_text()
    );
    wait_until(Duration::from_secs(5), || vip_on_vmac(&topo, "d2"))
        .unwrap_or_else(|| panic!("keepalived never took over\n{}", ka.log_text()));
    assert!(
        out(&topo, "d1", &["ip", "-o", "link"])
            .lines()
            .all(|l| !l.contains("vrrp.52")),
        "the VMAC outlived lvsdeck"
    );
    assert_eq!(sysctl(&topo, "d1", "net.ipv4.conf.eth0.arp_ignore"), "0");
    assert_eq!(sysctl(&topo, "d1", "net.ipv4.conf.eth0.arp_filter"), "0");
    assert!(!out(&topo, "d1", &["nft", "list", "tables"]).contains("lvsdeck_vmac"));
    // Same MAC, another port: the switch learns it from keepalived's GARP.
    // A ping sent before keepalived's first gratuitous ARP may go to the old port: this
    // test is about where the MAC ends up, not the length of the gap.
    let gap = wait_until(Duration::from_secs(3), || ping(&topo));
    println!("client reached the VIP again after {gap:?}");
    assert!(
        gap.is_some(),
        "client lost the VIP after the failover: {} / switch has it at {:?}\n{}",
        out(&topo, "client", &["ip", "neigh", "show", VIP]),
        learned_at(&topo),
        ka.log_text()
    );
    assert_eq!(learned_at(&topo).as_deref(), Some("p1"));
}

/// lvsdeck backup (90) beside keepalived's master (100): joining the VRRP group on its VMAC
/// sends no IGMP report from the virtual MAC (nft drops it, and counts it), so the switch
/// keeps sending the VIP's traffic to the master.
#[test]
fn a_backups_vmac_stays_silent() {
    if !prerequisites(
        "use_vmac backup",
        &["ip", "sysctl", "bridge", "keepalived", "nft", "ping"],
    ) {
        return;
    }
    let topo = lan("vb");
    let dir = TempDir::new("vb");
    let ka = keepalived(&topo, "d2", &conf(100), &dir);
    wait_until(Duration::from_secs(10), || vip_on_vmac(&topo, "d2"))
        .unwrap_or_else(|| panic!("keepalived never master\n{}", ka.log_text()));
    let c1 = dir.write("d1.conf", &conf(90));
    let ours = lvsdeck_daemon(&topo, "d1", &c1, &dir);
    wait_until(Duration::from_secs(5), || {
        out(&topo, "d1", &["ip", "-o", "link"]).contains("vrrp.52@eth0")
    })
    .unwrap_or_else(|| panic!("no VMAC at lvsdeck\n{}", ours.log_text()));
    std::thread::sleep(Duration::from_secs(3));
    assert!(!vip_on_vmac(&topo, "d1"), "{}", ours.log_text());
    assert!(ping(&topo), "the client lost the master");
    assert_eq!(
        learned_at(&topo).as_deref(),
        Some("p1"),
        "the switch learned the VMAC at the backup"
    );
    let rules = out(
        &topo,
        "d1",
        &["nft", "list", "table", "ip", "lvsdeck_vmac_vrrp_52"],
    );
    assert!(
        rules.contains("igmp counter packets") && !rules.contains("igmp counter packets 0 "),
        "no IGMP report held back from the VMAC:\n{rules}"
    );
}

/// `vmac_xmit_base`: the VIP is still on the VMAC (answering ARP from the virtual MAC), but
/// the adverts leave from the base interface with its own MAC (d1's is 02:..:71).
#[test]
fn vmac_xmit_base_sends_adverts_from_the_base_interface() {
    if !prerequisites(
        "vmac_xmit_base",
        &["ip", "sysctl", "nft", "tcpdump", "timeout"],
    ) {
        return;
    }
    let topo = lan("vx");
    let dir = TempDir::new("vx");
    let text = conf(100).replace("    use_vmac\n", "    use_vmac\n    vmac_xmit_base\n");
    let c1 = dir.write("d1.conf", &text);
    let ours = lvsdeck_daemon(&topo, "d1", &c1, &dir);
    wait_until(Duration::from_secs(10), || vip_on_vmac(&topo, "d1"))
        .unwrap_or_else(|| panic!("no VIP on the VMAC\n{}", ours.log_text()));
    let dump = out(
        &topo,
        "client",
        &[
            "timeout", "5", "tcpdump", "-i", "eth0", "-e", "-n", "-c", "2", "proto", "112",
        ],
    );
    let base_mac = out(&topo, "d1", &["cat", "/sys/class/net/eth0/address"]);
    assert!(
        dump.lines().count() == 2
            && dump
                .lines()
                .all(|l| l.contains(&format!("{} > 01:00:5e:00:00:12", base_mac.trim()))),
        "adverts from the base interface's MAC {}:\n{dump}",
        base_mac.trim()
    );
    let replies = arp_replies_to_a_ping(&topo, &ours.log_text());
    assert!(
        replies.contains(&format!("Reply {VIP} is-at {VMAC}")),
        "the VIP answered from the virtual MAC:\n{replies}"
    );
}
