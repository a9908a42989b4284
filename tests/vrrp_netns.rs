//! Two lvsdeck daemons in network namespaces on one bridge: election, failover by SIGTERM,
//! SIGKILL + link down, preemption, nopreempt, VRRPv2 with auth, VRRPv3 on IPv4 and IPv6,
//! unicast peers, and the graceful hand-over measured by a client pinging the VIP.

mod support;

use std::time::Duration;

use lvsdeck::lab::netns::{HostSpec, Topology};
use support::{Proc, TempDir, lvsdeck_daemon, ping_counts, prerequisites, wait_until};

fn lan(tag: &str) -> Topology {
    Topology::build(
        &support::prefix(tag),
        vec![
            HostSpec::new("d1", 0x71, &["10.77.0.71/24", "fd77::71/64"]),
            HostSpec::new("d2", 0x70, &["10.77.0.70/24", "fd77::70/64"]),
            HostSpec::new("client", 0x10, &["10.77.0.10/24", "fd77::10/64"]),
        ],
    )
    .expect("topology")
}

/// One director's configuration; `extra` lines go into the instance table.
fn director(version: u8, priority: u8, advert: &str, vip: &str, extra: &str) -> String {
    format!(
        "[vrrp_instance.VI_1]\nversion = {version}\ninterface = \"eth0\"\nvirtual_router_id = 51\n\
         priority = {priority}\nadvert_int = \"{advert}\"\n\
         virtual_ipaddress = [{{ address = \"{vip}\" }}]\n{extra}\n"
    )
}

struct Pair {
    topo: Topology,
    dir: TempDir,
    d1: Option<Proc>,
    d2: Proc,
    vip: String,
    d1_conf: std::path::PathBuf,
}

impl Pair {
    fn start(tag: &str, d1_conf: String, d2_conf: String, vip: &str) -> Pair {
        let topo = lan(tag);
        let dir = TempDir::new(tag);
        let c1 = dir.write("d1.toml", &d1_conf);
        let c2 = dir.write("d2.toml", &d2_conf);
        let d2 = lvsdeck_daemon(&topo, "d2", &c2, &dir);
        let d1 = lvsdeck_daemon(&topo, "d1", &c1, &dir);
        let vip = vip.split('/').next().unwrap().to_string();
        Pair {
            topo,
            dir,
            d1: Some(d1),
            d2,
            vip,
            d1_conf: c1,
        }
    }

    fn holder(&self) -> (bool, bool) {
        (
            self.topo.holds("d1", &self.vip),
            self.topo.holds("d2", &self.vip),
        )
    }

    fn wait_holder(&self, want: (bool, bool), secs: u64) -> Duration {
        wait_until(Duration::from_secs(secs), || self.holder() == want).unwrap_or_else(|| {
            panic!(
                "VIP {} never held as {want:?} (now {:?})\n--- d1 ---\n{}\n--- d2 ---\n{}",
                self.vip,
                self.holder(),
                self.d1.as_ref().map(|d| d.log_text()).unwrap_or_default(),
                self.d2.log_text()
            )
        })
    }

    /// Waits until d2 runs as a backup: a fault timed from here then has d2's takeover one
    /// Master_Down_Interval away. (d1 holding the VIP says nothing of d2: a debug daemon on
    /// a loaded CI host has taken seconds to start, and a d2 that became master only at the
    /// end of the watch left the watch ending in the make-before-break overlap.)
    fn wait_d2_backup(&self) {
        wait_until(Duration::from_secs(20), || {
            self.d2.log_text().contains("-> BACKUP")
        })
        .unwrap_or_else(|| panic!("d2 never became backup:\n{}", self.d2.log_text()));
    }

    fn restart_d1(&mut self) {
        self.d1 = Some(lvsdeck_daemon(&self.topo, "d1", &self.d1_conf, &self.dir));
    }
}

