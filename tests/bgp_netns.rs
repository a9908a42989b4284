//! `[bgp]` against BIRD 2 (Debian's bird2), which lvsdeck drives and never replaces: three
//! directors, each lvsdeck with its own BIRD, announce one VIP to a router namespace whose
//! BIRD merges the three routes into one ECMP route in its kernel. Measured on the router's
//! kernel table (what forwards): the route has a next hop per director; a drain of a whole
//! director, its quorum lost, its BIRD killed, its graceful stop and a reload without `[bgp]`
//! each take exactly that director's next hop away, and the stop exits only `withdraw_wait`
//! after the withdrawal.
//! A drain survives a crash of lvsdeck. The host has no IPVS: forwarding through the
//! directors is tested in the guest (`tests/bgp_vm.rs`).

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use lvsdeck::engine::snapshot::Snapshot;
use lvsdeck::lab::bird::{self, Bird};
use lvsdeck::lab::netns::{HostSpec, Topology};
use support::{Proc, TempDir, lvsdeck_daemon, prerequisites, wait_until};

const VIP: &str = "10.30.0.100";
const ROUTER: &str = "10.20.0.254";

fn status(sock: &Path) -> Option<Snapshot> {
    let out = std::process::Command::new(support::lvsdeck_bin())
        .args(["status", "--json", "--socket", sock.to_str().unwrap()])
        .output()
        .ok()?;
    serde_json::from_slice(&out.stdout).ok()
}

fn ctl(sock: &Path, what: &str) -> String {
    let out = std::process::Command::new(support::lvsdeck_bin())
        .args(["ctl", what, "--socket", sock.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "ctl {what}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The next hops of the router's kernel route to the VIP (what forwards), sorted.
fn next_hops(topo: &Topology) -> Vec<String> {
    let out = topo
        .command("router", "ip")
        .args(["-j", "route", "show", VIP])
        .output()
        .unwrap();
    lvsdeck::lab::bgp::next_hops(&String::from_utf8_lossy(&out.stdout))
}

fn director_conf(dir: &TempDir, n: u32) -> String {
    let d = dir.0.display();
    format!(
        "[global]\nrouter_id = \"d{n}\"\nstate_file = \"{d}/d{n}-state.json\"\n\n\
         [bgp]\nlocal_as = 6500{n}\nbird_socket = \"{d}/d{n}-bird.ctl\"\n\
         bird_include = \"{d}/d{n}-lvsdeck.conf\"\nwithdraw_wait = \"2s\"\nhold_time = \"3s\"\n\
         [[bgp.neighbor]]\naddress = \"{ROUTER}\"\nremote_as = 65000\n\n\
         [[virtual_server]]\nip = \"{VIP}\"\nport = 80\nlvs_sched = \"mh\"\n\
         sched_flags = [\"mh-port\"]\nlvs_method = \"DR\"\nannounce = true\ndelay_loop = \"1s\"\n\
         [[virtual_server.real_server]]\nip = \"10.20.0.50\"\nport = 80\n\
         check = [{{ type = \"misc\", misc_path = \"test -e {d}/d{n}-healthy\", misc_timeout = \"2s\", \
         retry = 1, delay_before_retry = \"1s\" }}]\n"
    )
}

struct Director {
    n: u32,
    bird: Bird,
    lvsdeck: Proc,
    sock: std::path::PathBuf,
    conf: std::path::PathBuf,
}

fn addr(n: u32) -> String {
    format!("10.20.0.{n}")
}

/// The last lines of every log in `dir` (the daemons', the BIRDs'), for a failure.
fn logs(dir: &Path) -> String {
    let mut out = String::new();
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    for f in files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "log" || e == "conf"))
    {
        let text = std::fs::read_to_string(f).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(25)..].join("\n");
        out.push_str(&format!("\n--- {}\n{tail}", f.display()));
    }
    out
}

/// Waits until the router's route has exactly these directors' next hops; how long it took.
fn wait_hops(topo: &Topology, dir: &Path, want: &[u32], timeout: Duration) -> Duration {
    let want: Vec<String> = want.iter().map(|&n| addr(n)).collect();
    wait_until(timeout, || next_hops(topo) == want).unwrap_or_else(|| {
        panic!(
            "router's next hops to {VIP}: {:?}, want {want:?}{}",
            next_hops(topo),
            logs(dir)
        )
    })
}

