//! Regenerates `screenshots/`: runs `lvsdeck lab` under tmux, drives the console with keys,
//! captures the panes with their colours and renders them to PNG.
//! Run as root: `cargo bench --bench screenshots`.
//!
//! This machine's kernel has no IPVS, so those screens show the lab without it. The screens
//! with real IPVS come from the lab test in the VM (`cargo test --test lab_vm`), which saves
//! them under `target/lab-vm-screens/`; this renders them too, as `screenshots/lab-ipvs-*.png`.

#[path = "../tests/support/mod.rs"]
mod support;

use std::path::PathBuf;
use std::time::Duration;

use support::screen::{Tmux, png};

/// Renders the screens the VM lab test saved (`NAME-COLSxROWS.ansi`).
fn vm_shots() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let from = root.join("target/lab-vm-screens");
    let Ok(entries) = std::fs::read_dir(&from) else {
        println!(
            "no {}: run `cargo test --test lab_vm` for the screens with real IPVS",
            from.display()
        );
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Some(stem) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".ansi"))
        else {
            continue;
        };
        let size = stem.rsplit('-').next().and_then(|s| s.split_once('x'));
        let Some((Ok(cols), Ok(rows))) = size.map(|(c, r)| (c.parse::<u16>(), r.parse::<u16>()))
        else {
            println!("skipped {}: no COLSxROWS in its name", path.display());
            continue;
        };
        let out = root.join("screenshots").join(format!("{stem}.png"));
        png(&std::fs::read(&path).unwrap(), cols, rows, &out);
        println!("wrote {} (from the VM)", out.display());
    }
}

fn shot(tmux: &Tmux, name: &str) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.png"));
    png(&tmux.ansi(), tmux.cols, tmux.rows, &path);
    println!("wrote {}", path.display());
}

fn wait_for(tmux: &Tmux, text: &str, secs: u64) {
    if support::wait_until(Duration::from_secs(secs), || tmux.text().contains(text)).is_none() {
        panic!("the console never showed {text:?}:\n{}", tmux.text());
    }
}

fn pause(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    vm_shots();
    if std::env::var_os("LVSDECK_SHOTS_VM_ONLY").is_some() {
        return;
    }
    if !support::prerequisites("screenshots", &["ip", "tmux"]) {
        return;
    }
    let bin = env!("CARGO_BIN_EXE_lvsdeck");
    if std::env::var("LVSDECK_SHOTS_ONLY").is_ok_and(|v| v == "bfd") {
        bfd_shots(bin);
        return;
    }
    let _ = std::process::Command::new(bin)
        .args(["lab", "down"])
        .output();

    // The wide console: overview, a drain dialog, help, a hand-over seen from both directors.
    let tmux = Tmux::start("lvsdeck-shots", 160, 48, &format!("{bin} lab"));
    wait_for(&tmux, "MASTER", 20);
    // Let the health checks report and the client count.
    pause(9000);
    shot(&tmux, "lab-160x48");
    tmux.keys(&["Enter"]);
    pause(400);
    tmux.keys(&["d"]);
    wait_for(&tmux, "Cancel", 5);
    shot(&tmux, "drain-dialog-160x48");
    tmux.keys(&["Escape"]);
    pause(300);
    tmux.keys(&["Escape"]);
    pause(300);
    tmux.keys(&["?"]);
    pause(600);
    shot(&tmux, "help-160x48");
    tmux.keys(&["Escape"]);
    pause(300);
    tmux.keys(&["BTab"]);
    pause(300);
    tmux.keys(&["h"]);
    wait_for(&tmux, "Cancel", 5);
    tmux.keys(&["Right"]);
    pause(200);
    tmux.keys(&["Enter"]);
    wait_for(&tmux, "BACKUP", 8);
    pause(2500);
    shot(&tmux, "after-handover-master-160x48");
    tmux.keys(&[">"]);
    pause(1500);
    shot(&tmux, "after-handover-backup-160x48");
    tmux.keys(&["q"]);
    support::wait_until(Duration::from_secs(10), || !tmux.alive());
    drop(tmux);

    // The doctor on a lab broken on purpose: web-node2 answers ARP for the VIP. The daemons
    // run the doctor 10 s after start; the badge appears, `D` opens the report.
    let tmux = Tmux::start(
        "lvsdeck-shots",
        160,
        48,
        &format!("{bin} lab --break arp-ignore"),
    );
    wait_for(&tmux, "DOCTOR:", 40);
    pause(1000);
    tmux.keys(&["D"]);
    wait_for(&tmux, "rs-arp-leak", 5);
    shot(&tmux, "doctor-broken-lab-160x48");
    tmux.keys(&["Escape"]);
    pause(300);
    tmux.keys(&["q"]);
    support::wait_until(Duration::from_secs(10), || !tmux.alive());
    drop(tmux);

    // The small terminal.
    let tmux = Tmux::start("lvsdeck-shots", 80, 24, &format!("{bin} lab"));
    wait_for(&tmux, "MASTER", 20);
    pause(8000);
    shot(&tmux, "lab-80x24");
    tmux.keys(&["q"]);
    support::wait_until(Duration::from_secs(10), || !tmux.alive());
    drop(tmux);
    bfd_shots(bin);
}

