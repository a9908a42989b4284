//! New connections per second through 1, 2 and 3 directors behind BGP and ECMP, in the qemu
//! guest with the real kernel's IPVS: `lvsdeck lab --bgp 3` (BIRD on every director and on
//! the router, Maglev over two web nodes in DR), a closed-loop HTTP load from the client's
//! namespace (LOAD_WORKERS connections at a time, each a connect, a GET, the answer and a
//! close, for MEASURE each turn), the directors beyond N drained (`ctl drain-director`, so the
//! router's route has N next hops). Each count of directors runs LVSDECK_BENCH_ROUNDS times
//! (default 3), the median printed, with each director's share of the connections (from its
//! IPVS counters) and the ratio to one director.
//!
//! What the figures are: under TCG every namespace shares the guest's emulated CPUs, so more
//! directors bring no more CPU; the ratio shows what the ECMP spread costs or saves with the
//! CPU held equal, and the shares show that the router spreads the connections. On hardware,
//! each director brings its own CPUs and NICs. `cargo bench --bench bgp_cps` boots the guest
//! (2 vCPUs, LVSDECK_VM_SMP to change; LVSDECK_VM_TIMEOUT 900 unless set).

#[path = "../tests/support/mod.rs"]
mod support;
#[allow(dead_code)]
#[path = "../tests/common/vm.rs"]
mod vm;

use std::ffi::OsString;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use lvsdeck::lab::PREFIX;
use lvsdeck::lab::bgp::{VIP, director, next_hops};

const LOAD_WORKERS: usize = 32;
const MEASURE: Duration = Duration::from_secs(10);

fn main() {
    if vm::in_vm() {
        return in_guest();
    }
    // `cargo test --benches` runs bench targets without --bench: nothing to do then.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    for (var, value) in [("LVSDECK_VM_TIMEOUT", "900"), ("LVSDECK_VM_SMP", "2")] {
        if std::env::var_os(var).is_none() {
            // SAFETY: single-threaded here; run.sh, started below, reads them.
            unsafe { std::env::set_var(var, value) };
        }
    }
    let exe: OsString = std::env::current_exe().expect("current_exe").into();
    match vm::boot(&[exe, "--bench".into()]) {
        Err(vm::Unavailable(reason)) => eprintln!("SKIP: bgp_cps benchmark: {reason}"),
        Ok(run) if run.exit_code == Some(0) => {}
        Ok(run) => panic!(
            "the benchmark failed in the guest (exit {:?}); see the vm| lines",
            run.exit_code
        ),
    }
}

fn sh(args: &[&str]) -> String {
    let out = Command::new(args[0]).args(&args[1..]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn ns(host: &str) -> String {
    format!("{PREFIX}-{host}")
}

fn hops() -> usize {
    next_hops(&sh(&[
        "ip",
        "-n",
        &ns("router"),
        "-j",
        "route",
        "show",
        VIP,
    ]))
    .len()
}

fn wait(what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(start.elapsed() < timeout, "{what}: not within {timeout:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn ctl(d: usize, what: &str) {
    let socket = format!("{}/{}.sock", lvsdeck::lab::RUN_DIR, director(d).0);
    let out = Command::new(env!("CARGO_BIN_EXE_lvsdeck"))
        .args(["ctl", what, "--socket", &socket])
        .output()
        .unwrap();
    assert!(out.status.success(), "ctl {what} on d{d}: {out:?}");
}

/// Connections IPVS scheduled on director `d` so far (its HTTP service's counter).
fn conns(d: usize) -> u64 {
    let out = sh(&[
        "ip",
        "netns",
        "exec",
        &ns(&director(d).0),
        "ipvsadm",
        "-Ln",
        "--stats",
    ]);
    out.lines()
        .find(|l| l.starts_with("TCP") && l.contains(&format!("{VIP}:80")))
        .and_then(|l| l.split_whitespace().nth(2))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

/// The closed-loop load from the client's namespace: completed connections in `MEASURE`.
fn load() -> u64 {
    support::in_netns(&ns("client"), || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let target: std::net::SocketAddr = format!("{VIP}:80").parse().unwrap();
            let deadline = tokio::time::Instant::now() + MEASURE;
            let workers: Vec<_> = (0..LOAD_WORKERS)
                .map(|_| {
                    tokio::spawn(async move {
                        use tokio::io::{AsyncReadExt, AsyncWriteExt};
                        let mut done = 0u64;
                        while tokio::time::Instant::now() < deadline {
                            let one = async {
                                let mut s = tokio::net::TcpStream::connect(target).await?;
                                s.write_all(b"GET / HTTP/1.0\r\n\r\n").await?;
                                let mut buf = Vec::new();
                                s.read_to_end(&mut buf).await?;
                                Ok::<bool, std::io::Error>(buf.starts_with(b"HTTP/1.0 200"))
                            };
                            if let Ok(Ok(true)) =
                                tokio::time::timeout(Duration::from_secs(3), one).await
                            {
                                done += 1;
                            }
                        }
                        done
                    })
                })
                .collect();
            let mut total = 0;
            for w in workers {
                total += w.await.unwrap_or(0);
            }
            total
        })
    })
}

struct Lab(Child);

impl Drop for Lab {
    fn drop(&mut self) {
        // SAFETY: kill(2) on our own child; SIGINT tears the lab down.
        unsafe { libc::kill(self.0.id() as i32, libc::SIGINT) };
        let _ = self.0.wait();
    }
}

fn in_guest() {
    let rounds: usize = std::env::var("LVSDECK_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let _lab = Lab(Command::new(env!("CARGO_BIN_EXE_lvsdeck"))
        .args(["lab", "--bgp", "3", "--no-console", "--rate", "1"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap());
    wait(
        "3 next hops at the router",
        Duration::from_secs(120),
        || hops() == 3,
    );
    std::thread::sleep(Duration::from_secs(3));
    // (directors, median conn/s, each director's share)
    let mut rows: Vec<(usize, f64, Vec<f64>)> = Vec::new();
    for n in [3, 2, 1] {
        if n < 3 {
            ctl(n + 1, "drain-director");
            wait("the router's next hops", Duration::from_secs(20), || {
                hops() == n
            });
            std::thread::sleep(Duration::from_secs(3));
        }
        let mut cps = Vec::new();
        let mut per = [0u64; 3];
        for _ in 0..rounds {
            let before: Vec<u64> = (1..=3).map(conns).collect();
            let done = load();
            // IPVS sums its per-CPU counters on a ~2 s timer.
            std::thread::sleep(Duration::from_secs(3));
            for (d, b) in before.iter().enumerate() {
                per[d] += conns(d + 1) - b;
            }
            cps.push(done as f64 / MEASURE.as_secs_f64());
            println!("BGP-CPS {n} director(s): {:.0} conn/s", cps[cps.len() - 1]);
        }
        cps.sort_by(f64::total_cmp);
        let total: u64 = per.iter().sum::<u64>().max(1);
        let shares = per.iter().map(|&c| c as f64 / total as f64).collect();
        rows.push((n, cps[cps.len() / 2], shares));
    }
    let one = rows.iter().find(|r| r.0 == 1).map_or(1.0, |r| r.1);
    println!("BGP-CPS directors | conn/s (median of {rounds}) | ratio to 1 | share d1 / d2 / d3");
    for (n, cps, shares) in rows {
        let s: Vec<String> = shares
            .iter()
            .map(|s| format!("{:.0}%", s * 100.0))
            .collect();
        println!(
            "BGP-CPS {n} | {cps:.0} | {:.2} | {}",
            cps / one,
            s.join(" / ")
        );
    }
}
