//! IPVS table benchmark against the real kernel, in the qemu guest (tests/vm/): lvsdeck's
//! netlink backend and `ipvsadm` side by side in one run, on a table of 2,000 DR services x 20
//! real servers (42,000 entries):
//!
//! - cold apply: lvsdeck `apply_all` of the ops its diff gives from an empty table, against
//!   `ipvsadm -R` of the same table (`-A` / `-a` lines);
//! - full dump with stats: lvsdeck `dump()` (services and real servers, counters and rates
//!   parsed into structs), against `ipvsadm -Ln --stats > /dev/null`;
//! - a 1% change, 400 weight edits: lvsdeck `apply_all` of the 400 edit ops, and a whole
//!   reconcile pass as the daemon's IPVS thread does it (dump, diff, apply), against
//!   `ipvsadm -R` of the 400 `-e` lines, and (once) 400 separate `ipvsadm -e` commands.
//!
//! Each case runs LVSDECK_BENCH_ROUNDS times (default 3, the two alternating, each turn in a
//! fresh network namespace, removed afterwards and the CPU let go idle; the median is printed)
//! and each result is checked: the kernel's table must equal the desired one. A
//! "floor" row times the same dump requests with the replies received but not parsed: what
//! the kernel and the socket cost whoever reads the table. LVSDECK_BENCH_SERVICES=N runs a
//! smaller table (a quick try of the harness).
//! `cargo bench --bench ipvs_vm` boots the guest (LVSDECK_VM_MEM 1024 and LVSDECK_VM_TIMEOUT
//! 1200 unless set); under TCG everything runs several times slower than on hardware, for both
//! sides alike, so the ratios are the figures to read.

#[path = "../tests/support/mod.rs"]
mod support;
#[allow(dead_code)]
#[path = "../tests/common/vm.rs"]
mod vm;

use std::ffi::OsString;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use lvsdeck::ipvs::netlink::uapi::{IPVS_CMD_GET_DEST, IPVS_CMD_GET_SERVICE, IPVS_GENL_VERSION};
use lvsdeck::ipvs::netlink::{
    Incoming, Netlink, parse_dest_msg, parse_messages, parse_service_msg, request,
    service_key_attr, to_bytes,
};
use lvsdeck::ipvs::table::{self, Table};
use lvsdeck::ipvs::{Af, Dest, Fwd, IpvsBackend, Op, Protocol, Service, ServiceKey};
use neli::consts::nl::NlmF;

/// Services: 2,000, or LVSDECK_BENCH_SERVICES (a quick try of the harness).
fn services() -> usize {
    static N: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *N.get_or_init(|| {
        std::env::var("LVSDECK_BENCH_SERVICES")
            .ok()
            .and_then(|v| v.parse().ok())
            .filter(|&n: &usize| n >= 5)
            .unwrap_or(2_000)
    })
}
const REALS: usize = 20;
/// 1% of the real servers.
fn edits() -> usize {
    services() * REALS / 100
}

fn main() {
    if vm::in_vm() {
        return in_guest();
    }
    // `cargo test --benches` runs bench targets without --bench: nothing to do then.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    for (var, value) in [("LVSDECK_VM_MEM", "1024"), ("LVSDECK_VM_TIMEOUT", "1200")] {
        if std::env::var_os(var).is_none() {
            // SAFETY: single-threaded here; run.sh, started below, reads them.
            unsafe { std::env::set_var(var, value) };
        }
    }
    let exe: OsString = std::env::current_exe().expect("current_exe").into();
    match vm::boot(&[exe, "--bench".into()]) {
        Err(vm::Unavailable(reason)) => eprintln!("SKIP: ipvs_vm benchmark: {reason}"),
        Ok(run) if run.exit_code == Some(0) => {}
        Ok(run) => panic!(
            "the benchmark failed in the guest (exit {:?}); see the vm| lines",
            run.exit_code
        ),
    }
}

fn vip(i: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 1, (i / 250) as u8, (i % 250 + 1) as u8))
}

fn rip(j: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 2, 0, (j + 1) as u8))
}

fn key(i: usize) -> ServiceKey {
    ServiceKey::Addr {
        proto: Protocol::Tcp,
        addr: vip(i),
        port: 80,
    }
}

/// The edited entries: 400 distinct services, a different real server in each.
fn edited() -> impl Iterator<Item = (usize, usize)> {
    (0..edits()).map(|k| (k * (services() / edits()), k % REALS))
}

