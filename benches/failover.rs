//! Failover benchmark: lvsdeck and keepalived in the same namespace topology, same advert
//! interval, one after the other in one run. For each: graceful stop (SIGTERM) and hard
//! failure (SIGKILL + cable pulled) of the master, at advert 1 s (VRRPv2) and 0.1 s (VRRPv3).
//! Printed: the time until the backup holds the VIP, and the client's gap (lost pings x 10 ms)
//! while pinging the VIP every 10 ms. Then hard failures at advert 1 s with BFD between the
//! directors (10 ms x 3): lvsdeck with `takeover` (the backup takes over when the master's
//! session falls silent) and keepalived with `track_bfd` (which moves a priority), each beside
//! its run without BFD. Run as root: `cargo bench --bench failover`
//! (LVSDECK_BENCH_ROUNDS=N for more rounds; the median is printed; LVSDECK_FAILOVER=bfd for
//! the BFD table alone).

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use lvsdeck::lab::netns::{HostSpec, Topology};
use support::{Proc, TempDir, lvsdeck_daemon, ping_counts, wait_until};

const VIP: &str = "10.78.0.100";

#[derive(Clone, Copy, PartialEq)]
enum Impl {
    Lvsdeck,
    Keepalived,
    /// With a BFD session to the other director, 10 ms x 3, and `takeover`.
    LvsdeckBfd,
    /// With a BFD session to the other director, 10 ms x 3, and `track_bfd` (weight 10).
    KeepalivedBfd,
}

#[derive(Clone, Copy, PartialEq)]
enum Failure {
    Graceful,
    Hard,
}

fn conf(which: Impl, version: u8, priority: u8, peer: &str) -> String {
    let fast = version == 3;
    let interval = if fast { "100ms" } else { "1s" };
    match which {
        Impl::Lvsdeck | Impl::LvsdeckBfd => {
            let mut text = format!(
                "[vrrp_instance.VI_1]\nversion = {version}\ninterface = \"eth0\"\nvirtual_router_id = 51\n\
                 priority = {priority}\nadvert_int = \"{interval}\"\nvirtual_ipaddress = [{{ address = \"{VIP}/24\" }}]\n"
            );
            if which == Impl::LvsdeckBfd {
                text += "track_bfd = [{ name = \"peer\", takeover = true }]\n";
                text += &format!(
                    "[bfd_instance.peer]\nneighbor_ip = \"{peer}\"\nmin_rx = \"10ms\"\nmin_tx = \"10ms\"\nmultiplier = 3\n"
                );
            }
            text
        }
        Impl::Keepalived | Impl::KeepalivedBfd => {
            let bfd = which == Impl::KeepalivedBfd;
            format!(
                "{}vrrp_instance VI_1 {{\n version {version}\n state BACKUP\n interface eth0\n virtual_router_id 51\n \
                 priority {priority}\n advert_int {}\n virtual_ipaddress {{\n  {VIP}/24\n }}\n{}}}\n",
                if bfd {
                    format!(
                        "bfd_instance peer {{\n neighbor_ip {peer}\n min_rx 10\n min_tx 10\n multiplier 3\n}}\n"
                    )
                } else {
                    String::new()
                },
                if fast { "0.1" } else { "1" },
                if bfd {
                    " track_bfd {\n  peer weight 10\n }\n"
                } else {
                    ""
                }
            )
        }
    }
}

fn start(which: Impl, topo: &Topology, host: &str, text: &str, dir: &TempDir) -> Proc {
    match which {
        Impl::Lvsdeck | Impl::LvsdeckBfd => {
            lvsdeck_daemon(topo, host, &dir.write(&format!("{host}.toml"), text), dir)
        }
        Impl::Keepalived | Impl::KeepalivedBfd => support::keepalived(topo, host, text, dir),
    }
}

