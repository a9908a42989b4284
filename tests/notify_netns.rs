//! Notify scripts as keepalived runs them: an instance's (`notify_master`, and `notify` with
//! `INSTANCE name STATE priority`), and a sync group's own, once its members are all in a
//! new state (`GROUP name STATE priority`), at a transition and at stop; and with `omega`, a
//! service's quorum_down at stop; all of them as `script_user`.

mod support;

use std::time::Duration;

use support::{TempDir, lvsdeck_daemon, prerequisites, two_directors_and_a_client, wait_until};

#[test]
fn instance_and_sync_group_notify_scripts_run_on_their_transitions() {
    if !prerequisites("notify scripts", &["ip", "sysctl"]) {
        return;
    }
    let topo = two_directors_and_a_client("nt", 83);
    let dir = TempDir::new("nt");
    let log = dir.0.join("notify.log");
    let script = dir.write(
        "notify.sh",
        &format!("#!/bin/sh\necho \"$* as $(id -un)\" >> {}\n", log.display()),
    );
    // Written by the scripts, which run as `script_user` nobody.
    std::fs::write(&log, "").unwrap();
    std::fs::set_permissions(&log, std::os::unix::fs::PermissionsExt::from_mode(0o666)).unwrap();
    std::fs::set_permissions(&dir.0, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let s = script.display();
    let instance = |name: &str, vrid: u8, vip: &str| {
        format!(
            "vrrp_instance {name} {{\n    state BACKUP\n    interface eth0\n    virtual_router_id \
             {vrid}\n    priority 100\n    advert_int 1\n    notify \"{s} {name}-any\"\n    \
             virtual_ipaddress {{\n        {vip}/24\n    }}\n}}\n"
        )
    };
    let conf = format!(
        "global_defs {{\n    script_user nobody\n}}\n{}{}vrrp_sync_group G1 {{\n    group {{\n        VI_1\n        VI_2\n    }}\n    \
         notify_master \"{s} group-master\"\n    notify \"{s} group-any\"\n}}\n\
         virtual_server 10.83.0.100 80 {{\n    lb_kind DR\n    protocol TCP\n    omega\n    \
         quorum_down \"{s} quorum-down\"\n    real_server 10.83.0.10 80 {{\n        weight 1\n    \
         }}\n}}\n",
        instance("VI_1", 61, "10.83.0.100"),
        instance("VI_2", 62, "10.83.0.101"),
    );
    let c1 = dir.write("d1.conf", &conf);
    let mut d1 = lvsdeck_daemon(&topo, "d1", &c1, &dir);
    let lines = || -> Vec<String> {
        let mut l: Vec<String> = std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect();
        l.sort();
        l
    };
    wait_until(Duration::from_secs(10), || lines().len() >= 7)
        .unwrap_or_else(|| panic!("notify scripts: {:?}\n{}", lines(), d1.log_text()));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        lines(),
        // BACKUP at start, then MASTER alone, as keepalived notifies them.
        [
            "VI_1-any INSTANCE VI_1 BACKUP 100 as nobody",
            "VI_1-any INSTANCE VI_1 MASTER 100 as nobody",
            "VI_2-any INSTANCE VI_2 BACKUP 100 as nobody",
            "VI_2-any INSTANCE VI_2 MASTER 100 as nobody",
            "group-any GROUP G1 BACKUP 100 as nobody",
            "group-any GROUP G1 MASTER 100 as nobody",
            "group-master as nobody",
        ],
        "{}",
        d1.log_text()
    );
    d1.signal(libc::SIGTERM);
    d1.wait_exit(Duration::from_secs(5));
    wait_until(Duration::from_secs(3), || lines().len() >= 11);
    assert!(
        lines().contains(&"group-any GROUP G1 STOP 100 as nobody".to_string())
            && lines().contains(&"VI_1-any INSTANCE VI_1 STOP 100 as nobody".to_string())
            && lines().contains(&"quorum-down as nobody".to_string()),
        "{:?}",
        lines()
    );
}
