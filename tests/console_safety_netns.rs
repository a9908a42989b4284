//! The console never starts engines by surprise. With no daemon it says where it looked and
//! stops, leaving a keepalived master's VIP alone in the same namespace; `--embedded` refuses
//! while keepalived runs, and while another director advertises a VRID it would run.

mod support;

use std::process::Command;
use std::time::Duration;

use support::{
    TempDir, keepalived, lvsdeck_daemon, prerequisites, two_directors_and_a_client, wait_until,
};

const VIP: &str = "10.86.0.100";

fn conf(priority: u8) -> String {
    format!(
        "vrrp_instance VI_1 {{\n    state BACKUP\n    interface eth0\n    virtual_router_id 86\n    \
         priority {priority}\n    advert_int 1\n    virtual_ipaddress {{\n        {VIP}/24\n    }}\n}}\n"
    )
}

/// `lvsdeck ARGS` in `host`'s namespace: exit code and stderr.
fn console_in(topo: &lvsdeck::lab::netns::Topology, host: &str, args: &[&str]) -> (i32, String) {
    let out = Command::new("ip")
        .args(["netns", "exec", &topo.ns(host), support::lvsdeck_bin()])
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_console_never_starts_engines_beside_a_working_director() {
    if !prerequisites("console safety", &["ip", "keepalived"]) {
        return;
    }
    let topo = two_directors_and_a_client("cs", 86);
    let dir = TempDir::new("cs");
    let file = dir.write("lvsdeck.conf", &conf(200));
    let file = file.to_str().unwrap();

    // A keepalived master in d1's namespace.
    let ka = keepalived(&topo, "d1", &conf(150), &dir);
    wait_until(Duration::from_secs(8), || topo.holds("d1", VIP)).expect("keepalived master");
    let socket = dir.0.join("none.sock");
    let (code, err) = console_in(
        &topo,
        "d1",
        &["-c", file, "--socket", socket.to_str().unwrap()],
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("no daemon answers at") && err.contains("--embedded"),
        "{err}"
    );
    let (code, err) = console_in(&topo, "d1", &["--embedded", "-c", file]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("keepalived runs on this host"), "{err}");
    // Through both, and a second after: keepalived's VIP never moved.
    std::thread::sleep(Duration::from_secs(1));
    assert!(topo.holds("d1", VIP), "keepalived's VIP is gone");
    drop(ka);
    // Its children in d1's namespace gone too (other tests' keepalived, in namespaces of
    // their own, may run beside this one: the console does not count those).
    let d1 = format!(
        "net:[{}]",
        std::os::unix::fs::MetadataExt::ino(
            &std::fs::metadata(format!("/run/netns/{}", topo.ns("d1"))).unwrap()
        )
    );
    wait_until(Duration::from_secs(10), || {
        lvsdeck::vrrp::others::keepalived_pids_in(Some(&d1)).is_empty()
    })
    .expect("keepalived stopped");

    // Another lvsdeck director, in d2, advertises the VRID: --embedded in d1 hears it.
    let d2 = lvsdeck_daemon(&topo, "d2", &dir.write("d2.conf", &conf(100)), &dir);
    wait_until(Duration::from_secs(8), || topo.holds("d2", VIP))
        .unwrap_or_else(|| panic!("d2 master:\n{}", d2.log_text()));
    let (code, err) = console_in(&topo, "d1", &["--embedded", "-c", file]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("10.86.0.70 advertises VRID 86 (IPv4)"),
        "{err}"
    );
    assert!(topo.holds("d2", VIP) && !topo.holds("d1", VIP));
}