/// BFD sessions to FRR's bfdd in the next namespace, seen by an attached console: Up, then
/// after bfdd is killed.
fn bfd_shots(bin: &str) {
    use lvsdeck::lab::netns::{HostSpec, Topology};
    use support::frr::{Frr, Peer};
    if !support::prerequisites("BFD screenshots", &[support::frr::BFDD, "vtysh"]) {
        return;
    }
    let topo = Topology::build(
        "lvshot",
        vec![
            HostSpec::new("lvs1", 0x71, &["192.168.10.71/24", "fd10::71/64"]),
            HostSpec::new("router", 0x01, &["192.168.10.1/24", "fd10::1/64"]),
        ],
    )
    .expect("topology");
    let dir = support::TempDir::new("bfd-shots");
    let peer = |peer, local| Peer {
        peer,
        local,
        rx_ms: 10,
        tx_ms: 10,
        mult: 3,
    };
    let mut frr = Frr::start(
        &topo,
        "router",
        &[
            peer("192.168.10.71", "192.168.10.1"),
            peer("fd10::71", "fd10::1"),
        ],
        &dir,
    );
    let conf = dir.write(
        "lvs1.toml",
        "[bfd_instance.to_router]\nneighbor_ip = \"192.168.10.1\"\nsource_ip = \"192.168.10.71\"\n\
         min_rx = \"10ms\"\nmin_tx = \"10ms\"\nmultiplier = 3\n\n\
         [bfd_instance.to_router6]\nneighbor_ip = \"fd10::1\"\nmin_rx = \"10ms\"\nmin_tx = \"10ms\"\nmultiplier = 3\n\n\
         [vrrp_instance.VI_1]\ninterface = \"eth0\"\nvirtual_router_id = 51\npriority = 100\n\
         virtual_ipaddress = [{ address = \"192.168.10.100/24\" }]\n\
         track_bfd = [{ name = \"to_router\" }]\n",
    );
    let _daemon = support::lvsdeck_daemon(&topo, "lvs1", &conf, &dir);
    let sock = dir.0.join("lvs1.sock");
    let tmux = Tmux::start(
        "lvsdeck-shots",
        160,
        48,
        &format!("{bin} --socket {}", sock.display()),
    );
    wait_for(&tmux, "BFD 2/2 up", 30);
    pause(4000);
    shot(&tmux, "bfd-up-160x48");
    frr.kill();
    wait_for(&tmux, "BFD 0/2 up", 10);
    pause(1500);
    shot(&tmux, "bfd-router-down-160x48");
    tmux.keys(&["q"]);
    support::wait_until(Duration::from_secs(10), || !tmux.alive());
}