#[test]
fn three_directors_announce_one_vip_to_an_ecmp_router() {
    if !prerequisites("bgp_netns", &[bird::BIRD]) {
        return;
    }
    let topo = Topology::build(
        &support::prefix("bgp"),
        vec![
            HostSpec::new("router", 0xfe, &["10.20.0.254/24"]),
            HostSpec::new("d1", 0x01, &["10.20.0.1/24"]),
            HostSpec::new("d2", 0x02, &["10.20.0.2/24"]),
            HostSpec::new("d3", 0x03, &["10.20.0.3/24"]),
        ],
    )
    .expect("topology");
    let dir = TempDir::new("bgp");
    let peers: Vec<bird::Peer> = (1..=3)
        .map(|n| bird::Peer {
            address: addr(n),
            asn: 65000 + n,
            bfd: false,
        })
        .collect();
    let router_conf = bird::router_config(ROUTER, 65000, &peers, 100);
    let _router = Bird::start(&topo.ns("router"), "router-bird", &router_conf, &dir.0).unwrap();
    let mut ds: Vec<Director> = (1..=3)
        .map(|n| {
            std::fs::write(dir.0.join(format!("d{n}-healthy")), "").unwrap();
            // BIRD refuses to start on a missing include: lvsdeck fills it.
            let fragment = dir.0.join(format!("d{n}-lvsdeck.conf"));
            std::fs::write(&fragment, "").unwrap();
            let bird = Bird::start(
                &topo.ns(&format!("d{n}")),
                &format!("d{n}-bird"),
                &bird::director_config(&addr(n), &fragment),
                &dir.0,
            )
            .unwrap();
            let conf = dir.write(&format!("d{n}.toml"), &director_conf(&dir, n));
            let lvsdeck = lvsdeck_daemon(&topo, &format!("d{n}"), &conf, &dir);
            Director {
                n,
                bird,
                lvsdeck,
                sock: dir.0.join(format!("d{n}.sock")),
                conf,
            }
        })
        .collect();

    let took = wait_hops(&topo, &dir.0, &[1, 2, 3], Duration::from_secs(30));
    println!("ECMP route with 3 next hops {took:?} after the start");
    for d in &ds {
        // The view follows BIRD's answers within a poll (1 s) and a publish.
        wait_until(Duration::from_secs(5), || {
            status(&d.sock)
                .and_then(|s| s.bgp)
                .is_some_and(|b| b.sessions_up() == (1, 1))
        })
        .expect("the session shown Established");
        let s = status(&d.sock).expect("status");
        let bgp = s.bgp.expect("a bgp view");
        assert!(bgp.reachable, "{bgp:?}");
        assert_eq!(bgp.sessions_up(), (1, 1), "{bgp:?}");
        assert_eq!(bgp.routes.len(), 1);
        assert!(bgp.routes[0].announced && bgp.routes[0].in_bird, "{bgp:?}");
        // The VIP is held on lo for IPVS.
        let lo = topo
            .command(&format!("d{}", d.n), "ip")
            .args(["-o", "addr", "show", "dev", "lo"])
            .output()
            .unwrap();
        assert!(String::from_utf8_lossy(&lo.stdout).contains(&format!("{VIP}/32")));
    }

    // A drain of the whole director takes its next hop away, and only its.
    let said = ctl(&ds[1].sock, "drain-director");
    assert!(said.contains("withdrawn"), "{said}");
    let took = wait_hops(&topo, &dir.0, &[1, 3], Duration::from_secs(10));
    println!("drain-director d2: next hop gone in {took:?}");
    let s = status(&ds[1].sock).unwrap();
    let bgp = s.bgp.unwrap();
    assert_eq!(bgp.drained.as_ref().map(|o| o.by.as_str()), Some("root"));
    assert!(
        bgp.routes[0].why.contains("director drained by root"),
        "{bgp:?}"
    );

    // The drain is kept across a crash of lvsdeck (its BIRD stays, announcing nothing).
    ds[1].lvsdeck.signal(libc::SIGKILL);
    ds[1].lvsdeck.wait_exit(Duration::from_secs(5));
    ds[1].lvsdeck = lvsdeck_daemon(&topo, "d2", &ds[1].conf, &dir);
    wait_until(Duration::from_secs(10), || status(&ds[1].sock).is_some()).expect("d2 back");
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        next_hops(&topo),
        [addr(1), addr(3)],
        "a restart re-announced a drained director"
    );
    ctl(&ds[1].sock, "undrain-director");
    let took = wait_hops(&topo, &dir.0, &[1, 2, 3], Duration::from_secs(10));
    println!("undrain-director d2: next hop back in {took:?}");

    // Quorum lost on d3 (its check fails): its next hop goes, and comes back with quorum.
    std::fs::remove_file(dir.0.join("d3-healthy")).unwrap();
    let took = wait_hops(&topo, &dir.0, &[1, 2], Duration::from_secs(15));
    println!("quorum lost on d3: next hop gone in {took:?}");
    // The view is published after the change (paced, a fraction of a second behind).
    wait_until(Duration::from_secs(5), || {
        status(&ds[2].sock).and_then(|s| s.bgp).is_some_and(|b| {
            b.routes[0]
                .why
                .contains("quorum lost on TCP 10.30.0.100:80")
        })
    })
    .expect("d3's view says why its address is withdrawn");
    std::fs::write(dir.0.join("d3-healthy"), "").unwrap();
    wait_hops(&topo, &dir.0, &[1, 2, 3], Duration::from_secs(15));

    // BIRD killed on d1: the router loses d1's route, lvsdeck says BIRD is down; BIRD started
    // again reads the fragment and announces again.
    ds[0].bird.kill();
    let took = wait_hops(&topo, &dir.0, &[2, 3], Duration::from_secs(10));
    println!("d1's BIRD killed: next hop gone in {took:?}");
    wait_until(Duration::from_secs(5), || {
        status(&ds[0].sock)
            .and_then(|s| s.bgp)
            .is_some_and(|b| !b.reachable && b.error.is_some())
    })
    .expect("d1 shows its BIRD down");
    ds[0].bird = Bird::start(
        &topo.ns("d1"),
        "d1-bird",
        &bird::director_config(&addr(1), &dir.0.join("d1-lvsdeck.conf")),
        &dir.0,
    )
    .unwrap();
    wait_hops(&topo, &dir.0, &[1, 2, 3], Duration::from_secs(20));
    wait_until(Duration::from_secs(5), || {
        status(&ds[0].sock)
            .and_then(|s| s.bgp)
            .is_some_and(|b| b.reachable && b.sessions_up() == (1, 1))
    })
    .expect("d1 shows its BIRD back");

    // A graceful stop: withdrawn first, the process exits withdraw_wait (2 s) later.
    let asked = Instant::now();
    ds[1].lvsdeck.signal(libc::SIGTERM);
    let gone = wait_hops(&topo, &dir.0, &[1, 3], Duration::from_secs(10));
    let code = ds[1].lvsdeck.wait_exit(Duration::from_secs(20));
    let exited = asked.elapsed();
    println!("SIGTERM d2: next hop gone after {gone:?}, lvsdeck exited after {exited:?}");
    assert_eq!(code, Some(0), "{}", ds[1].lvsdeck.log_text());
    assert!(
        exited >= gone + Duration::from_millis(1500),
        "exited {exited:?}, only {:?} after the withdrawal",
        exited - gone
    );
    let lo = topo
        .command("d2", "ip")
        .args(["-o", "addr", "show", "dev", "lo"])
        .output()
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&lo.stdout).contains(VIP),
        "the VIP stays on lo after a stop"
    );

    // A reload may not move the file BIRD includes: refused, the running one stays.
    let moved = director_conf(&dir, 3).replace("d3-lvsdeck.conf", "d3-elsewhere.conf");
    std::fs::write(&ds[2].conf, moved).unwrap();
    let out = std::process::Command::new(support::lvsdeck_bin())
        .args(["ctl", "reload", "--socket", ds[2].sock.to_str().unwrap()])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(
        said.contains("bird_include / bird_socket changed"),
        "{said}"
    );
    assert_eq!(next_hops(&topo), [addr(1), addr(3)]);

    // A reload that removes [bgp] (and `announce`) withdraws d3's address at once.
    let full = director_conf(&dir, 3);
    let (bgp, services) = (
        full.find("[bgp]").unwrap(),
        full.find("[[virtual_server]]").unwrap(),
    );
    let plain = format!("{}{}", &full[..bgp], &full[services..]).replace("announce = true\n", "");
    std::fs::write(&ds[2].conf, plain).unwrap();
    let said = ctl(&ds[2].sock, "reload");
    assert!(said.contains("reloaded"), "{said}");
    let took = wait_hops(&topo, &dir.0, &[1], Duration::from_secs(10));
    println!("reload without [bgp] on d3: next hop gone in {took:?}");
    // Off lo withdraw_wait (2 s) after BIRD took the withdrawal: packets on their way pass.
    let on_lo = || {
        let lo = topo
            .command("d3", "ip")
            .args(["-o", "addr", "show", "dev", "lo"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&lo.stdout).contains(VIP)
    };
    assert!(on_lo(), "the VIP left lo before withdraw_wait");
    let off = wait_until(Duration::from_secs(6), || !on_lo()).expect("the VIP left lo");
    println!("reload without [bgp] on d3: VIP off lo {off:?} later");
}
