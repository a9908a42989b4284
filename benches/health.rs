//! Health-check runner benchmark: 40,000 TCP checks every 6 s against real listeners on
//! 127.0.0.1, and what the runner costs: CPU time (getrusage) over a steady-state window and
//! the process's max RSS.
//!
//! Method: the listeners run in a child process (this binary again, with
//! `LVSDECK_BENCH_LISTEN` set), so the parent's getrusage counts only the runner, its event
//! consumer, and the kernel work done on their behalf (connect, the loopback handshake, the
//! reset). The parent runs everything on ONE current-thread tokio runtime. Targets are spread
//! over `PORTS` ports from 20000 up; each has one TCP_CHECK, delay_loop 6 s, keepalived's
//! default warmup (= delay_loop) so that the first round spreads over 6 s after the 1 s
//! bootstrap. The window starts after the first full round.
//!
//! `MIX=mixed`: the targets are a quarter each TCP_CHECK, HTTP_GET (`GET /`, 200 from the
//! child's HTTP listeners on the next `PORTS` ports), PING_CHECK (127.0.0.1) and DNS_CHECK
//! (`lab.test A` from Debian's dnsmasq on 127.0.0.1:5353, started here beside the runner);
//! `TARGETS=10000` is the figure in the README.
//!
//! Run: `cargo bench --bench health` (env: `TARGETS`, `PORTS`, `SECS`, `DELAY_LOOP`, `MIX`).
//! Without `--bench` (as `cargo test --all-targets` runs it) it does nothing.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use lvsdeck::config::model::{Check, CheckKind, Dur, UrlCheck};
use lvsdeck::health::{self, CheckTarget, RunnerConfig, TargetId};

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    if let Ok(spec) = std::env::var("LVSDECK_BENCH_LISTEN") {
        return listen(&spec);
    }
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let targets: usize = env("TARGETS", 40_000);
    let ports: u16 = env("PORTS", 200);
    let secs: u64 = env("SECS", 48);
    let delay_loop: u64 = env("DELAY_LOOP", 6);
    let first_port = 20_000u16;
    let mixed = std::env::var("MIX").is_ok_and(|m| m == "mixed");
    raise_nofile();
    let dnsmasq = mixed.then(|| {
        Command::new("dnsmasq")
            .args([
                "--keep-in-foreground",
                "--conf-file=/dev/null",
                "--no-resolv",
            ])
            .args([
                "--no-hosts",
                "--user=root",
                "--pid-file=",
                "--bind-interfaces",
            ])
            .args([
                "--listen-address=127.0.0.1",
                "--port=5353",
                "--local=/test/",
            ])
            .args(["--address=/lab.test/127.0.0.1", "--cache-size=0"])
            .spawn()
            .expect("dnsmasq (Debian's dnsmasq-base) for MIX=mixed")
    });

    // The listeners, in a child process.
    let mut child = Command::new(std::env::current_exe().unwrap())
        .env("LVSDECK_BENCH_LISTEN", format!("{first_port}:{ports}"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the listener process");
    let mut ready = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut ready)
        .unwrap();
    assert_eq!(ready.trim(), "ready", "listener process: {ready}");

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let report = rt.block_on(run(targets, first_port, ports, secs, delay_loop, mixed));
    drop(child.stdin.take());
    let _ = child.kill();
    let _ = child.wait();
    if let Some(mut d) = dnsmasq {
        let _ = d.kill();
        let _ = d.wait();
    }
    let listeners = rusage(libc::RUSAGE_CHILDREN);
    println!("{report}");
    println!(
        "listener process (not counted above): {:.1} s CPU over its whole life",
        listeners.cpu().as_secs_f64()
    );
}

struct Usage {
    user: Duration,
    sys: Duration,
    max_rss_kib: i64,
}

impl Usage {
    fn cpu(&self) -> Duration {
        self.user + self.sys
    }
}

fn rusage(who: i32) -> Usage {
    // SAFETY: getrusage fills the struct it is given.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(who, &mut ru);
        ru
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    Usage {
        user: tv(ru.ru_utime),
        sys: tv(ru.ru_stime),
        max_rss_kib: peak_rss_kib().unwrap_or(ru.ru_maxrss),
    }
}

