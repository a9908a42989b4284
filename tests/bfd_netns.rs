//! BFD against a peer no one here wrote: FRR's bfdd (Debian's frr) in the next namespace.
//! Sessions come Up both ways over IPv4 and IPv6, take new intervals from either side with a
//! Poll/Final and no flap, and go Down on the peer's death within the detection time, each
//! side measured on the wire; tshark's BFD decoder sees no malformed packet. A session keyed
//! with SHA1 never comes Up with a peer that does not sign (FRR 8.4 has no BFD authentication).
//! Then lvsdeck's `takeover` between two lvsdeck directors: the backup takes over when the
//! master's BFD falls silent, and a BFD-only outage while adverts flow leaves one master.

mod support;

use std::time::Duration;

use lvsdeck::engine::snapshot::Snapshot;
use lvsdeck::lab::netns::{HostSpec, Topology};
use support::frr::{Frr, Peer};
use support::{Proc, TempDir, lvsdeck_daemon, prerequisites, wait_until};

fn status(sock: &std::path::Path) -> Option<Snapshot> {
    let out = std::process::Command::new(support::lvsdeck_bin())
        .args(["status", "--json", "--socket", sock.to_str().unwrap()])
        .output()
        .ok()?;
    serde_json::from_slice(&out.stdout).ok()
}

fn session<'a>(s: &'a Snapshot, name: &str) -> Option<&'a lvsdeck::snapshot::BfdView> {
    s.bfd.iter().find(|b| b.name == name)
}

fn vrrp_state(s: &Snapshot) -> String {
    s.vrrp
        .first()
        .map(|v| v.state.to_string())
        .unwrap_or_default()
}

/// The lvsdeck side's configuration: sessions to FRR over both families (and a keyed one
/// FRR cannot sign for), VI_1 in Fault while the IPv4 session is down.
fn lv_conf(min_ms: u32) -> String {
    format!(
        "[bfd_instance.to_frr4]\nneighbor_ip = \"10.88.0.2\"\nsource_ip = \"10.88.0.1\"\n\
         min_rx = \"{min_ms}ms\"\nmin_tx = \"{min_ms}ms\"\nmultiplier = 3\n\n\
         [bfd_instance.to_frr6]\nneighbor_ip = \"fd88::2\"\nsource_ip = \"fd88::1\"\n\
         min_rx = \"10ms\"\nmin_tx = \"10ms\"\nmultiplier = 3\n\n\
         [bfd_instance.keyed]\nneighbor_ip = \"10.88.0.3\"\nsource_ip = \"10.88.0.4\"\nmultiplier = 3\n\
         auth = {{ key_id = 1, secret = \"s3cret\" }}\n\n\
         [vrrp_instance.VI_1]\ninterface = \"eth0\"\nvirtual_router_id = 51\npriority = 100\n\
         advert_int = \"1s\"\nvirtual_ipaddress = [{{ address = \"10.88.0.100/24\" }}]\n\
         track_bfd = [{{ name = \"to_frr4\" }}]\n"
    )
}

/// (seconds, source, state, diag) of every BFD packet in a capture.
fn packets(pcap: &std::path::Path) -> Vec<(f64, String, u8, u8)> {
    let out = std::process::Command::new("tshark")
        .args(["-r", pcap.to_str().unwrap(), "-Y", "bfd", "-T", "fields"])
        .args(["-e", "frame.time_epoch", "-e", "ip.src", "-e", "ipv6.src"])
        .args(["-e", "bfd.sta", "-e", "bfd.diag"])
        .output()
        .expect("tshark");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let num = |s: &str| {
                let s = s.trim();
                s.strip_prefix("0x")
                    .map_or_else(|| s.parse().ok(), |h| u8::from_str_radix(h, 16).ok())
            };
            Some((
                f.first()?.parse().ok()?,
                format!("{}{}", f.get(1)?, f.get(2)?),
                num(f.get(3)?)?,
                num(f.get(4)?)?,
            ))
        })
        .collect()
}

/// From the last packet `from` sent while Up to the first Down `by` sent after it.
fn detection_gap(pk: &[(f64, String, u8, u8)], from: &str, by: &str, after: f64) -> Option<f64> {
    let down = pk
        .iter()
        .find(|p| p.0 > after && p.1 == by && p.2 == 1 && p.3 == 1)?;
    let last = pk
        .iter()
        .rev()
        .find(|p| p.0 < down.0 && p.1 == from && p.2 == 3)?;
    Some((down.0 - last.0) * 1000.0)
}

