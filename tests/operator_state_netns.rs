//! A priority override survives a crash and is in force before the instance starts: an
//! address owner (priority 255) that an operator demoted to 50, killed and restarted, does
//! not take the VIP back from its peer at start.

mod support;

use std::process::Command;
use std::time::Duration;

use support::{TempDir, lvsdeck_daemon, prerequisites, two_directors_and_a_client, wait_until};

const VIP: &str = "10.91.0.100";

fn conf(priority: u8) -> String {
    format!(
        "vrrp_instance VI_1 {{\n    state BACKUP\n    interface eth0\n    virtual_router_id 91\n    \
         priority {priority}\n    advert_int 1\n    virtual_ipaddress {{\n        {VIP}/24\n    }}\n}}\n"
    )
}

fn lvsdeck(dir: &TempDir, host: &str, args: &[&str]) -> String {
    let out = Command::new(support::lvsdeck_bin())
        .args([
            "--socket",
            dir.0.join(format!("{host}.sock")).to_str().unwrap(),
        ])
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_demoted_owner_restarts_demoted() {
    if !prerequisites("operator state", &["ip"]) {
        return;
    }
    let topo = two_directors_and_a_client("os", 91);
    let dir = TempDir::new("os");
    let c1 = dir.write("d1.conf", &conf(255));
    let mut d1 = lvsdeck_daemon(&topo, "d1", &c1, &dir);
    let _d2 = lvsdeck_daemon(&topo, "d2", &dir.write("d2.conf", &conf(100)), &dir);
    wait_until(Duration::from_secs(8), || {
        topo.holds("d1", VIP) && !topo.holds("d2", VIP)
    })
    .unwrap_or_else(|| panic!("the owner is master:\n{}", d1.log_text()));
    lvsdeck(&dir, "d1", &["ctl", "priority", "VI_1", "50"]);
    wait_until(Duration::from_secs(5), || {
        topo.holds("d2", VIP) && !topo.holds("d1", VIP)
    })
    .expect("the peer takes over from the demoted owner");
    let saved = std::fs::read_to_string(dir.0.join("d1.sock.state.json")).unwrap();
    assert!(saved.contains("\"instance\": \"VI_1\""), "{saved}");

    d1.signal(libc::SIGKILL);
    d1.wait_exit(Duration::from_secs(5)).expect("killed");
    let d1 = lvsdeck_daemon(&topo, "d1", &c1, &dir);
    wait_until(Duration::from_secs(5), || {
        dir.0.join("d1.sock").exists()
            && Command::new(support::lvsdeck_bin())
                .args([
                    "--socket",
                    dir.0.join("d1.sock").to_str().unwrap(),
                    "status",
                ])
                .output()
                .is_ok_and(|o| o.status.success())
    })
    .expect("d1 answers again");
    // Three seconds: an owner would have been master at once.
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        topo.holds("d2", VIP) && !topo.holds("d1", VIP),
        "the restarted owner took the VIP back:\n{}",
        d1.log_text()
    );
    let status = lvsdeck(&dir, "d1", &["status"]);
    assert!(status.contains("BACKUP"), "{status}");
    assert!(
        d1.log_text().contains("1 priority override(s)"),
        "{}",
        d1.log_text()
    );
}