/// One failover: (ms until the backup holds the VIP, client gap in ms).
fn round(which: Impl, version: u8, failure: Failure) -> (f64, f64) {
    let topo = Topology::build(
        "lvbench",
        vec![
            HostSpec::new("d1", 0x71, &["10.78.0.71/24"]),
            HostSpec::new("d2", 0x70, &["10.78.0.70/24"]),
            HostSpec::new("client", 0x10, &["10.78.0.10/24"]),
        ],
    )
    .expect("topology");
    let dir = TempDir::new("bench");
    let _d2 = start(
        which,
        &topo,
        "d2",
        &conf(which, version, 90, "10.78.0.71"),
        &dir,
    );
    let d1 = start(
        which,
        &topo,
        "d1",
        &conf(which, version, 100, "10.78.0.70"),
        &dir,
    );
    wait_until(Duration::from_secs(15), || {
        topo.holds("d1", VIP) && !topo.holds("d2", VIP)
    })
    .expect("d1 master");
    // Let the backup settle on the master's adverts (and BFD come Up and poll down to its fast
    // rate), and warm the client's ARP cache.
    std::thread::sleep(Duration::from_millis(3000));
    topo.exec("client", &["ping", "-c1", "-W1", VIP]).ok();
    let count = if version == 3 { "300" } else { "700" };
    let (moved, out) = std::thread::scope(|s| {
        let pinger = s.spawn(|| {
            topo.command("client", "ping")
                .args(["-i", "0.01", "-c", count, "-W", "1", VIP])
                .output()
                .unwrap()
        });
        std::thread::sleep(Duration::from_millis(500));
        let t0 = Instant::now();
        match failure {
            Failure::Graceful => d1.signal(libc::SIGTERM),
            Failure::Hard => {
                // Cable first, so nothing the dying process sends reaches the LAN; then every
                // process of the director (keepalived's children too) is killed at once.
                topo.set_cable("d1", false).unwrap();
                topo.exec(
                    "d1",
                    &[
                        "sh",
                        "-c",
                        "kill -9 $(ip netns pids $(ip netns identify $$)) 2>/dev/null; true",
                    ],
                )
                .ok();
                d1.signal(libc::SIGKILL);
            }
        }
        let moved =
            wait_until(Duration::from_secs(10), || topo.holds("d2", VIP)).map(|_| t0.elapsed());
        (moved, pinger.join().unwrap())
    });
    let (sent, received) = ping_counts(&String::from_utf8_lossy(&out.stdout));
    assert!(
        sent > 0,
        "no ping statistics:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let moved_ms = moved.map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0);
    (moved_ms, f64::from(sent.saturating_sub(received)) * 10.0)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    // `cargo test --benches` runs bench targets with --bench absent: do nothing then.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    if !support::prerequisites("failover benchmark", &["ip", "ping", "keepalived"]) {
        return;
    }
    let rounds: usize = std::env::var("LVSDECK_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    println!(
        "failover benchmark: median of {rounds} round(s); VIP-moved = until the backup holds the VIP,"
    );
    println!("gap = pings lost x 10 ms by a client pinging the VIP every 10 ms");
    println!(
        "{:<22} {:<10} {:>14} {:>10} {:>14} {:>10}",
        "case", "failure", "lvsdeck moved", "gap", "keepalived", "gap"
    );
    // LVSDECK_FAILOVER=bfd: the BFD table alone.
    let bfd_only = std::env::var("LVSDECK_FAILOVER").is_ok_and(|v| v == "bfd");
    let versions: &[(u8, &str)] = if bfd_only {
        &[]
    } else {
        &[(2, "v2, advert 1 s"), (3, "v3, advert 0.1 s")]
    };
    for &(version, label) in versions {
        for (failure, fname) in [(Failure::Graceful, "graceful"), (Failure::Hard, "hard")] {
            let mut cells = Vec::new();
            for which in [Impl::Lvsdeck, Impl::Keepalived] {
                let runs: Vec<(f64, f64)> = (0..rounds)
                    .map(|_| round(which, version, failure))
                    .collect();
                cells.push((
                    median(runs.iter().map(|r| r.0).collect()),
                    median(runs.iter().map(|r| r.1).collect()),
                ));
            }
            println!(
                "{label:<22} {fname:<10} {:>11.0} ms {:>7.0} ms {:>11.0} ms {:>7.0} ms",
                cells[0].0, cells[0].1, cells[1].0, cells[1].1
            );
        }
    }
    println!();
    println!(
        "hard failure (SIGKILL + cable), VRRPv2 advert 1 s, BFD 10 ms x 3 between the directors"
    );
    println!("{:<44} {:>12} {:>10}", "case", "VIP moved", "gap");
    for (which, label) in [
        (Impl::Lvsdeck, "lvsdeck, no BFD"),
        (Impl::LvsdeckBfd, "lvsdeck, BFD takeover"),
        (Impl::Keepalived, "keepalived, no BFD"),
        (Impl::KeepalivedBfd, "keepalived, track_bfd (weight 10)"),
    ] {
        let runs: Vec<(f64, f64)> = (0..rounds)
            .map(|_| round(which, 2, Failure::Hard))
            .collect();
        println!(
            "{label:<44} {:>9.0} ms {:>7.0} ms",
            median(runs.iter().map(|r| r.0).collect()),
            median(runs.iter().map(|r| r.1).collect())
        );
    }
}
