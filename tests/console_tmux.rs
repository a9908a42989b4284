//! The console end to end: the real binary under tmux, attached to a real daemon in a
//! namespace with a peer; keys drain a real server and hand the VIP over; the screen shows the
//! change and the engines confirm it.

mod support;

use std::time::Duration;

use lvsdeck::lab::netns::{HostSpec, Topology};
use support::screen::Tmux;
use support::{TempDir, lvsdeck_bin, lvsdeck_daemon, prerequisites, wait_until};

const VIP: &str = "10.81.0.100";

fn conf(priority: u8) -> String {
    format!(
        "[vrrp_instance.VI_1]\nversion = 3\ninterface = \"eth0\"\nvirtual_router_id = 51\npriority = {priority}\n\
         advert_int = \"100ms\"\nvirtual_ipaddress = [{{ address = \"{VIP}/24\" }}]\n\n\
         [[virtual_server]]\nip = \"{VIP}\"\nport = 80\nlvs_sched = \"rr\"\nlvs_method = \"DR\"\ndelay_loop = \"2s\"\n\n\
         [[virtual_server.real_server]]\nip = \"10.81.0.72\"\nport = 80\n\n\
         [[virtual_server.real_server]]\nip = \"10.81.0.73\"\nport = 80\n"
    )
}

fn wait_screen(tmux: &Tmux, what: &str, secs: u64) -> String {
    let mut last = String::new();
    if wait_until(Duration::from_secs(secs), || {
        last = tmux.text();
        last.contains(what)
    })
    .is_none()
    {
        panic!("the console never showed {what:?}; screen:\n{last}");
    }
    last
}

#[test]
fn keys_drain_a_real_server_and_hand_the_vip_over() {
    if !prerequisites("console under tmux", &["ip", "sysctl", "tmux"]) {
        return;
    }
    let topo = Topology::build(
        &support::prefix("tm"),
        vec![
            HostSpec::new("d1", 0x71, &["10.81.0.71/24"]),
            HostSpec::new("d2", 0x70, &["10.81.0.70/24"]),
        ],
    )
    .unwrap();
    let dir = TempDir::new("tm");
    let _d1 = lvsdeck_daemon(&topo, "d1", &dir.write("d1.toml", &conf(100)), &dir);
    let _d2 = lvsdeck_daemon(&topo, "d2", &dir.write("d2.toml", &conf(90)), &dir);
    wait_until(Duration::from_secs(5), || topo.holds("d1", VIP)).expect("d1 master");
    let sock = dir.0.join("d1.sock");
    let session = format!("lvsdeck-e2e-{}", std::process::id());
    let tmux = Tmux::start(
        &session,
        160,
        48,
        &format!("{} --socket {}", lvsdeck_bin(), sock.display()),
    );
    wait_screen(&tmux, "MASTER", 10);

    // Drain the first real server of the service: Enter, d, Right to Confirm, Enter.
    tmux.keys(&["Enter"]);
    tmux.keys(&["d"]);
    let dialog = wait_screen(&tmux, "Cancel", 5);
    assert!(
        dialog.contains("10.81.0.72:80"),
        "the dialog names the target:\n{dialog}"
    );
    tmux.keys(&["Right"]);
    tmux.keys(&["Enter"]);
    wait_screen(&tmux, "drained", 5);
    let status = std::process::Command::new(lvsdeck_bin())
        .args(["--socket", sock.to_str().unwrap(), "status", "--json"])
        .output()
        .unwrap();
    let snap: lvsdeck::engine::snapshot::Snapshot = serde_json::from_slice(&status.stdout).unwrap();
    let real = &snap.ipvs.services[0]
        .reals
        .iter()
        .find(|r| r.address == "10.81.0.72")
        .unwrap();
    assert!(real.drain.is_some(), "the engine did not record the drain");

    // Hand-over from the VRRP pane: Esc back to the services, Shift-Tab to VRRP, h.
    tmux.keys(&["Escape"]);
    std::thread::sleep(Duration::from_millis(200));
    tmux.keys(&["BTab"]);
    std::thread::sleep(Duration::from_millis(200));
    tmux.keys(&["h"]);
    wait_screen(&tmux, "Cancel", 5);
    tmux.keys(&["Right"]);
    tmux.keys(&["Enter"]);
    wait_until(Duration::from_secs(4), || {
        topo.holds("d2", VIP) && !topo.holds("d1", VIP)
    })
    .expect("the VIP moved to d2");
    let screen = wait_screen(&tmux, "BACKUP", 5);
    assert!(
        screen.contains("hand-over"),
        "the console reports the hand-over:\n{screen}"
    );
    tmux.keys(&["q"]);
    wait_until(Duration::from_secs(3), || !tmux.alive()).expect("q quits the console");
}
