//! `lvsdeck lab` on this machine: it starts the seed's cluster, says plainly when the kernel
//! has no IPVS, shows VRRP and health, refuses a second lab, and leaves nothing behind.

mod support;

use std::process::{Command, Stdio};
use std::time::Duration;

use lvsdeck::lab::netns::namespaces;
use support::{lvsdeck_bin, prerequisites, wait_until};

#[test]
fn the_lab_runs_refuses_a_second_one_and_tears_down() {
    if !prerequisites("lvsdeck lab", &["ip", "sysctl", "nft"]) {
        return;
    }
    let _ = Command::new(lvsdeck_bin()).args(["lab", "down"]).output();
    let log = std::env::temp_dir().join(format!("lvsdeck-lab-{}.log", std::process::id()));
    let mut lab = Command::new(lvsdeck_bin())
        .args(["lab", "--no-console"])
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(std::fs::File::create(log.with_extension("err")).unwrap())
        .spawn()
        .unwrap();
    let master = std::path::Path::new("/run/lvsdeck/lab/lvs-master.sock");
    let status = || {
        Command::new(lvsdeck_bin())
            .args(["--socket", master.to_str().unwrap(), "status"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    };
    // VRRP elects the master, and the health checks find both web nodes up.
    let snapshot = || {
        Command::new(lvsdeck_bin())
            .args(["--socket", master.to_str().unwrap(), "status", "--json"])
            .output()
            .ok()
            .and_then(|o| {
                serde_json::from_slice::<lvsdeck::engine::snapshot::Snapshot>(&o.stdout).ok()
            })
    };
    let took = wait_until(Duration::from_secs(30), || {
        snapshot().is_some_and(|s| {
            let master = s.vrrp.iter().any(|v| v.state == "MASTER");
            let checked_up = s
                .ipvs
                .services
                .iter()
                .flat_map(|v| &v.reals)
                .filter(|r| r.health == "up" && r.last_check.as_ref().is_some_and(|c| c.ok))
                .count();
            master && checked_up == 2
        })
    })
    .unwrap_or_else(|| {
        panic!(
            "the lab never showed a master with two checked, healthy web nodes:\n{}",
            status()
        )
    });
    eprintln!(
        "lab up with a master and two healthy web nodes after {took:?}:\n{}",
        status()
    );
    if !std::path::Path::new("/proc/net/ip_vs").exists() {
        let err = std::fs::read_to_string(log.with_extension("err")).unwrap();
        assert!(
            err.contains("this kernel has no IPVS"),
            "no plain word about IPVS:\n{err}"
        );
        assert!(status().contains("IPVS: IPVS is not available"));
    }
    // One lab at a time.
    let second = Command::new(lvsdeck_bin())
        .args(["lab", "--no-console"])
        .output()
        .unwrap();
    assert_eq!(second.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&second.stderr).contains("a lab is already running"));
    // Quitting tears everything down.
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(lab.id() as i32, libc::SIGINT) };
    let _ = lab.wait();
    wait_until(Duration::from_secs(5), || {
        !namespaces().iter().any(|n| n.starts_with("lvlab"))
    })
    .expect("namespaces removed");
    let _ = std::fs::remove_file(&log);
    let _ = std::fs::remove_file(log.with_extension("err"));
}