/// This process's peak RSS (VmHWM). Not getrusage's ru_maxrss: that keeps the high-water
/// mark of the process before exec, so under `cargo bench` it reported cargo's ~100 MiB.
fn peak_rss_kib() -> Option<i64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn raise_nofile() {
    // SAFETY: plain getrlimit / setrlimit on a local struct.
    unsafe {
        let mut r: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) == 0 {
            r.rlim_cur = r.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &r);
        }
    }
}

#[derive(Default)]
struct Counts {
    ok: u64,
    failed: u64,
    changes: u64,
    latencies_us: Vec<u32>,
    messages: std::collections::BTreeMap<String, u64>,
}

/// The check of target `i` and the port it goes to.
fn check_of(i: usize, first_port: u16, ports: u16, mixed: bool) -> (Check, u16) {
    let port = first_port + (i % ports as usize) as u16;
    let kind = match (mixed, i % 4) {
        (false, _) | (true, 0) => CheckKind::Tcp,
        (true, 1) => CheckKind::Http,
        (true, 2) => CheckKind::Ping,
        _ => CheckKind::Dns,
    };
    let mut check = Check::new(kind);
    check.connect_timeout = Dur::from_secs(5);
    match kind {
        CheckKind::Http => {
            check.url = vec![UrlCheck {
                path: "/".into(),
                status_code: Vec::new(),
                digest: None,
                regex: None,
                regex_no_match: false,
                virtualhost: None,
            }];
            (check, port + ports)
        }
        CheckKind::Dns => {
            check.dns_name = Some("lab.test".into());
            check.dns_type = Some("A".into());
            (check, 5353)
        }
        _ => (check, port),
    }
}

async fn run(
    targets: usize,
    first_port: u16,
    ports: u16,
    secs: u64,
    delay_loop: u64,
    mixed: bool,
) -> String {
    let before_setup = rusage(libc::RUSAGE_SELF);
    let (handle, mut events) = health::spawn(RunnerConfig::default());
    let setup = Instant::now();
    for i in 0..targets {
        let (check, port) = check_of(i, first_port, ports, mixed);
        // A distinct service per target, so every id is unique.
        let service = format!("TCP 10.{}.{}.{}:80", i >> 16, (i >> 8) & 255, i & 255);
        let id = TargetId::new(service, format!("127.0.0.1:{port}").parse().unwrap());
        let mut t = CheckTarget::new(id, vec![check]);
        t.delay_loop = Duration::from_secs(delay_loop);
        handle.upsert(&t).expect("target compiles");
    }
    let setup_time = setup.elapsed();

    // Count events as the engine would consume them.
    let counts = std::sync::Arc::new(std::sync::Mutex::new(Counts::default()));
    let sink = counts.clone();
    tokio::spawn(async move {
        while let Some(ev) = events.recv().await {
            let mut c = sink.lock().unwrap();
            c.changes += ev.changes.len() as u64;
            if let Some(r) = ev.result {
                if r.ok {
                    c.ok += 1;
                } else {
                    c.failed += 1;
                    *c.messages.entry(r.message).or_default() += 1;
                }
                c.latencies_us
                    .push(r.latency.as_micros().min(u32::MAX as u128) as u32);
            }
        }
    });

    // Let the first round pass: bootstrap 1 s + warmup (delay_loop) + a margin.
    tokio::time::sleep(Duration::from_secs(delay_loop + 2)).await;
    let stats0 = handle.stats().await.unwrap();
    *counts.lock().unwrap() = Counts::default();
    let u0 = rusage(libc::RUSAGE_SELF);
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let u1 = rusage(libc::RUSAGE_SELF);
    let wall = t0.elapsed();
    let stats1 = handle.stats().await.unwrap();
    let c = std::mem::take(&mut *counts.lock().unwrap());

    let cpu = u1.cpu() - u0.cpu();
    let checks = stats1.checks_run - stats0.checks_run;
    let lateness_mean = (stats1.total_lateness - stats0.total_lateness)
        .checked_div(checks.max(1) as u32)
        .unwrap_or_default();
    let mut lat = c.latencies_us.clone();
    lat.sort_unstable();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0)
    };
    let mean_lat = lat.iter().map(|&l| l as u64).sum::<u64>() / lat.len().max(1) as u64;
    let expected = targets as f64 * wall.as_secs_f64() / delay_loop as f64;
    let mut out = String::new();
    use std::fmt::Write as _;
    let what = if mixed {
        "mixed (1/4 each TCP, HTTP, PING, DNS via dnsmasq)"
    } else {
        "TCP"
    };
    let _ = writeln!(
        out,
        "health bench: {targets} {what} targets on {ports} ports (127.0.0.1:{first_port}..), delay_loop {delay_loop} s, one current-thread runtime"
    );
    let _ = writeln!(
        out,
        "setup: {targets} upserts in {:.0} ms; setup + first round: {:.1} s CPU",
        setup_time.as_secs_f64() * 1e3,
        (u0.cpu() - before_setup.cpu()).as_secs_f64()
    );
    let _ = writeln!(
        out,
        "window: {:.1} s wall after the first round; checks run {checks} ({:.0}/s, expected ~{:.0}); results ok {} failed {} changes {}",
        wall.as_secs_f64(),
        checks as f64 / wall.as_secs_f64(),
        expected / wall.as_secs_f64(),
        c.ok,
        c.failed,
        c.changes
    );
    if !c.messages.is_empty() {
        let _ = writeln!(out, "failures: {:?}", c.messages);
    }
    let _ = writeln!(
        out,
        "runner CPU: {:.2} s ({:.2} user + {:.2} sys) = {:.1}% of one core; {:.1} us per check",
        cpu.as_secs_f64(),
        (u1.user - u0.user).as_secs_f64(),
        (u1.sys - u0.sys).as_secs_f64(),
        100.0 * cpu.as_secs_f64() / wall.as_secs_f64(),
        cpu.as_secs_f64() * 1e6 / checks.max(1) as f64
    );
    let _ = writeln!(
        out,
        "max RSS: {:.1} MiB; heap entries {}; events dropped {}",
        u1.max_rss_kib as f64 / 1024.0,
        stats1.heap_len,
        stats1.results_dropped
    );
    let _ = writeln!(
        out,
        "check latency: mean {mean_lat} us, p50 {} us, p99 {} us, max {} us; start lateness mean {:?}, max {:?}",
        pct(0.5),
        pct(0.99),
        lat.last().copied().unwrap_or(0),
        lateness_mean,
        stats1.max_lateness
    );
    out
}