#[test]
fn v2_with_auth_elects_the_higher_priority_sigterm_hands_over_and_restart_preempts() {
    if !prerequisites("VRRP v2 failover", &["ip", "sysctl"]) {
        return;
    }
    let auth = "auth_pass = \"s3cr3t\"\nstate = \"master\"";
    let mut p = Pair::start(
        "v2",
        director(2, 100, "1s", "10.77.0.100/24", auth),
        director(2, 90, "1s", "10.77.0.100/24", "auth_pass = \"s3cr3t\""),
        "10.77.0.100/24",
    );
    p.wait_holder((true, false), 8);
    // SIGTERM on the master: hand-over, then exit 0.
    let d1 = p.d1.as_mut().unwrap();
    d1.signal(libc::SIGTERM);
    let moved = p.wait_holder((false, true), 5);
    let code = p.d1.as_mut().unwrap().wait_exit(Duration::from_secs(6));
    assert_eq!(
        code,
        Some(0),
        "d1 log:\n{}",
        p.d1.as_ref().unwrap().log_text()
    );
    eprintln!("VIP moved {moved:?} after SIGTERM");
    // The higher priority comes back and preempts.
    p.restart_d1();
    p.wait_holder((true, false), 8);
}

#[test]
fn v3_ipv4_sigkill_and_link_down_moves_the_vip() {
    if !prerequisites("VRRP v3 hard failover", &["ip", "sysctl"]) {
        return;
    }
    let p = Pair::start(
        "v3k",
        director(3, 100, "100ms", "10.77.0.100/24", ""),
        director(3, 90, "100ms", "10.77.0.100/24", ""),
        "10.77.0.100/24",
    );
    p.wait_holder((true, false), 5);
    p.d1.as_ref().unwrap().signal(libc::SIGKILL);
    p.topo.set_cable("d1", false).unwrap();
    let took =
        wait_until(Duration::from_secs(3), || p.topo.holds("d2", &p.vip)).expect("d2 takes over");
    eprintln!("d2 holds the VIP {took:?} after SIGKILL");
    // 3 x 100 ms + skew: well under a second.
    assert!(took < Duration::from_millis(900), "{took:?}");
}

#[test]
fn nopreempt_keeps_the_new_master_when_the_old_one_returns() {
    if !prerequisites("VRRP nopreempt", &["ip", "sysctl"]) {
        return;
    }
    let mut p = Pair::start(
        "np",
        director(3, 100, "100ms", "10.77.0.100/24", "preempt = false"),
        director(3, 90, "100ms", "10.77.0.100/24", "preempt = false"),
        "10.77.0.100/24",
    );
    // With preempt off on both, the first to time out wins; make it d1 either way.
    if wait_until(Duration::from_secs(5), || p.holder() == (false, true)).is_some() {
        p.d2.signal(libc::SIGKILL);
        p.d2.wait_exit(Duration::from_secs(2));
        // Its VIP guard takes the VIP with it.
        wait_until(Duration::from_secs(2), || {
            !p.topo.holds("d2", "10.77.0.100")
        })
        .expect("d2's VIP guard removes the VIP");
        p.d2 = lvsdeck_daemon(&p.topo, "d2", &p.dir.0.join("d2.toml"), &p.dir);
    }
    p.wait_holder((true, false), 5);
    // Every process of d1 killed, its VIP guard too (as a power cut would, with the cable
    // in): the VIP stays behind, and the restarted daemon must clear it.
    support::kill_all_in(&p.topo, "d1");
    p.d1.as_mut().unwrap().wait_exit(Duration::from_secs(2));
    p.wait_holder((true, true), 3);
    p.restart_d1();
    p.wait_holder((false, true), 3);
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        p.holder(),
        (false, true),
        "d1 preempted despite preempt = false"
    );
}

