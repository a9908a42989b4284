//! A reload of a changed VRRP instance is not a failover: on the master, a new VIP, a lower
//! priority (still the highest) and a shorter advert interval apply in place, while a client
//! pings the VIP every 10 ms: no transition, no ping lost, the new VIP answered at once.

mod support;

use std::process::{Command, Stdio};
use std::time::Duration;

use lvsdeck::engine::snapshot::Snapshot;
use support::{
    TempDir, lvsdeck_daemon, ping_counts, prerequisites, two_directors_and_a_client, wait_until,
};

const VIP: &str = "10.89.0.100";
const VIP2: &str = "10.89.0.101";

fn conf(priority: u8, advert: &str, vips: &[&str]) -> String {
    let vips: String = vips.iter().map(|v| format!("        {v}/24\n")).collect();
    format!(
        "vrrp_instance VI_1 {{\n    version 3\n    state BACKUP\n    interface eth0\n    \
         virtual_router_id 89\n    priority {priority}\n    advert_int {advert}\n    \
         virtual_ipaddress {{\n{vips}    }}\n}}\n"
    )
}

/// `count` pings of `vip` from the client, every 10 ms, under way when this returns.
fn pings(topo: &lvsdeck::lab::netns::Topology, vip: &str, count: u32) -> std::process::Child {
    Command::new("ip")
        .args([
            "netns",
            "exec",
            &topo.ns("client"),
            "ping",
            "-n",
            "-i",
            "0.01",
        ])
        .args(["-c", &count.to_string(), "-W", "1", vip])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap()
}

/// `lvsdeck ctl reload` on `host`: success and what it said.
fn reload(dir: &TempDir, host: &str) -> (bool, String) {
    let out = Command::new(support::lvsdeck_bin())
        .args([
            "--socket",
            dir.0.join(format!("{host}.sock")).to_str().unwrap(),
        ])
        .args(["ctl", "reload"])
        .output()
        .unwrap();
    let said =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), said)
}

fn snapshot(dir: &TempDir, host: &str) -> Snapshot {
    let out = Command::new(support::lvsdeck_bin())
        .args([
            "--socket",
            dir.0.join(format!("{host}.sock")).to_str().unwrap(),
        ])
        .args(["status", "--json"])
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn a_reload_on_the_master_changes_it_in_place_without_losing_a_ping() {
    if !prerequisites("reload in place", &["ip", "ping"]) {
        return;
    }
    let topo = two_directors_and_a_client("ri", 89);
    let dir = TempDir::new("ri");
    let c1 = dir.write("d1.conf", &conf(150, "1", &[VIP]));
    let d1 = lvsdeck_daemon(&topo, "d1", &c1, &dir);
    let _d2 = lvsdeck_daemon(
        &topo,
        "d2",
        &dir.write("d2.conf", &conf(100, "1", &[VIP])),
        &dir,
    );
    wait_until(Duration::from_secs(8), || {
        topo.holds("d1", VIP) && !topo.holds("d2", VIP)
    })
    .unwrap_or_else(|| panic!("d1 master:\n{}", d1.log_text()));
    let before = snapshot(&dir, "d1").vrrp[0].clone();

    // 6 s of pings every 10 ms, the reload in the middle.
    let ping = pings(&topo, VIP, 600);
    std::thread::sleep(Duration::from_secs(2));
    std::fs::write(&c1, conf(140, "0.5", &[VIP, VIP2])).unwrap();
    let (ok, said) = reload(&dir, "d1");
    assert!(ok, "{said}");
    assert!(
        said.contains(
            "VI_1: priority 150 -> 140, advert_int 1s -> 500ms, +VIP 10.89.0.101/24, in place"
        ),
        "{said}"
    );
    let t = wait_until(Duration::from_secs(2), || topo.holds("d1", VIP2))
        .expect("the new VIP on the master");
    println!("new VIP on the master {t:.1?} after the reload answered");
    let out = ping.wait_with_output().unwrap();
    let (sent, received) = ping_counts(&String::from_utf8_lossy(&out.stdout));
    println!("pings through the reload: {received} of {sent}");
    assert_eq!((sent, received), (600, 600));

    let after = snapshot(&dir, "d1").vrrp[0].clone();
    assert_eq!(after.state, "MASTER");
    assert_eq!(after.became_master, before.became_master, "no transition");
    assert_eq!(after.last_transition, before.last_transition);
    assert!(!topo.holds("d2", VIP) && !topo.holds("d2", VIP2));
    // The backup learned the new interval (v3) and stays backup through it.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(snapshot(&dir, "d2").vrrp[0].state, "BACKUP");

    // A reload naming an interface this host lacks is refused whole: nothing changes.
    let broken = conf(130, "0.5", &[VIP, VIP2])
        + &conf(100, "1", &["10.89.0.102"])
            .replace("VI_1", "VI_2")
            .replace("eth0", "nosuch0")
            .replace("virtual_router_id 89", "virtual_router_id 90");
    std::fs::write(&c1, broken).unwrap();
    let (ok, said) = reload(&dir, "d1");
    assert!(!ok && said.contains("nosuch0"), "{said}");
    let kept = snapshot(&dir, "d1");
    assert_eq!(kept.vrrp.len(), 1);
    assert_eq!(
        kept.vrrp[0].base_priority, 140,
        "the running configuration stays"
    );
}

/// A VRID cannot change in place: the master hands its VIP to the peer first (priority-0
/// adverts, the VIP kept until the peer holds it), then restarts with the new VRID.
#[test]
fn a_reload_that_restarts_the_master_hands_over_first() {
    if !prerequisites("reload with a restart", &["ip", "ping"]) {
        return;
    }
    let topo = two_directors_and_a_client("rh", 90);
    let dir = TempDir::new("rh");
    let vip = "10.90.0.100";
    let conf = |vrid: u8, priority: u8| {
        conf(priority, "1", &[vip])
            .replace("virtual_router_id 89", &format!("virtual_router_id {vrid}"))
    };
    let c1 = dir.write("d1.conf", &conf(90, 150));
    let d1 = lvsdeck_daemon(&topo, "d1", &c1, &dir);
    let _d2 = lvsdeck_daemon(&topo, "d2", &dir.write("d2.conf", &conf(90, 100)), &dir);
    wait_until(Duration::from_secs(8), || {
        topo.holds("d1", vip) && !topo.holds("d2", vip)
    })
    .unwrap_or_else(|| panic!("d1 master:\n{}", d1.log_text()));
    let ping = pings(&topo, vip, 300);
    std::thread::sleep(Duration::from_secs(1));
    std::fs::write(&c1, conf(91, 150)).unwrap();
    let (ok, said) = reload(&dir, "d1");
    assert!(
        ok && said.contains("VI_1: restarted with new settings"),
        "{said}"
    );
    assert!(
        topo.holds("d2", vip),
        "the peer holds the VIP when the reload answers"
    );
    let out = ping.wait_with_output().unwrap();
    let (sent, received) = ping_counts(&String::from_utf8_lossy(&out.stdout));
    println!("pings through the hand-over and restart: {received} of {sent}");
    assert_eq!((sent, received), (300, 300));
    let log = d1.log_text();
    assert!(log.contains("handing over before its restart"), "{log}");
}