/// The table: every real server at weight 1, or the edited ones at `edit_weight`.
fn table(edit_weight: Option<u32>) -> Table {
    let mut t = Table::new();
    for i in 0..services() {
        let s = t.insert_service(Service::new(key(i), "rr"));
        for j in 0..REALS {
            let d = Dest::new(rip(j), 80, Fwd::Route, 1);
            s.dests.insert(d.key(), d);
        }
    }
    if let Some(w) = edit_weight {
        for (i, j) in edited() {
            let s = t.services.get_mut(&key(i)).unwrap();
            let d = Dest::new(rip(j), 80, Fwd::Route, w);
            s.dests.insert(d.key(), d);
        }
    }
    t
}

/// `ipvsadm -R` input that builds the whole table.
fn restore_all() -> String {
    let mut out = String::new();
    for i in 0..services() {
        let _ = writeln!(out, "-A -t {}:80 -s rr", vip(i));
        for j in 0..REALS {
            let _ = writeln!(out, "-a -t {}:80 -r {}:80 -g -w 1", vip(i), rip(j));
        }
    }
    out
}

/// The `ipvsadm` arguments of each weight edit.
fn edit_lines(weight: u32) -> Vec<String> {
    edited()
        .map(|(i, j)| format!("-e -t {}:80 -r {}:80 -g -w {weight}", vip(i), rip(j)))
        .collect()
}

/// A network namespace of its own for each cold apply: IPVS keeps deleted real servers in a
/// per-namespace trash for 1-3 minutes and every add walks that list, so an apply right after
/// a flush of 40,000 entries took 10x longer (21-31 s instead of 2.6 s for lvsdeck). Removed
/// on drop, after which the bench waits for the kernel's cleanup to finish.
struct Netns {
    name: String,
    file: std::fs::File,
}

impl Netns {
    fn new(name: &str) -> Netns {
        let ok = Command::new("ip")
            .args(["netns", "add", name])
            .status()
            .unwrap();
        assert!(ok.success(), "ip netns add {name}");
        // IPVS refuses a real server whose address type it cannot tell (EINVAL): with no
        // local routing table yet, which `lo` up creates, every address is "broadcast".
        let ok = Command::new("ip")
            .args(["-n", name, "link", "set", "lo", "up"])
            .status()
            .unwrap();
        assert!(ok.success(), "lo up in {name}");
        let file = std::fs::File::open(format!("/run/netns/{name}")).unwrap();
        Netns {
            name: name.to_string(),
            file,
        }
    }

    /// Runs `f` on a thread inside the namespace (sockets it opens stay there).
    fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        let fd = self.file.as_raw_fd();
        std::thread::scope(|s| {
            s.spawn(|| {
                // SAFETY: setns(2) on an open namespace file; it changes this thread only.
                let rc = unsafe { libc::setns(fd, libc::CLONE_NEWNET) };
                assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
                f()
            })
            .join()
            .unwrap()
        })
    }

    /// `ipvsadm ARGS` in the namespace, entered between fork and exec (no `ip netns exec`
    /// process in the timing).
    fn ipvsadm(&self, args: &[&str]) -> Command {
        let fd = self.file.as_raw_fd();
        let mut c = Command::new("ipvsadm");
        c.args(args);
        // SAFETY: only setns(2), async-signal-safe, between fork and exec.
        unsafe {
            c.pre_exec(move || {
                if libc::setns(fd, libc::CLONE_NEWNET) == 0 {
                    Ok(())
                } else {
                    Err(std::io::Error::last_os_error())
                }
            })
        };
        c
    }

    fn restore(&self, input: &str) -> Duration {
        let path = "/tmp/ipvsadm-restore.txt";
        std::fs::write(path, input).unwrap();
        let t = Instant::now();
        let out = self
            .ipvsadm(&["-R"])
            .stdin(std::fs::File::open(path).unwrap())
            .output()
            .expect("ipvsadm -R");
        let took = t.elapsed();
        assert!(
            out.status.success(),
            "ipvsadm -R: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        took
    }

    fn dump(&self) -> Duration {
        let t = Instant::now();
        let status = self
            .ipvsadm(&["-Ln", "--stats"])
            .stdout(Stdio::null())
            .status()
            .expect("ipvsadm -Ln --stats");
        let took = t.elapsed();
        assert!(status.success());
        took
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
        wait_idle();
    }
}

