//! A reload touches only what changed, on the real kernel's IPVS in the qemu guest (tests/vm/):
//! a generated configuration of 2,000 virtual services × 2 real servers and a VRRP instance;
//! one real server's weight is edited in the file and `lvsdeck ctl reload` applies exactly one
//! netlink operation (the daemon logs each applied one as `ipvs: <op>`), `ipvsadm -Ln` differs
//! by that one line, and VRRP does not move (still MASTER, `became_master` unchanged).
//!
//! `reload_in_the_guest` boots it; on the host the guest test is `#[ignore]`d.
//!
//! 2,000 services in a debug build too, since replies are decoded in place: in the TCG guest,
//! beside the fault campaign on the host's two cores as in CI, the debug daemon answers ~12 s
//! after its start, the reload returns in ~2.3 s and the kernel shows the new weight ~5 s after
//! the command (with neli's copying decoder a debug daemon
//! needed ~3 s per full dump and never idled; this test then used 200 services).

mod common;

use std::time::{Duration, Instant};

use common::guest::{self, Daemon, ipvsadm, snapshot_at};
use common::vm;
use lvsdeck::lab::netns::{HostSpec, Topology};

#[test]
fn reload_in_the_guest() {
    vm::run_tests_in_guest(&["reload_of_one_weight_among_many_services_is_one_op"]);
}

const SERVICES: u16 = 2000;
const FIRST_PORT: u16 = 10000;
const VIP: &str = "10.82.0.100";
const RS: [&str; 2] = ["10.82.0.11", "10.82.0.12"];
/// The service whose second real server gets a new weight.
const EDITED_PORT: u16 = FIRST_PORT + SERVICES / 2 + 17;

/// The configuration: a VRRP instance holding the VIP, and SERVICES services on the VIP's ports
/// FIRST_PORT.., each with both real servers at weight 1 (no checks: up), except the edited one.
fn config(edited_weight: u32) -> String {
    let mut s = format!(
        r#"[global]
router_id = "RELOAD_VM"

[vrrp_instance.VI_1]
interface = "eth0"
virtual_router_id = 52
priority = 100
state = "master"
advert_int = "1s"
virtual_ipaddress = [{{ address = "{VIP}/24" }}]
"#
    );
    for port in FIRST_PORT..FIRST_PORT + SERVICES {
        s.push_str(&format!(
            "\n[[virtual_server]]\nip = \"{VIP}\"\nport = {port}\nlvs_sched = \"wrr\"\nlvs_method = \"DR\"\n"
        ));
        for (i, rs) in RS.iter().enumerate() {
            let weight = if port == EDITED_PORT && i == 1 {
                edited_weight
            } else {
                1
            };
            s.push_str(&format!(
                "\n[[virtual_server.real_server]]\nip = \"{rs}\"\nport = {port}\nweight = {weight}\n"
            ));
        }
    }
    s
}

/// The daemon's `ipvs: <op>` log lines (ANSI colours and all) from byte `from` of its log on.
fn ops_logged(daemon: &Daemon, from: usize) -> Vec<String> {
    daemon.log_text()[from..]
        .lines()
        .filter(|l| l.contains(" ipvs: "))
        .map(|l| l[l.find(" ipvs: ").unwrap() + 1..].to_string())
        .collect()
}