/// Samples who holds the VIP every 10 ms until `until` holds or `secs` pass; the samples.
fn watch_holders(p: &Pair, secs: u64, until: (bool, bool)) -> Vec<(bool, bool)> {
    let mut seen = Vec::new();
    let start = std::time::Instant::now();
    while start.elapsed() < Duration::from_secs(secs) {
        let h = p.holder();
        seen.push(h);
        if h == until {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    seen
}

/// The holders seen, as runs of 10 ms samples: `(true, false) x12, (true, true) x3`.
fn runs(seen: &[(bool, bool)]) -> String {
    let mut out: Vec<((bool, bool), usize)> = Vec::new();
    for h in seen {
        match out.last_mut() {
            Some((last, n)) if last == h => *n += 1,
            _ => out.push((*h, 1)),
        }
    }
    let parts: Vec<String> = out.iter().map(|(h, n)| format!("{h:?} x{n}")).collect();
    parts.join(", ")
}

/// Samples in which both directors held the VIP, as time.
fn overlap(seen: &[(bool, bool)]) -> Duration {
    Duration::from_millis(10) * seen.iter().filter(|h| **h == (true, true)).count() as u32
}

#[test]
fn a_killed_master_keeps_its_vip_until_the_backup_takes_over_then_not_a_moment_longer() {
    if !prerequisites("VRRP VIP guard, kill", &["ip", "sysctl"]) {
        return;
    }
    let p = Pair::start(
        "gk",
        director(3, 100, "100ms", "10.77.0.100/24", ""),
        director(3, 90, "100ms", "10.77.0.100/24", ""),
        "10.77.0.100/24",
    );
    p.wait_holder((true, false), 5);
    p.wait_d2_backup();
    // The daemon alone, cable in: keepalived would leave the VIP up on d1 beside d2's.
    p.d1.as_ref().unwrap().signal(libc::SIGKILL);
    let seen = watch_holders(&p, 5, (false, true));
    let log = p.d1.as_ref().unwrap().log_text();
    assert_eq!(
        seen.last(),
        Some(&(false, true)),
        "d2 never took over alone\n{log}"
    );
    // Until d2 took over, d1's kernel still answered for the VIP: no moment without it.
    assert!(!seen.contains(&(false, false)), "a gap: {seen:?}\n{log}");
    // Make-before-break: both for a moment at most (sampling every 10 ms).
    assert!(
        overlap(&seen) <= Duration::from_millis(100),
        "{seen:?}\n{log}"
    );
    assert!(
        log.contains("10.77.0.70 advertises as master while the daemon")
            && log.contains("is gone")
            && log.contains("removed its VIPs 10.77.0.100/24"),
        "{log}"
    );
}

#[test]
fn a_frozen_master_lets_go_when_the_backup_takes_over_and_takes_back_on_resume() {
    if !prerequisites("VRRP VIP guard, freeze", &["ip", "sysctl"]) {
        return;
    }
    let p = Pair::start(
        "gf",
        director(2, 100, "1s", "10.77.0.100/24", ""),
        director(2, 90, "1s", "10.77.0.100/24", ""),
        "10.77.0.100/24",
    );
    p.wait_holder((true, false), 8);
    p.wait_d2_backup();
    let d1 = p.d1.as_ref().unwrap();
    d1.signal(libc::SIGSTOP);
    let seen = watch_holders(&p, 8, (false, true));
    d1.signal(libc::SIGCONT);
    println!(
        "holders while d1 was frozen (10 ms samples): {}",
        runs(&seen)
    );
    assert_eq!(
        seen.last(),
        Some(&(false, true)),
        "d2 never took over alone: {}\nd1 (frozen) and its guard:\n{}\nd2:\n{}",
        runs(&seen),
        d1.log_text(),
        p.d2.log_text()
    );
    assert!(
        !seen.contains(&(false, false)),
        "a gap: {seen:?}\n{}",
        d1.log_text()
    );
    assert!(
        overlap(&seen) <= Duration::from_millis(100),
        "both held the VIP while d1's daemon was frozen: {seen:?}\n{}",
        d1.log_text()
    );
    // Resumed, the higher priority is master again and holds the VIP alone.
    p.wait_holder((true, false), 6);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(p.holder(), (true, false), "{}", d1.log_text());
    assert!(
        d1.log_text().contains("no word from the daemon"),
        "{}",
        d1.log_text()
    );
}

/// A director with no peer: its daemon killed, the VIP stays (its kernel still serves it).
#[test]
fn a_killed_master_without_a_peer_keeps_serving_its_vip() {
    if !prerequisites("VRRP VIP guard, alone", &["ip", "sysctl", "ping"]) {
        return;
    }
    let topo = lan("ga");
    let dir = TempDir::new("ga");
    let c1 = dir.write("d1.toml", &director(3, 100, "100ms", "10.77.0.100/24", ""));
    let d1 = lvsdeck_daemon(&topo, "d1", &c1, &dir);
    wait_until(Duration::from_secs(5), || topo.holds("d1", "10.77.0.100")).expect("master");
    d1.signal(libc::SIGKILL);
    std::thread::sleep(Duration::from_secs(2));
    assert!(topo.holds("d1", "10.77.0.100"), "{}", d1.log_text());
    topo.exec("client", &["ping", "-c1", "-W1", "10.77.0.100"])
        .expect("the VIP still answers");
    assert!(
        d1.log_text()
            .contains("its VIPs stay until another director"),
        "{}",
        d1.log_text()
    );
}

#[test]
fn v3_ipv6_failover() {
    if !prerequisites("VRRP v3 IPv6", &["ip", "sysctl", "ping"]) {
        return;
    }
    let p = Pair::start(
        "v6",
        director(3, 100, "100ms", "fd77::100/64", ""),
        director(3, 90, "100ms", "fd77::100/64", ""),
        "fd77::100/64",
    );
    p.wait_holder((true, false), 6);
    p.topo
        .exec("client", &["ping", "-6", "-c1", "-W2", "fd77::100"])
        .expect("VIP answers on d1");
    p.d1.as_ref().unwrap().signal(libc::SIGKILL);
    p.topo.set_cable("d1", false).unwrap();
    wait_until(Duration::from_secs(3), || p.topo.holds("d2", "fd77::100"))
        .expect("d2 takes the IPv6 VIP");
    wait_until(Duration::from_secs(3), || {
        p.topo
            .exec("client", &["ping", "-6", "-c1", "-W1", "fd77::100"])
            .is_ok()
    })
    .expect("the IPv6 VIP answers from d2");
}

#[test]
fn unicast_peers_failover() {
    if !prerequisites("VRRP unicast", &["ip", "sysctl"]) {
        return;
    }
    let p = Pair::start(
        "uc",
        director(
            2,
            100,
            "1s",
            "10.77.0.100/24",
            "unicast_src_ip = \"10.77.0.71\"\nunicast_peer = [\"10.77.0.70\"]",
        ),
        director(
            2,
            90,
            "1s",
            "10.77.0.100/24",
            "unicast_src_ip = \"10.77.0.70\"\nunicast_peer = [\"10.77.0.71\"]",
        ),
        "10.77.0.100/24",
    );
    p.wait_holder((true, false), 8);
    p.d1.as_ref().unwrap().signal(libc::SIGKILL);
    p.topo.set_cable("d1", false).unwrap();
    wait_until(Duration::from_secs(6), || p.topo.holds("d2", &p.vip))
        .expect("d2 takes over over unicast");
}

#[test]
fn graceful_handover_loses_no_ping() {
    if !prerequisites("graceful hand-over", &["ip", "sysctl", "ping"]) {
        return;
    }
    let p = Pair::start(
        "ho",
        director(2, 100, "1s", "10.77.0.100/24", "state = \"master\""),
        director(2, 90, "1s", "10.77.0.100/24", ""),
        "10.77.0.100/24",
    );
    p.wait_holder((true, false), 8);
    p.topo
        .exec("client", &["ping", "-c1", "-W1", "10.77.0.100"])
        .unwrap();
    // 400 pings, 10 ms apart; the hand-over starts 1 s in.
    let out = std::thread::scope(|s| {
        let pinger = s.spawn(|| {
            p.topo
                .command("client", "ping")
                .args(["-i", "0.01", "-c", "400", "-W", "1", "10.77.0.100"])
                .output()
                .unwrap()
        });
        std::thread::sleep(Duration::from_secs(1));
        assert!(!pinger.is_finished(), "ping ended before the hand-over");
        p.d1.as_ref().unwrap().signal(libc::SIGUSR1);
        p.wait_holder((false, true), 4);
        pinger.join().unwrap()
    });
    let text = String::from_utf8_lossy(&out.stdout);
    let (sent, received) = ping_counts(&text);
    eprintln!("hand-over under ping: {sent} sent, {received} received");
    assert_eq!(sent, 400);
    assert_eq!(received, sent, "lost replies during the hand-over:\n{text}");
}