/// Waits until the CPU has been at least 90% idle over 250 ms (the kernel frees a deleted
/// namespace's table in the background); says how long that took.
fn wait_idle() {
    let sample = || -> (u64, u64) {
        let stat = std::fs::read_to_string("/proc/stat").unwrap();
        let cpu: Vec<u64> = stat
            .lines()
            .next()
            .unwrap()
            .split_whitespace()
            .skip(1)
            .filter_map(|v| v.parse().ok())
            .collect();
        (cpu[3] + cpu.get(4).copied().unwrap_or(0), cpu.iter().sum())
    };
    let start = Instant::now();
    loop {
        let (idle0, total0) = sample();
        std::thread::sleep(Duration::from_millis(250));
        let (idle1, total1) = sample();
        let idle = (idle1 - idle0) as f64 / (total1 - total0).max(1) as f64;
        if idle >= 0.9 || start.elapsed() > Duration::from_secs(60) {
            println!("idle {:.0}% after {}", idle * 100.0, secs(start.elapsed()));
            return;
        }
    }
}

/// The floor under any dump: the same requests as `Netlink::dump` (the service list, then
/// each service's real servers), built beforehand, sent on a plain netlink socket, and the
/// replies received and walked message by message but not parsed. Returns the time and the
/// bytes received.
fn raw_dump(
    family: u16,
    keys: &[ServiceKey],
    keep: bool,
) -> (Duration, usize, Vec<(usize, Vec<u8>)>) {
    let mut requests = vec![
        to_bytes(
            &request(
                family,
                IPVS_GENL_VERSION,
                IPVS_CMD_GET_SERVICE,
                vec![],
                NlmF::DUMP,
                1,
            )
            .unwrap(),
        )
        .unwrap(),
    ];
    for (i, k) in keys.iter().enumerate() {
        let attrs = vec![service_key_attr(k).unwrap()];
        let req = request(
            family,
            IPVS_GENL_VERSION,
            IPVS_CMD_GET_DEST,
            attrs,
            NlmF::DUMP,
            i as u32 + 2,
        );
        requests.push(to_bytes(&req.unwrap()).unwrap());
    }
    // SAFETY: plain socket calls on a descriptor this function owns and closes.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::NETLINK_GENERIC,
        )
    };
    assert!(
        fd >= 0,
        "netlink socket: {}",
        std::io::Error::last_os_error()
    );
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0;
    let mut kept = Vec::new();
    let t = Instant::now();
    for (r, req) in requests.iter().enumerate() {
        // SAFETY: sending from and receiving into live buffers of the lengths given.
        let sent = unsafe { libc::send(fd, req.as_ptr().cast(), req.len(), 0) };
        assert_eq!(sent, req.len() as isize);
        'reply: loop {
            let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), 0) };
            assert!(n > 0, "recv: {}", std::io::Error::last_os_error());
            let n = n as usize;
            total += n;
            if keep {
                kept.push((r, buf[..n].to_vec()));
            }
            let mut at = 0;
            while at + 16 <= n {
                let len = u32::from_ne_bytes(buf[at..at + 4].try_into().unwrap()) as usize;
                let ty = u16::from_ne_bytes(buf[at + 4..at + 6].try_into().unwrap());
                if ty == libc::NLMSG_DONE as u16 || ty == libc::NLMSG_ERROR as u16 {
                    break 'reply;
                }
                at += (len + 3) & !3;
            }
        }
    }
    let took = t.elapsed();
    unsafe { libc::close(fd) };
    (took, total, kept)
}

/// Where lvsdeck's time over the floor goes: decoding the same replies (kept by `raw_dump`)
/// with lvsdeck's decoder, first the netlink and generic-netlink framing (`parse_messages`,
/// in place), then the IPVS attributes (`parse_service_msg` / `parse_dest_msg`).
fn decode_cost(replies: &[(usize, Vec<u8>)]) -> (Duration, Duration, usize) {
    let t = Instant::now();
    let mut messages = Vec::new();
    for (r, bytes) in replies {
        for m in parse_messages(bytes).expect("framing") {
            if let Incoming::Payload { genl, .. } = m {
                messages.push((*r, genl));
            }
        }
    }
    let framing = t.elapsed();
    let t = Instant::now();
    for (r, genl) in &messages {
        if *r == 0 {
            parse_service_msg(genl).expect("service");
        } else {
            parse_dest_msg(genl, Af::Inet).expect("real server");
        }
    }
    (framing, t.elapsed(), messages.len())
}