#[test]
fn frr_bfdd_interop_v4_v6_poll_final_and_detection() {
    if !prerequisites("bfd_netns", &[support::frr::BFDD, "vtysh", "tshark"]) {
        return;
    }
    let topo = Topology::build(
        &support::prefix("bfd"),
        vec![
            HostSpec::new("lv", 0x71, &["10.88.0.1/24", "fd88::1/64", "10.88.0.4/24"]),
            HostSpec::new("frr", 0x72, &["10.88.0.2/24", "fd88::2/64", "10.88.0.3/24"]),
        ],
    )
    .expect("topology");
    let dir = TempDir::new("bfd-frr");
    let pcap = dir.0.join("bfd.pcap");
    // In FRR's namespace: killing everything in lvsdeck's must not end the capture.
    let capture = Proc::spawn(
        &topo,
        "frr",
        "tshark",
        &[
            "-i",
            "eth0",
            "-f",
            "udp port 3784",
            "-w",
            pcap.to_str().unwrap(),
        ],
        dir.0.join("tshark.log"),
    );
    wait_until(Duration::from_secs(10), || {
        capture.log_text().contains("Capturing on")
    })
    .expect("tshark capturing");
    let mut frr = Frr::start(
        &topo,
        "frr",
        &[
            Peer {
                peer: "10.88.0.1",
                local: "10.88.0.2",
                rx_ms: 10,
                tx_ms: 10,
                mult: 3,
            },
            Peer {
                peer: "fd88::1",
                local: "fd88::2",
                rx_ms: 10,
                tx_ms: 10,
                mult: 3,
            },
            Peer {
                peer: "10.88.0.4",
                local: "10.88.0.3",
                rx_ms: 10,
                tx_ms: 10,
                mult: 3,
            },
        ],
        &dir,
    );
    let conf = dir.write("lv.toml", &lv_conf(10));
    let mut lv = Some(lvsdeck_daemon(&topo, "lv", &conf, &dir));
    let sock = dir.0.join("lv.sock");
    let log = |lv: &Option<Proc>| lv.as_ref().map(|p| p.log_text()).unwrap_or_default();

    // 1. Up both ways, both families; VI_1 out of Fault once the tracked session is Up.
    let both_up = wait_until(Duration::from_secs(15), || {
        let ours = status(&sock).is_some_and(|s| {
            ["to_frr4", "to_frr6"].iter().all(|n| {
                session(&s, n).is_some_and(|b| b.state == "Up" && b.remote_min_tx_us == 10_000)
            })
        });
        let theirs = ["10.88.0.1", "fd88::1"].iter().all(|p| {
            frr.peers().iter().any(|j| {
                j["peer"] == *p
                    && j["local"] != "10.88.0.3"
                    && j["status"] == "up"
                    && j["remote-transmit-interval"] == 10
            })
        });
        ours && theirs
    });
    assert!(
        both_up.is_some(),
        "sessions not Up\nlvsdeck:\n{}\nfrr:\n{}",
        log(&lv),
        frr.log()
    );
    let s = status(&sock).unwrap();
    assert_ne!(vrrp_state(&s), "FAULT", "VI_1 tracks to_frr4, which is Up");
    let v4 = session(&s, "to_frr4").unwrap();
    assert_eq!(v4.remote_min_tx_us, 10_000);
    assert_eq!(v4.detection_us, Some(30_000));
    assert_eq!(
        frr.peer("fd88::1", "fd88::2").unwrap()["remote-transmit-interval"],
        10
    );

    // 2. FRR changes its intervals (Poll from FRR, Final from us): no flap either side.
    frr.set_intervals("10.88.0.1", "10.88.0.2", 50, 40);
    let took = wait_until(Duration::from_secs(5), || {
        status(&sock).is_some_and(|s| {
            session(&s, "to_frr4")
                .is_some_and(|b| b.remote_min_tx_us == 50_000 && b.tx_interval_us == 40_000)
        })
    });
    assert!(
        took.is_some(),
        "FRR's new intervals not taken\n{}",
        log(&lv)
    );
    // 3. We change ours by a reload (Poll from us): FRR sees them, still Up.
    std::fs::write(&conf, lv_conf(20)).unwrap();
    lv.as_ref().unwrap().signal(libc::SIGHUP);
    let seen = wait_until(Duration::from_secs(10), || {
        frr.peers().iter().any(|j| {
            j["peer"] == "10.88.0.1"
                && j["local"] == "10.88.0.2"
                && j["remote-transmit-interval"] == 20
                && j["remote-receive-interval"] == 20
        })
    });
    assert!(
        seen.is_some(),
        "FRR did not see our new intervals\n{}",
        frr.log()
    );
    std::thread::sleep(Duration::from_millis(500));
    let s = status(&sock).unwrap();
    for name in ["to_frr4", "to_frr6"] {
        let b = session(&s, name).unwrap();
        assert_eq!(
            (b.state.as_str(), b.flaps),
            ("Up", 0),
            "{name} flapped: {b:?}"
        );
    }
    // Detection now: 3 x max(our 20 ms, FRR's 50 ms).
    assert_eq!(session(&s, "to_frr4").unwrap().detection_us, Some(150_000));
    let frr4 = frr.peer("10.88.0.1", "10.88.0.2").unwrap();
    assert_eq!(frr4["status"], "up");

    // 4. The keyed session: FRR does not sign, so it never comes Up, its packets counted.
    let k = session(&s, "keyed").unwrap();
    assert_ne!(k.state, "Up");
    assert!(
        s.bfd_packets_dropped
            .get("auth_missing")
            .copied()
            .unwrap_or(0)
            > 0
            || k.dropped > 0,
        "unsigned packets for a keyed session not counted: {:?}\nours: {k:?}\nFRR: {:?}",
        s.bfd_packets_dropped,
        frr.peer("10.88.0.4", "10.88.0.3")
    );

    // 5. FRR dies (SIGKILL, no AdminDown): our sessions go Down by detection; VI_1 to Fault.
    let killed_at = epoch();
    frr.kill();
    let down = wait_until(Duration::from_secs(5), || {
        status(&sock).is_some_and(|s| {
            ["to_frr4", "to_frr6"].iter().all(|n| {
                session(&s, n).is_some_and(|b| {
                    b.state == "Down"
                        && b.last_down_reason.as_deref() == Some("control detection time expired")
                })
            }) && vrrp_state(&s) == "FAULT"
        })
    });
    assert!(down.is_some(), "not Down after FRR's death\n{}", log(&lv));

    // 6. FRR back: Up again. Then lvsdeck dies: FRR detects it.
    frr.restart();
    let again = wait_until(Duration::from_secs(15), || {
        frr.peer("10.88.0.1", "10.88.0.2")
            .is_some_and(|j| j["status"] == "up")
            && frr
                .peer("fd88::1", "fd88::2")
                .is_some_and(|j| j["status"] == "up")
    });
    assert!(
        again.is_some(),
        "not Up again after FRR's restart\n{}",
        frr.log()
    );
    std::thread::sleep(Duration::from_millis(500));
    let lv_killed_at = epoch();
    support::kill_all_in(&topo, "lv");
    lv.take();
    let frr_down = wait_until(Duration::from_secs(5), || {
        [("10.88.0.1", "10.88.0.2"), ("fd88::1", "fd88::2")]
            .iter()
            .all(|(p, l)| {
                frr.peer(p, l).is_some_and(|j| {
                    j["status"] == "down" && j["diagnostic"] == "control detection time expired"
                })
            })
    });
    assert!(
        frr_down.is_some(),
        "FRR did not detect lvsdeck's death\n{}",
        frr.log()
    );
    std::thread::sleep(Duration::from_millis(300));
    drop(capture);
    std::thread::sleep(Duration::from_millis(300));

    // 7. On the wire: every BFD packet well formed; each death detected within the detection
    // time (+ 10 ms for timers and the capture's own clock), not before it less one interval.
    let malformed = std::process::Command::new("tshark")
        .args([
            "-r",
            pcap.to_str().unwrap(),
            "-Y",
            "_ws.malformed || _ws.expert.severity >= warning",
        ])
        .output()
        .expect("tshark");
    let bad = String::from_utf8_lossy(&malformed.stdout).lines().count();
    let pk = packets(&pcap);
    assert!(pk.len() > 500, "only {} BFD packets captured", pk.len());
    assert_eq!(
        bad,
        0,
        "tshark flags {bad} packets:\n{}",
        String::from_utf8_lossy(&malformed.stdout)
    );
    let ours4 = detection_gap(&pk, "10.88.0.2", "10.88.0.1", killed_at).expect("our v4 Down");
    let ours6 = detection_gap(&pk, "fd88::2", "fd88::1", killed_at).expect("our v6 Down");
    let theirs4 =
        detection_gap(&pk, "10.88.0.1", "10.88.0.2", lv_killed_at).expect("FRR's v4 Down");
    let theirs6 = detection_gap(&pk, "fd88::1", "fd88::2", lv_killed_at).expect("FRR's v6 Down");
    println!(
        "detection, last packet heard -> Down sent: lvsdeck v4 {ours4:.1} ms (150 ms), v6 {ours6:.1} ms (30 ms); \
         FRR v4 {theirs4:.1} ms (60 ms), v6 {theirs6:.1} ms (30 ms); {} packets, 0 malformed",
        pk.len()
    );
    assert!(
        (110.0..=160.0).contains(&ours4),
        "lvsdeck v4 detection {ours4:.1} ms"
    );
    assert!(
        (20.0..=40.0).contains(&ours6),
        "lvsdeck v6 detection {ours6:.1} ms"
    );
    assert!(
        theirs4 <= 70.0 && theirs6 <= 40.0,
        "FRR detection {theirs4:.1} / {theirs6:.1} ms"
    );
}

