//! A vrrp_instance's `track_file`, from keepalived.conf as operators write it: the file's
//! value times its weight moves the master's priority (and the VIP with it) the moment the
//! file changes, a weight-0 file puts the instance in FAULT while it holds a non-zero value,
//! and `init_file` creates the file at start.

mod support;

use std::time::Duration;

use support::{TempDir, lvsdeck_daemon, prerequisites, two_directors_and_a_client, wait_until};

const VIP: &str = "10.84.0.100";

fn conf(priority: u8, dir: &std::path::Path, host: &str) -> String {
    let d = dir.display();
    format!(
        "track_file prio_{host} {{\n    file {d}/{host}.prio\n    weight -20\n    init_file 0\n}}\n\
         vrrp_track_file maint_{host} {{\n    file {d}/{host}.maint\n    weight 0\n}}\n\
         vrrp_instance VI_1 {{\n    state BACKUP\n    interface eth0\n    virtual_router_id 71\n    \
         priority {priority}\n    advert_int 1\n    track_file {{\n        prio_{host}\n        \
         maint_{host}\n    }}\n    virtual_ipaddress {{\n        {VIP}/24\n    }}\n}}\n"
    )
}

fn status(dir: &TempDir, host: &str) -> String {
    let out = std::process::Command::new(support::lvsdeck_bin())
        .args([
            "--socket",
            dir.0.join(format!("{host}.sock")).to_str().unwrap(),
            "status",
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_track_file_moves_the_priority_and_a_weight_zero_file_faults() {
    if !prerequisites("track_file", &["ip", "sysctl"]) {
        return;
    }
    let topo = two_directors_and_a_client("tf", 84);
    let dir = TempDir::new("tf");
    let d1 = lvsdeck_daemon(
        &topo,
        "d1",
        &dir.write("d1.conf", &conf(100, &dir.0, "d1")),
        &dir,
    );
    let _d2 = lvsdeck_daemon(
        &topo,
        "d2",
        &dir.write("d2.conf", &conf(90, &dir.0, "d2")),
        &dir,
    );
    let prio = dir.0.join("d1.prio");
    wait_until(Duration::from_secs(8), || {
        topo.holds("d1", VIP) && !topo.holds("d2", VIP)
    })
    .unwrap_or_else(|| panic!("d1 master:\n{}", d1.log_text()));
    assert_eq!(
        std::fs::read_to_string(&prio).unwrap(),
        "0\n",
        "init_file wrote it"
    );
    // 1 × -20: 80 < 90, and d2 preempts at its next advert.
    std::fs::write(&prio, "1\n").unwrap();
    wait_until(Duration::from_secs(5), || {
        topo.holds("d2", VIP) && !topo.holds("d1", VIP)
    })
    .unwrap_or_else(|| panic!("no failover after the file changed:\n{}", d1.log_text()));
    let text = status(&dir, "d1");
    assert!(text.contains("BACKUP  priority 80 (base 100)"), "{text}");
    // Back to 0 through a rename, as a script writes it: d1 preempts again.
    std::fs::write(dir.0.join("tmp"), "0").unwrap();
    std::fs::rename(dir.0.join("tmp"), &prio).unwrap();
    wait_until(Duration::from_secs(5), || {
        topo.holds("d1", VIP) && !topo.holds("d2", VIP)
    })
    .unwrap_or_else(|| panic!("d1 not back:\n{}", d1.log_text()));
    // The maintenance file, weight 0: any non-zero value is FAULT.
    std::fs::write(dir.0.join("d1.maint"), "1").unwrap();
    wait_until(Duration::from_secs(5), || {
        topo.holds("d2", VIP) && !topo.holds("d1", VIP)
    })
    .unwrap_or_else(|| panic!("no fault from the maintenance file:\n{}", d1.log_text()));
    let text = status(&dir, "d1");
    assert!(text.contains("FAULT"), "{text}");
    std::fs::remove_file(dir.0.join("d1.maint")).unwrap();
    wait_until(Duration::from_secs(6), || {
        topo.holds("d1", VIP) && !topo.holds("d2", VIP)
    })
    .unwrap_or_else(|| panic!("d1 not back after the fault:\n{}", d1.log_text()));
}