fn kernel(nl: &mut Netlink) -> Table {
    Table::from_dump(&nl.dump().expect("dump"))
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn secs(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{:.1} ms", d.as_secs_f64() * 1e3)
    } else {
        format!("{:.2} s", d.as_secs_f64())
    }
}

#[derive(Default)]
struct Case {
    lvsdeck: Vec<Duration>,
    ipvsadm: Vec<Duration>,
}

fn in_guest() {
    let rounds: usize = std::env::var("LVSDECK_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(3);
    let kver = String::from_utf8_lossy(&Command::new("uname").arg("-r").output().unwrap().stdout)
        .trim()
        .to_string();
    let full = table(None);
    let restore = restore_all();
    let ops = table::reconcile(&full, None, &Table::new()).ops;
    assert_eq!(ops.len(), services() * (1 + REALS));

    let keys: Vec<ServiceKey> = (0..services()).map(key).collect();
    let (mut apply, mut plan_apply, mut dump) = (Case::default(), Vec::new(), Case::default());
    let (mut floor, mut floor_bytes) = (Vec::new(), 0);
    let mut decode = (Duration::ZERO, Duration::ZERO, 0);
    let (mut edit, mut edit_pass) = (Case::default(), Vec::new());
    let mut edit_ops = 0;
    wait_idle();
    for round in 0..rounds {
        // Alternate who goes first.
        let order = if round % 2 == 0 {
            [true, false]
        } else {
            [false, true]
        };
        for lvsdeck_turn in order {
            let who = if lvsdeck_turn { "lvsdeck" } else { "ipvsadm" };
            let ns = Netns::new(&format!("bench-{round}-{who}"));
            let mut nl = ns.run(|| Netlink::open().expect("IPVS in the namespace"));
            assert!(kernel(&mut nl).is_empty());
            if lvsdeck_turn {
                let t = Instant::now();
                let plan = table::reconcile(&full, None, &kernel(&mut nl));
                let planned = t.elapsed();
                let t = Instant::now();
                let report = nl.apply_all(&plan.ops);
                let applied = t.elapsed();
                assert!(report.is_ok(), "{:?}", report.failed.first());
                apply.lvsdeck.push(applied);
                plan_apply.push(planned + applied);
            } else {
                apply.ipvsadm.push(ns.restore(&restore));
            }
            assert_eq!(kernel(&mut nl), full, "the cold apply built the table");
            println!(
                "round {round} {who}: cold apply {}",
                secs(
                    if lvsdeck_turn {
                        &apply.lvsdeck
                    } else {
                        &apply.ipvsadm
                    }[round]
                )
            );

            // Dumps of the full table by both, in both turns (the table is the same).
            for _ in 0..2 {
                let t = Instant::now();
                let d = nl.dump().expect("dump");
                dump.lvsdeck.push(t.elapsed());
                assert_eq!(d.len(), services());
                assert_eq!(
                    d.iter().map(|s| s.dests.len()).sum::<usize>(),
                    services() * REALS
                );
                dump.ipvsadm.push(ns.dump());
            }
            let family = nl.family_id();
            let (took, bytes, _) = ns.run(|| raw_dump(family, &keys, false));
            floor.push(took);
            floor_bytes = bytes;
            if round == 0 && lvsdeck_turn {
                let (_, _, replies) = ns.run(|| raw_dump(family, &keys, true));
                decode = decode_cost(&replies);
            }

            // 1% change: weight 2 on the edited entries.
            let want = table(Some(2));
            if lvsdeck_turn {
                let ops: Vec<Op> = table::reconcile(&want, Some(&full), &full).ops;
                edit_ops = ops.len();
                let t = Instant::now();
                let report = nl.apply_all(&ops);
                edit.lvsdeck.push(t.elapsed());
                assert!(report.is_ok());
                assert_eq!(kernel(&mut nl), want);
                // Back, the way the daemon's IPVS thread does a pass: dump, diff, apply.
                let t = Instant::now();
                let actual = kernel(&mut nl);
                let plan = table::reconcile(&full, Some(&want), &actual);
                assert_eq!(plan.ops.len(), edits());
                assert!(nl.apply_all(&plan.ops).is_ok());
                edit_pass.push(t.elapsed());
                assert_eq!(kernel(&mut nl), full);
            } else {
                edit.ipvsadm
                    .push(ns.restore(&(edit_lines(2).join("\n") + "\n")));
                assert_eq!(kernel(&mut nl), want);
            }
            drop(nl);
        }
    }

    // Once: the 400 edits as 400 ipvsadm commands, as a shell script would do them.
    let ns = Netns::new("bench-separate");
    let mut nl = ns.run(|| Netlink::open().unwrap());
    assert!(nl.apply_all(&ops).is_ok());
    wait_idle();
    let script = edit_lines(2)
        .iter()
        .map(|l| format!("ipvsadm {l}"))
        .collect::<Vec<_>>()
        .join("\n");
    let t = Instant::now();
    let status = Command::new("ip")
        .args([
            "netns",
            "exec",
            "bench-separate",
            "bash",
            "-e",
            "-c",
            &script,
        ])
        .status()
        .unwrap();
    let separate = t.elapsed();
    assert!(status.success());
    assert_eq!(kernel(&mut nl), table(Some(2)));
    drop(nl);
    drop(ns);

    let all = |v: &[Duration]| v.iter().map(|d| secs(*d)).collect::<Vec<_>>().join(", ");
    println!(
        "samples: apply lvsdeck [{}] ipvsadm [{}]",
        all(&apply.lvsdeck),
        all(&apply.ipvsadm)
    );
    println!(
        "samples: dump lvsdeck [{}] ipvsadm [{}]",
        all(&dump.lvsdeck),
        all(&dump.ipvsadm)
    );
    println!("samples: floor [{}]", all(&floor));
    println!(
        "samples: 1% lvsdeck [{}] pass [{}] ipvsadm [{}]",
        all(&edit.lvsdeck),
        all(&edit_pass),
        all(&edit.ipvsadm)
    );
    let row = |name: &str, ours: Duration, theirs: Duration| {
        println!(
            "{name:<44} {:>10} {:>10} {:>7.1}x",
            secs(ours),
            secs(theirs),
            theirs.as_secs_f64() / ours.as_secs_f64()
        );
    };
    println!();
    println!(
        "IPVS, {} services x {REALS} real servers ({} entries), DR rr; kernel {kver}, qemu TCG, 1 vCPU",
        services(),
        services() * (1 + REALS)
    );
    println!(
        "median of {rounds} round(s) (dumps: of {}); ratio = ipvsadm / lvsdeck",
        2 * 2 * rounds
    );
    println!(
        "{:<44} {:>10} {:>10} {:>8}",
        "", "lvsdeck", "ipvsadm", "ratio"
    );
    row(
        &format!("cold apply, {} ops (ipvsadm -R)", ops.len()),
        median(apply.lvsdeck.clone()),
        median(apply.ipvsadm.clone()),
    );
    row(
        "  lvsdeck with its diff from an empty dump",
        median(plan_apply),
        median(apply.ipvsadm.clone()),
    );
    row(
        "full dump with stats (ipvsadm -Ln --stats)",
        median(dump.lvsdeck),
        median(dump.ipvsadm),
    );
    println!(
        "{:<44} {:>10}   ({} requests, {:.1} MB received, not parsed)",
        "  floor: the same requests, replies unparsed",
        secs(median(floor)),
        services() + 1,
        floor_bytes as f64 / 1e6
    );
    println!(
        "{:<44} {:>10}   (framing of {} messages {}, IPVS attributes {})",
        "  decoding those replies (lvsdeck's decoder)",
        secs(decode.0 + decode.1),
        decode.2,
        secs(decode.0),
        secs(decode.1)
    );
    row(
        &format!("1% change, {edit_ops} weight edits (ipvsadm -R)"),
        median(edit.lvsdeck.clone()),
        median(edit.ipvsadm.clone()),
    );
    row(
        "  lvsdeck as a daemon pass: dump + diff + apply",
        median(edit_pass.clone()),
        median(edit.ipvsadm),
    );
    row(
        &format!("  ipvsadm as {} separate ipvsadm -e (once)", edits()),
        median(edit.lvsdeck),
        separate,
    );
    let per_op = median(apply.lvsdeck).as_secs_f64() / ops.len() as f64;
    println!(
        "lvsdeck: {:.0} us per op on a cold apply ({:.0} ops/s)",
        per_op * 1e6,
        1.0 / per_op
    );
}
