//! A failing vrrp_script lowers the master's effective priority by its weight and the backup
//! takes over; when the script succeeds again the master preempts back.

mod support;

use std::time::Duration;

use lvsdeck::lab::netns::{HostSpec, Topology};
use support::{TempDir, lvsdeck_daemon, prerequisites, wait_until};

const VIP: &str = "10.82.0.100";

fn conf(priority: u8, flag: &std::path::Path) -> String {
    format!(
        "[vrrp_script.chk_flag]\nscript = \"/usr/bin/test -f {}\"\ninterval = \"200ms\"\nweight = -20\nfall = 2\nrise = 1\n\n\
         [vrrp_instance.VI_1]\nversion = 3\ninterface = \"eth0\"\nvirtual_router_id = 51\npriority = {priority}\n\
         advert_int = \"100ms\"\nvirtual_ipaddress = [{{ address = \"{VIP}/24\" }}]\ntrack_script = [{{ name = \"chk_flag\" }}]\n",
        flag.display()
    )
}

#[test]
fn a_failing_script_moves_the_vip_and_its_recovery_brings_it_back() {
    if !prerequisites("vrrp_script failover", &["ip", "sysctl"]) {
        return;
    }
    let topo = Topology::build(
        &support::prefix("vs"),
        vec![
            HostSpec::new("d1", 0x71, &["10.82.0.71/24"]),
            HostSpec::new("d2", 0x70, &["10.82.0.70/24"]),
        ],
    )
    .unwrap();
    let dir = TempDir::new("vs");
    let (flag1, flag2) = (dir.0.join("d1.flag"), dir.0.join("d2.flag"));
    std::fs::write(&flag1, "").unwrap();
    std::fs::write(&flag2, "").unwrap();
    let d1 = lvsdeck_daemon(&topo, "d1", &dir.write("d1.toml", &conf(100, &flag1)), &dir);
    let _d2 = lvsdeck_daemon(&topo, "d2", &dir.write("d2.toml", &conf(90, &flag2)), &dir);
    wait_until(Duration::from_secs(5), || {
        topo.holds("d1", VIP) && !topo.holds("d2", VIP)
    })
    .expect("d1 master");
    // d1's check fails: 100 - 20 = 80 < 90, so d2 preempts.
    std::fs::remove_file(&flag1).unwrap();
    wait_until(Duration::from_secs(4), || {
        topo.holds("d2", VIP) && !topo.holds("d1", VIP)
    })
    .unwrap_or_else(|| panic!("no failover after the script failed:\n{}", d1.log_text()));
    let status = std::process::Command::new(support::lvsdeck_bin())
        .args([
            "--socket",
            dir.0.join("d1.sock").to_str().unwrap(),
            "status",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(text.contains("BACKUP  priority 80 (base 100)"), "{text}");
    // The script recovers: back to 100, and d1 preempts.
    std::fs::write(&flag1, "").unwrap();
    wait_until(Duration::from_secs(4), || {
        topo.holds("d1", VIP) && !topo.holds("d2", VIP)
    })
    .expect("d1 back as master");
}

/// A vrrp_script with `user nobody daemon` (TOML `nobody:daemon`) runs as nobody in group
/// daemon (its uid and gid, written by the script itself).
#[test]
fn a_vrrp_script_runs_as_its_user() {
    if !prerequisites("vrrp_script user", &["ip", "sysctl"]) {
        return;
    }
    let topo = Topology::build(
        &support::prefix("vu"),
        vec![HostSpec::new("d1", 0x71, &["10.83.5.71/24"])],
    )
    .unwrap();
    let dir = TempDir::new("vu");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dir.0, std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = dir.0.join("uid");
    let conf = format!(
        "[vrrp_script.whoami]\nscript = \"/bin/sh -c 'echo $(id -u) $(id -g) > {}'\"\ninterval = \"200ms\"\nuser = \"nobody:daemon\"\n\n\
         [vrrp_instance.VI_1]\nversion = 3\ninterface = \"eth0\"\nvirtual_router_id = 55\npriority = 100\n\
         advert_int = \"100ms\"\nvirtual_ipaddress = [{{ address = \"10.83.5.100/24\" }}]\n\
         track_script = [{{ name = \"whoami\" }}]\n",
        out.display()
    );
    let d1 = lvsdeck_daemon(&topo, "d1", &dir.write("d1.toml", &conf), &dir);
    wait_until(Duration::from_secs(5), || out.exists())
        .unwrap_or_else(|| panic!("the script never ran:\n{}", d1.log_text()));
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(std::fs::read_to_string(&out).unwrap().trim(), "65534 1");
}
