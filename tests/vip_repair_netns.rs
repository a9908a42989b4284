//! VIP repair: `ip addr del` of the VIP on the master is undone at once from the kernel's
//! address notification (and logged), and a VIP added by hand on the backup is taken off.
//! Times are printed, not asserted tightly: they are measurements, not promises of a test.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use support::{TempDir, lvsdeck_daemon, prerequisites, two_directors_and_a_client, wait_until};

const VIP: &str = "10.88.0.100";

fn conf(priority: u8) -> String {
    format!(
        "vrrp_instance VI_1 {{\n    state BACKUP\n    interface eth0\n    virtual_router_id 88\n    \
         priority {priority}\n    advert_int 1\n    virtual_ipaddress {{\n        {VIP}/24\n    }}\n}}\n"
    )
}

fn ip(topo: &lvsdeck::lab::netns::Topology, host: &str, args: &str) {
    let mut cmd = Command::new("ip");
    cmd.args(["-n", &topo.ns(host)]);
    cmd.args(args.split_whitespace());
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "ip {args}: {out:?}");
}

fn events(dir: &TempDir, host: &str) -> String {
    let out = Command::new(support::lvsdeck_bin())
        .args([
            "--socket",
            dir.0.join(format!("{host}.sock")).to_str().unwrap(),
            "status",
            "--json",
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_vip_removed_from_the_master_comes_back_and_one_added_on_the_backup_goes() {
    if !prerequisites("VIP repair", &["ip"]) {
        return;
    }
    let topo = two_directors_and_a_client("vr", 88);
    let dir = TempDir::new("vr");
    let d1 = lvsdeck_daemon(&topo, "d1", &dir.write("d1.conf", &conf(150)), &dir);
    let d2 = lvsdeck_daemon(&topo, "d2", &dir.write("d2.conf", &conf(100)), &dir);
    wait_until(Duration::from_secs(8), || {
        topo.holds("d1", VIP) && !topo.holds("d2", VIP)
    })
    .unwrap_or_else(|| panic!("d1 master:\n{}", d1.log_text()));

    for round in 1..=3 {
        let t = Instant::now();
        ip(&topo, "d1", &format!("addr del {VIP}/24 dev eth0"));
        wait_until(Duration::from_secs(3), || topo.holds("d1", VIP))
            .unwrap_or_else(|| panic!("the VIP stayed away:\n{}", d1.log_text()));
        // Includes `ip`'s own start-up and the polling of `ip addr`.
        println!(
            "round {round}: VIP seen back on the master {:.1?} after `ip addr del` began",
            t.elapsed()
        );
    }
    let seen = events(&dir, "d1");
    assert_eq!(
        seen.matches("removed from eth0 by someone else: added again")
            .count(),
        3,
        "{seen}"
    );
    let snap: lvsdeck::engine::snapshot::Snapshot = serde_json::from_str(&seen).unwrap();
    assert_eq!(snap.vrrp[0].vip_repairs, 3, "counted");

    ip(&topo, "d2", &format!("addr add {VIP}/24 dev eth0"));
    wait_until(Duration::from_secs(3), || !topo.holds("d2", VIP))
        .unwrap_or_else(|| panic!("the backup kept the VIP:\n{}", d2.log_text()));
    let seen = events(&dir, "d2");
    assert!(
        seen.contains("appeared on eth0 while BACKUP: removed"),
        "{seen}"
    );
    // Through it all the master kept it.
    assert!(topo.holds("d1", VIP));
}
