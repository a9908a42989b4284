//! lvsdeck and Debian's keepalived in one VRRP group, both ways round, v2 and v3: the right
//! one wins, failover works in both directions, keepalived logs no complaint about our
//! packets, and tcpdump decodes our adverts as valid.

mod support;

use std::time::Duration;

use lvsdeck::lab::netns::{HostSpec, Topology};
use support::{Proc, TempDir, keepalived, lvsdeck_daemon, prerequisites, wait_until};

const VIP: &str = "10.77.0.100";

fn lan(tag: &str) -> Topology {
    Topology::build(
        &support::prefix(tag),
        vec![
            HostSpec::new("d1", 0x71, &["10.77.0.71/24"]),
            HostSpec::new("d2", 0x70, &["10.77.0.70/24"]),
        ],
    )
    .expect("topology")
}

fn keepalived_conf(version: u8, priority: u8) -> String {
    let (advert, auth) = if version == 2 {
        (
            "1",
            "    authentication {\n        auth_type PASS\n        auth_pass s3cr3t\n    }\n",
        )
    } else {
        ("0.1", "")
    };
    format!(
        "global_defs {{\n    router_id ka\n}}\nvrrp_instance VI_1 {{\n    version {version}\n    state BACKUP\n    \
         interface eth0\n    virtual_router_id 51\n    priority {priority}\n    advert_int {advert}\n{auth}    \
         virtual_ipaddress {{\n        {VIP}/24\n    }}\n}}\n"
    )
}

fn lvsdeck_conf(version: u8, priority: u8) -> String {
    let (advert, auth) = if version == 2 {
        ("1s", "auth_pass = \"s3cr3t\"\n")
    } else {
        ("100ms", "")
    };
    format!(
        "[vrrp_instance.VI_1]\nversion = {version}\ninterface = \"eth0\"\nvirtual_router_id = 51\n\
         priority = {priority}\nadvert_int = \"{advert}\"\n{auth}\
         virtual_ipaddress = [{{ address = \"{VIP}/24\" }}]\n"
    )
}

/// keepalived's complaints about received packets, as it words them.
fn complaints(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| {
            let l = l.to_lowercase();
            ["invalid", "bad ", "mismatch", "error", "checksum", "ttl"]
                .iter()
                .any(|w| l.contains(w))
        })
        .collect()
}

fn holder(topo: &Topology) -> (bool, bool) {
    (topo.holds("d1", VIP), topo.holds("d2", VIP))
}

fn expect_holder(topo: &Topology, want: (bool, bool), secs: u64, logs: &[&Proc]) {
    if wait_until(Duration::from_secs(secs), || holder(topo) == want).is_none() {
        let text: Vec<String> = logs
            .iter()
            .map(|p| format!("--- {} ---\n{}", p.name, p.log_text()))
            .collect();
        panic!(
            "VIP never held as {want:?} (now {:?})\n{}",
            holder(topo),
            text.join("\n")
        );
    }
}

/// lvsdeck (priority 100) on d1 is master over keepalived (90) on d2; kill lvsdeck and
/// keepalived takes over; start lvsdeck again and it preempts keepalived.
fn lvsdeck_master_keepalived_backup(version: u8, tag: &str) {
    let topo = lan(tag);
    let dir = TempDir::new(tag);
    let ka = keepalived(&topo, "d2", &keepalived_conf(version, 90), &dir);
    let c1 = dir.write("d1.toml", &lvsdeck_conf(version, 100));
    let mut ours = lvsdeck_daemon(&topo, "d1", &c1, &dir);
    expect_holder(&topo, (true, false), 8, &[&ours, &ka]);
    // tcpdump, on keepalived's side, reads our adverts.
    let dump = topo
        .command("d2", "tcpdump")
        .args([
            "-i",
            "eth0",
            "-n",
            "-vv",
            "-c",
            "2",
            "src",
            "10.77.0.71",
            "and",
            "proto",
            "112",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&dump.stdout);
    assert!(
        text.contains(&format!("VRRPv{version}, Advertisement, vrid 51, prio 100")),
        "tcpdump:\n{text}"
    );
    assert!(
        text.contains("ttl 255") && text.contains("tos 0xc0"),
        "tcpdump:\n{text}"
    );
    assert!(
        !text.to_lowercase().contains("bad"),
        "tcpdump flags our adverts:\n{text}"
    );
    ours.signal(libc::SIGKILL);
    ours.wait_exit(Duration::from_secs(2));
    // Its VIP guard takes the VIP off d1 when a backup can take over (no hand cleanup).
    wait_until(Duration::from_secs(6), || !topo.holds("d1", VIP))
        .expect("the killed daemon's VIP guard removes its VIP");
    expect_holder(&topo, (false, true), 6, &[&ka]);
    let ours = lvsdeck_daemon(&topo, "d1", &c1, &dir);
    expect_holder(&topo, (true, false), 8, &[&ours, &ka]);
    let log = ka.log_text();
    // keepalived heard and accepted our adverts: it stepped down to our priority.
    assert!(
        log.contains("received advert from 10.77.0.71 with higher priority 100"),
        "keepalived:\n{log}"
    );
    assert!(
        complaints(&log).is_empty(),
        "keepalived complains:\n{}",
        complaints(&log).join("\n")
    );
}

/// keepalived (priority 100) on d1 is master over lvsdeck (90) on d2; stop keepalived and
/// lvsdeck takes over; start keepalived again and it preempts lvsdeck.
fn keepalived_master_lvsdeck_backup(version: u8, tag: &str) {
    let topo = lan(tag);
    let dir = TempDir::new(tag);
    let c2 = dir.write("d2.toml", &lvsdeck_conf(version, 90));
    let ours = lvsdeck_daemon(&topo, "d2", &c2, &dir);
    let mut ka = keepalived(&topo, "d1", &keepalived_conf(version, 100), &dir);
    expect_holder(&topo, (true, false), 8, &[&ours, &ka]);
    ka.signal(libc::SIGTERM);
    ka.wait_exit(Duration::from_secs(5));
    expect_holder(&topo, (false, true), 6, &[&ours]);
    let ka = keepalived(&topo, "d1", &keepalived_conf(version, 100), &dir);
    expect_holder(&topo, (true, false), 8, &[&ours, &ka]);
    let log = ka.log_text();
    assert!(
        complaints(&log).is_empty(),
        "keepalived complains:\n{}",
        complaints(&log).join("\n")
    );
    assert!(
        !ours.log_text().contains("ERROR"),
        "lvsdeck:\n{}",
        ours.log_text()
    );
}

#[test]
fn v2_lvsdeck_master_keepalived_backup() {
    if prerequisites(
        "keepalived interop",
        &["ip", "sysctl", "keepalived", "tcpdump"],
    ) {
        lvsdeck_master_keepalived_backup(2, "k2a");
    }
}

#[test]
fn v2_keepalived_master_lvsdeck_backup() {
    if prerequisites("keepalived interop", &["ip", "sysctl", "keepalived"]) {
        keepalived_master_lvsdeck_backup(2, "k2b");
    }
}

#[test]
fn v3_lvsdeck_master_keepalived_backup() {
    if prerequisites(
        "keepalived interop",
        &["ip", "sysctl", "keepalived", "tcpdump"],
    ) {
        lvsdeck_master_keepalived_backup(3, "k3a");
    }
}

#[test]
fn v3_keepalived_master_lvsdeck_backup() {
    if prerequisites("keepalived interop", &["ip", "sysctl", "keepalived"]) {
        keepalived_master_lvsdeck_backup(3, "k3b");
    }
}
