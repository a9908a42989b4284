//! `auth_type AH` against Debian's keepalived on the wire: the same keepalived.conf text on
//! both directors. With the same password each hears the other (the lower priority stays
//! backup), and a restarted lvsdeck, whose sequence numbers start again, is heard again
//! once it has followed keepalived's; with another password neither hears the other.

mod support;

use std::time::Duration;

use lvsdeck::lab::netns::Topology;
use support::{TempDir, keepalived, lvsdeck_daemon, prerequisites, wait_until};

const VIP: &str = "10.81.0.100";

fn lan(tag: &str) -> Topology {
    support::two_directors_and_a_client(tag, 81)
}

fn conf(priority: u8, pass: &str) -> String {
    format!(
        "vrrp_instance VI_1 {{\n    state BACKUP\n    interface eth0\n    virtual_router_id 53\n    \
         priority {priority}\n    advert_int 1\n    authentication {{\n        auth_type AH\n        \
         auth_pass {pass}\n    }}\n    virtual_ipaddress {{\n        {VIP}/24\n    }}\n}}\n"
    )
}

#[test]
fn ah_adverts_are_heard_by_keepalived_and_heard_from_it() {
    if !prerequisites(
        "auth_type AH",
        &["ip", "sysctl", "keepalived", "tcpdump", "timeout"],
    ) {
        return;
    }
    let topo = lan("ah");
    let dir = TempDir::new("ah");
    let ka = keepalived(&topo, "d2", &conf(90, "s3cr3t-ah"), &dir);
    wait_until(Duration::from_secs(8), || topo.holds("d2", VIP))
        .unwrap_or_else(|| panic!("keepalived never master alone\n{}", ka.log_text()));
    let c1 = dir.write("d1.conf", &conf(100, "s3cr3t-ah"));
    let mut ours = lvsdeck_daemon(&topo, "d1", &c1, &dir);
    let holder = || (topo.holds("d1", VIP), topo.holds("d2", VIP));
    // lvsdeck takes keepalived's sequence numbers over, preempts, and keepalived hears it.
    wait_until(Duration::from_secs(10), || holder() == (true, false)).unwrap_or_else(|| {
        panic!(
            "lvsdeck never the only master: {:?}\n{}\n{}",
            holder(),
            ours.log_text(),
            ka.log_text()
        )
    });
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(
        holder(),
        (true, false),
        "keepalived stopped hearing lvsdeck\n{}",
        ka.log_text()
    );
    let dump = topo
        .command("client", "timeout")
        .args([
            "5",
            "tcpdump",
            "-i",
            "eth0",
            "-n",
            "-v",
            "-c",
            "2",
            "ip proto 51",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&dump.stdout);
    // The SPI is the sender's address, 10.81.0.71.
    assert!(
        text.matches("spi=0x0a510047,seq=").count() == 2
            && text.contains("vrid 53, prio 100, authtype ah"),
        "lvsdeck's AH adverts as tcpdump reads them:\n{text}"
    );
    assert!(
        !ka.log_text().contains("IPSEC"),
        "keepalived complained:\n{}",
        ka.log_text()
    );

    // Restarted, lvsdeck counts from 1 again: keepalived takes over meanwhile, and lvsdeck,
    // hearing its higher numbers, follows them and is master again.
    ours.signal(libc::SIGKILL);
    ours.wait_exit(Duration::from_secs(2));
    // Its VIP guard takes the VIP off d1 when a backup can take over (no hand cleanup).
    wait_until(Duration::from_secs(6), || !topo.holds("d1", VIP))
        .expect("the killed daemon's VIP guard removes its VIP");
    wait_until(Duration::from_secs(6), || holder() == (false, true))
        .unwrap_or_else(|| panic!("keepalived never took over\n{}", ka.log_text()));
    let again = lvsdeck_daemon(&topo, "d1", &c1, &dir);
    wait_until(Duration::from_secs(10), || holder() == (true, false)).unwrap_or_else(|| {
        panic!(
            "restarted lvsdeck never master again: {:?}\n{}\n{}",
            holder(),
            again.log_text(),
            ka.log_text()
        )
    });
}

#[test]
fn another_ah_password_is_not_heard_either_way() {
    if !prerequisites("auth_type AH mismatch", &["ip", "sysctl", "keepalived"]) {
        return;
    }
    let topo = lan("am");
    let dir = TempDir::new("am");
    let ka = keepalived(&topo, "d2", &conf(100, "right"), &dir);
    let c1 = dir.write("d1.conf", &conf(90, "wrong"));
    let ours = lvsdeck_daemon(&topo, "d1", &c1, &dir);
    // Each drops the other's adverts (ICV): both end up master.
    wait_until(Duration::from_secs(10), || {
        topo.holds("d1", VIP) && topo.holds("d2", VIP)
    })
    .unwrap_or_else(|| panic!("not both master\n{}\n{}", ours.log_text(), ka.log_text()));
    assert!(
        ka.log_text().contains("invalid IPSEC HMAC-MD5"),
        "keepalived took lvsdeck's adverts:\n{}",
        ka.log_text()
    );
}