#[test]
#[ignore = "runs in the guest, booted by reload_in_the_guest"]
fn reload_of_one_weight_among_many_services_is_one_op() {
    vm::guest_only("reload_of_one_weight_among_many_services_is_one_op", || {
        let topo = Topology::build("rl", vec![HostSpec::new("dir", 0x02, &["10.82.0.2/24"])])
            .expect("topology");
        let ns = topo.ns("dir");
        let dir = guest::scratch("reload");
        let path = dir.join("lvsdeck.toml");
        let t = Instant::now();
        let text = config(1);
        std::fs::write(&path, &text).unwrap();
        println!(
            "config: {SERVICES} services x {} real servers, {} KiB, written in {:.1?}",
            RS.len(),
            text.len() / 1024,
            t.elapsed()
        );

        let t = Instant::now();
        let daemon = Daemon::start(&ns, &path, &dir, "dir");
        let answered = t.elapsed();
        // The whole table in the kernel: SERVICES services, 2 real servers each.
        let want_lines = usize::from(SERVICES) * (1 + RS.len());
        let mut before = String::new();
        vm::wait_for(
            "the whole table in the kernel",
            Duration::from_secs(120),
            || {
                before = ipvsadm(&ns, "-Ln");
                guest::table_lines(&before).len() == want_lines
            },
        );
        println!(
            "daemon answered in {answered:.1?}; {want_lines} table lines in the kernel {:.1?} after the start",
            t.elapsed()
        );
        let initial_ops = ops_logged(&daemon, 0).len();
        println!("initial ops logged: {initial_ops}");
        assert_eq!(
            initial_ops, want_lines,
            "one op per service and real server"
        );
        let t = Instant::now();
        let mut last = String::new();
        while !snapshot_at(&daemon.socket).is_ok_and(|s| {
            last = s
                .vrrp
                .first()
                .map(|v| v.state.to_string())
                .unwrap_or_default();
            last == "MASTER"
        }) {
            assert!(
                t.elapsed() < Duration::from_secs(20),
                "VI_1 not MASTER 20 s after the table was in (last seen {last:?}); the daemon's log but its ops:\n{}",
                daemon
                    .log_text()
                    .lines()
                    .filter(|l| !l.contains(" ipvs: "))
                    .collect::<Vec<_>>()
                    .join("\n")
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        println!("VI_1 MASTER {:.1?} after the table was in", t.elapsed());
        // A few reconcile passes (every second) with nothing to do.
        std::thread::sleep(Duration::from_secs(3));
        let mark = daemon.log_text().len();
        std::thread::sleep(Duration::from_secs(2));
        assert!(
            ops_logged(&daemon, mark).is_empty(),
            "the table was settled: {:?}",
            ops_logged(&daemon, mark)
        );
        let before = ipvsadm(&ns, "-Ln");
        let vrrp_before = snapshot_at(&daemon.socket).unwrap().vrrp[0].clone();
        println!(
            "before the reload: {} {} became_master {}",
            vrrp_before.name, vrrp_before.state, vrrp_before.became_master
        );

        // One weight changed in the file; reload.
        std::fs::write(&path, config(3)).unwrap();
        let mark = daemon.log_text().len();
        let t = Instant::now();
        let answer = daemon.cli_ok(&["ctl", "reload"]);
        let returned = t.elapsed();
        let edited = format!("{}:{EDITED_PORT}", RS[1]);
        let service = format!("TCP {VIP}:{EDITED_PORT}");
        let (seen, _) = guest::wait_dests(&ns, &service, Duration::from_secs(20), |d| {
            d.contains(&format!("{edited} Route 3"))
        });
        println!(
            "ctl reload: {} (returned in {returned:.1?}); the kernel showed weight 3 {:.1?} after the command",
            answer.trim(),
            seen + returned
        );
        assert!(answer.contains("VRRP unchanged"), "{answer}");
        // Let a few more reconcile passes run: nothing else may follow.
        std::thread::sleep(Duration::from_secs(3));
        let ops = ops_logged(&daemon, mark);
        println!("ops logged after the reload: {ops:#?}");
        assert_eq!(
            ops,
            [format!(
                "ipvs: edit real server {edited} (Route, weight 3) of TCP {VIP}:{EDITED_PORT}"
            )],
            "exactly one netlink op"
        );
        assert!(
            !daemon.log_text()[mark..].contains("drift"),
            "{}",
            &daemon.log_text()[mark..]
        );
        // ipvsadm: the one line differs.
        let after = ipvsadm(&ns, "-Ln");
        let (b, a) = (guest::table_lines(&before), guest::table_lines(&after));
        assert_eq!(b.len(), a.len());
        let diff: Vec<(&String, &String)> = b.iter().zip(&a).filter(|(x, y)| x != y).collect();
        println!("ipvsadm -Ln before/after differ in: {diff:#?}");
        assert_eq!(
            diff,
            [(
                &format!("-> {edited} Route 1 0 0"),
                &format!("-> {edited} Route 3 0 0")
            )]
        );
        // VRRP did not move.
        let vrrp_after = snapshot_at(&daemon.socket).unwrap().vrrp[0].clone();
        println!(
            "after the reload: {} {} became_master {}",
            vrrp_after.name, vrrp_after.state, vrrp_after.became_master
        );
        assert_eq!(vrrp_after.state, "MASTER");
        assert_eq!(vrrp_after.became_master, vrrp_before.became_master);
        assert_eq!(vrrp_after.last_transition, vrrp_before.last_transition);
        assert!(topo.holds("dir", VIP));
        // Busy with 2,000 services, the daemon still told its VIP guard it lives (a director
        // that published a Snapshot after every wake-up went silent to it for seconds).
        assert!(
            !daemon.log_text().contains("no word from the daemon"),
            "{}",
            daemon.log_text()
        );
        drop(daemon);
    });
}