fn epoch() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// A director of the takeover pair: advert 1 s, BFD 10 ms x 3 to the other, `takeover`.
fn takeover_conf(priority: u8, peer: &str) -> String {
    format!(
        "[bfd_instance.peer]\nneighbor_ip = \"{peer}\"\nmin_rx = \"10ms\"\nmin_tx = \"10ms\"\nmultiplier = 3\n\n\
         [vrrp_instance.VI_1]\ninterface = \"eth0\"\nvirtual_router_id = 52\npriority = {priority}\n\
         advert_int = \"1s\"\nvirtual_ipaddress = [{{ address = \"10.89.0.100/24\" }}]\n\
         track_bfd = [{{ name = \"peer\", takeover = true }}]\n"
    )
}

/// When the master's session falls silent the backup takes over at once instead of after three
/// adverts; when only BFD is lost and adverts still flow, the master answers the backup's
/// advert at once and one master is left; a graceful stop (AdminDown) is no death.
#[test]
fn takeover_on_a_silent_masters_session_and_no_lasting_split_on_a_bfd_only_outage() {
    if !prerequisites("bfd_netns takeover", &["nft"]) {
        return;
    }
    let topo = Topology::build(
        &support::prefix("bft"),
        vec![
            HostSpec::new("d1", 0x71, &["10.89.0.71/24"]),
            HostSpec::new("d2", 0x70, &["10.89.0.70/24"]),
        ],
    )
    .expect("topology");
    let dir = TempDir::new("bfd-takeover");
    let vip = "10.89.0.100";
    let c1 = dir.write("d1.toml", &takeover_conf(150, "10.89.0.70"));
    let c2 = dir.write("d2.toml", &takeover_conf(100, "10.89.0.71"));
    let mut d1 = Some(lvsdeck_daemon(&topo, "d1", &c1, &dir));
    let d2 = lvsdeck_daemon(&topo, "d2", &c2, &dir);
    let s2 = dir.0.join("d2.sock");
    let settled = |topo: &Topology| {
        wait_until(Duration::from_secs(20), || {
            topo.holds("d1", vip)
                && !topo.holds("d2", vip)
                && status(&s2).is_some_and(|s| {
                    vrrp_state(&s) == "BACKUP"
                        && session(&s, "peer")
                            .is_some_and(|b| b.state == "Up" && b.tx_interval_us == 10_000)
                })
        })
    };
    assert!(
        settled(&topo).is_some(),
        "d1 master, d2 backup with BFD Up\n{}",
        d2.log_text()
    );
    std::thread::sleep(Duration::from_millis(1500));

    // 1. BFD alone lost both ways on d1 for 1.5 s while adverts flow.
    topo.exec(
        "d1",
        &[
            "nft",
            "add table inet bfdcut; \
             add chain inet bfdcut in { type filter hook input priority -10; }; \
             add rule inet bfdcut in udp dport 3784 drop; \
             add chain inet bfdcut out { type filter hook output priority -10; }; \
             add rule inet bfdcut out udp dport 3784 drop",
        ],
    )
    .expect("nft");
    std::thread::sleep(Duration::from_millis(1500));
    topo.exec("d1", &["nft", "delete table inet bfdcut"])
        .expect("nft");
    assert!(
        settled(&topo).is_some(),
        "one master after the BFD outage\n{}",
        d2.log_text()
    );
    let log2 = d2.log_text();
    let events = |what: &str| {
        log2.lines()
            .filter(|l| l.contains("lvsdeck::event") && l.contains(what))
            .count()
    };
    let (took, back) = (events("BACKUP -> MASTER"), events("MASTER -> BACKUP"));
    println!("BFD-only outage: d2 took over {took} time(s), back to BACKUP {back} time(s)");
    assert_eq!(took, back, "every takeover during the outage ended\n{log2}");
    if let Some(gap) = master_spans_ms(&log2).into_iter().reduce(f64::max) {
        println!("  longest d2 MASTER span during the outage: {gap:.1} ms");
        assert!(
            gap < 1000.0,
            "two masters for {gap:.1} ms: not ended by d1's next advert"
        );
    }

    // 2. d1 stops gracefully: its sessions say AdminDown, which is no death; the VRRP release
    // moves the VIP. Then d1 comes back and preempts.
    let before = d2.log_text().matches("taking over").count();
    let mut stopping = d1.take().unwrap();
    stopping.signal(libc::SIGTERM);
    assert!(
        stopping.wait_exit(Duration::from_secs(20)).is_some(),
        "d1 did not stop"
    );
    wait_until(Duration::from_secs(10), || topo.holds("d2", vip)).expect("d2 took over");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        d2.log_text().matches("taking over").count(),
        before,
        "a graceful stop taken for a death\n{}",
        d2.log_text()
    );
    drop(stopping);
    d1 = Some(lvsdeck_daemon(&topo, "d1", &c1, &dir));
    assert!(
        settled(&topo).is_some(),
        "d1 master again\n{}",
        d2.log_text()
    );
    // A session Up for less than a Master_Down_Interval is not trusted (dampening).
    std::thread::sleep(Duration::from_secs(4));

    // 3. d1 dies (SIGKILL + cable): d2 takes over by BFD, long before 3 adverts would.
    let killed = std::time::Instant::now();
    topo.set_cable("d1", false).unwrap();
    support::kill_all_in(&topo, "d1");
    d1.take();
    let moved =
        wait_until(Duration::from_secs(10), || topo.holds("d2", vip)).expect("d2 took over");
    println!(
        "d1 killed: VIP on d2 after {:.0} ms (Master_Down_Interval 3.6 s)",
        killed.elapsed().as_secs_f64() * 1000.0
    );
    assert!(
        moved < Duration::from_millis(1500),
        "took {moved:?}: by the advert timers, not by BFD\n{}",
        d2.log_text()
    );
    assert!(
        d2.log_text()
            .contains("master 10.89.0.71 silent (BFD down)"),
        "{}",
        d2.log_text()
    );
}

/// The lengths of d2's MASTER spans, from its log's timestamps (RFC 3339, UTC).
fn master_spans_ms(log: &str) -> Vec<f64> {
    let time = |line: &str| -> Option<f64> {
        let t = line.split_whitespace().next()?;
        let t = t.trim_start_matches(|c: char| !c.is_ascii_digit());
        // Past the colour codes: "...2026-12-02T04:59:44.042204Z\x1b[0m".
        let hms = t.split('T').nth(1)?.split('\u{1b}').next()?;
        let hms = hms.trim_end_matches('Z');
        let mut parts = hms.split(':');
        let h: f64 = parts.next()?.parse().ok()?;
        let m: f64 = parts.next()?.parse().ok()?;
        let s: f64 = parts.next()?.parse().ok()?;
        Some((h * 3600.0 + m * 60.0 + s) * 1000.0)
    };
    let mut spans = Vec::new();
    let mut since = None;
    for line in log.lines().filter(|l| l.contains("lvsdeck::event")) {
        if line.contains("BACKUP -> MASTER") {
            since = time(line);
        } else if line.contains("MASTER -> BACKUP")
            && let (Some(a), Some(b)) = (since.take(), time(line))
        {
            spans.push(b - a);
        }
    }
    spans
}