fn listener(port: u16) -> tokio::net::TcpListener {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_reuseaddr(true).unwrap();
    socket
        .bind(format!("127.0.0.1:{port}").parse().unwrap())
        .unwrap_or_else(|e| panic!("bind 127.0.0.1:{port}: {e}"));
    socket.listen(1024).unwrap()
}

/// The child: accept and drop connections on `first:count` ports until stdin closes.
fn listen(spec: &str) {
    raise_nofile();
    let (first, count) = spec.split_once(':').expect("first:count");
    let (first, count): (u16, u16) = (first.parse().unwrap(), count.parse().unwrap());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        // HTTP on the next `count` ports: one 200 answer per connection.
        for port in first + count..first + 2 * count {
            let l = listener(port);
            tokio::spawn(async move {
                loop {
                    let Ok((mut s, _)) = l.accept().await else {
                        tokio::time::sleep(Duration::from_millis(1)).await;
                        continue;
                    };
                    tokio::spawn(async move {
                        use tokio::io::{AsyncReadExt, AsyncWriteExt};
                        let mut buf = [0u8; 1024];
                        let _ = s.read(&mut buf).await;
                        let _ = s
                            .write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nok\n")
                            .await;
                    });
                }
            });
        }
        for port in first..first + count {
            let l = listener(port);
            tokio::spawn(async move {
                loop {
                    match l.accept().await {
                        Ok((s, _)) => drop(s),
                        Err(_) => tokio::time::sleep(Duration::from_millis(1)).await,
                    }
                }
            });
        }
        println!("ready");
        std::io::stdout().flush().unwrap();
        // Until the parent closes our stdin.
        tokio::task::spawn_blocking(|| {
            let mut s = String::new();
            let _ = std::io::stdin().read_line(&mut s);
        })
        .await
        .unwrap();
    });
}
