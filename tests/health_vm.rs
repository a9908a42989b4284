//! Health checks driving the real kernel's IPVS table, in the qemu guest (tests/vm/): a director
//! namespace running `lvsdeck --daemon` with a TOML configuration, real servers in namespaces of
//! their own serving HTTP (and HTTPS with a self-signed certificate) from this test process,
//! and `ipvsadm -Ln` in the director's namespace as the referee. The daemon's own account (the
//! check results and events it publishes on its control socket, `lvsdeck status`) is read
//! alongside and has to agree.
//!
//! Checks are set short (delay_loop 1 s, connect_timeout 1 s, retry 1, delay_before_retry 1 s):
//! with keepalived's rules a server that stops answering leaves the table after retry + 1 = 2
//! failed attempts (≈1-2 s) and comes back at its first success (≤ delay_loop).
//!
//! Every check shares one boot (`health_checks_in_the_guest`); on the host they are `#[ignore]`d
//! and do nothing. Addresses are 10.81.N.x, inside namespaces the tests build and remove.

mod common;
#[path = "health_vm/dns_nat.rs"]
mod dns_nat;
#[path = "health_vm/fail_closed.rs"]
mod fail_closed;
#[path = "health_vm/persist.rs"]
mod persist;

use std::net::{SocketAddr, TcpListener as StdListener};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use common::guest::{self, Daemon, Seen, ipvsadm, now_ms, real_in, wait_dests};
use common::support::in_netns;
use common::vm;
use lvsdeck::lab::netns::{HostSpec, Topology};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

#[test]
fn health_checks_in_the_guest() {
    vm::run_tests_in_guest(&[
        "tcp_check_takes_a_dead_server_out_and_back",
        "misc_check_follows_its_script",
        "http_digest_and_https_with_a_self_signed_certificate",
        "quorum_lost_puts_the_sorry_server_in",
        "alpha_keeps_an_unchecked_server_out_of_the_table",
        "quorum_hysteresis_holds_then_needs_more_to_return",
        "dns_nat::dns_check_runs_a_nat_udp_service",
        "fail_closed::a_check_that_cannot_run_holds_its_server_down",
        "persist::a_drain_survives_a_crash_and_a_flushed_table",
    ]);
}

/// The options every check here shares.
const FAST: &str = r#"connect_timeout = "1s", retry = 1, delay_before_retry = "1s""#;
/// How long anything may take that should take a second or two (TCG, one CPU, a loaded host).
const SLOW: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------------------------------
// Web servers in the real servers' namespaces, served by one tokio runtime of this process.

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime")
    })
}

/// A self-signed certificate for "localhost" (the checker verifies none, as keepalived's
/// SSL_GET), as a TLS acceptor.
fn tls_acceptor() -> tokio_rustls::TlsAcceptor {
    let key = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert = key.cert.der().clone();
    let pkcs8 = rustls::pki_types::PrivatePkcs8KeyDer::from(key.signing_key.serialize_der());
    let config = rustls::ServerConfig::builder_with_provider(lvsdeck::health::tls::provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], pkcs8.into())
        .unwrap();
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

/// An HTTP (or HTTPS) server answering every request with `NAME\n`, listening in a namespace.
/// [`WebServer::stop`] closes its listening socket (connections are then refused);
/// [`WebServer::start`] opens it again.
struct WebServer {
    ns: String,
    addr: SocketAddr,
    name: String,
    tls: Option<tokio_rustls::TlsAcceptor>,
    task: Option<tokio::task::JoinHandle<()>>,
    /// Connections accepted.
    accepted: Arc<AtomicU64>,
}

impl WebServer {
    fn http(ns: &str, addr: &str, name: &str) -> WebServer {
        Self::new(ns, addr, name, None)
    }

    fn https(ns: &str, addr: &str, name: &str) -> WebServer {
        Self::new(ns, addr, name, Some(tls_acceptor()))
    }

    fn new(ns: &str, addr: &str, name: &str, tls: Option<tokio_rustls::TlsAcceptor>) -> WebServer {
        let mut s = WebServer {
            ns: ns.to_string(),
            addr: addr.parse().expect("address"),
            name: name.to_string(),
            tls,
            task: None,
            accepted: Arc::default(),
        };
        s.start();
        s
    }

    fn start(&mut self) {
        assert!(self.task.is_none(), "{} already serving", self.addr);
        let addr = self.addr;
        let listener = in_netns(&self.ns, || StdListener::bind(addr))
            .unwrap_or_else(|e| panic!("bind {addr}: {e}"));
        listener.set_nonblocking(true).unwrap();
        let rt = runtime();
        let _enter = rt.enter();
        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
        let (body, tls, accepted) = (
            format!("{}\n", self.name),
            self.tls.clone(),
            self.accepted.clone(),
        );
        self.task = Some(rt.spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                accepted.fetch_add(1, Ordering::Relaxed);
                let (body, tls) = (body.clone(), tls.clone());
                tokio::spawn(async move {
                    match tls {
                        None => answer(stream, &body).await,
                        Some(acceptor) => {
                            if let Ok(s) = acceptor.accept(stream).await {
                                answer(s, &body).await;
                            }
                        }
                    }
                });
            }
        }));
    }

    /// Close the listening socket (it is closed when this returns).
    fn stop(&mut self) {
        let task = self.task.take().expect("serving");
        task.abort();
        let _ = runtime().block_on(task);
    }
}

impl Drop for WebServer {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

/// Read a request head (bounded; a TCP check sends none and just closes), answer, close.
async fn answer<S: AsyncRead + AsyncWrite + Unpin>(mut s: S, body: &str) {
    let mut buf = [0u8; 4096];
    let mut seen = Vec::new();
    while !seen.windows(4).any(|w| w == b"\r\n\r\n") && seen.len() < 16 * 1024 {
        match s.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
    }
    let response = format!(
        "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = s.write_all(response.as_bytes()).await;
    let _ = s.shutdown().await;
}

/// MD5 of `text` as genhash prints it.
fn md5_hex(text: &str) -> String {
    use md5::{Digest, Md5};
    Md5::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The lab of one test: a director (10.81.N.2) and real servers, one namespace each.

struct Net {
    topo: Topology,
    n: u8,
    dir: PathBuf,
}

impl Net {
    /// The director `dir` and the named hosts with their last octets.
    fn build(tag: &str, n: u8, hosts: &[(&str, u8)]) -> Net {
        let t = Instant::now();
        let mut specs = vec![HostSpec::new("dir", 0x02, &[&format!("10.81.{n}.2/24")])];
        for (name, last) in hosts {
            specs.push(HostSpec::new(
                name,
                *last,
                &[&format!("10.81.{n}.{last}/24")],
            ));
        }
        let topo = Topology::build(&format!("hv{tag}"), specs).expect("topology");
        println!("{tag}: namespaces in {:.1?}", t.elapsed());
        Net {
            topo,
            n,
            dir: guest::scratch(&format!("hv-{tag}")),
        }
    }

    fn ip(&self, last: u8) -> String {
        format!("10.81.{}.{last}", self.n)
    }

    fn ns(&self, host: &str) -> String {
        self.topo.ns(host)
    }

    /// Writes `config` and starts the daemon in the director's namespace.
    fn daemon(&self, config: &str) -> Daemon {
        let path = self.dir.join("lvsdeck.toml");
        std::fs::write(&path, config).unwrap();
        Daemon::start(&self.ns("dir"), &path, &self.dir, "dir")
    }
}

/// A `[[virtual_server]]` (DR, rr, delay_loop 1 s) with `extra` lines, then its real servers:
/// (address, port, check) with `check` the inside of a `check = [{ ... }]`.
fn virtual_server(vip: &str, port: u16, extra: &str, reals: &[(&str, u16, &str)]) -> String {
    let mut s = format!(
        "\n[[virtual_server]]\nip = \"{vip}\"\nport = {port}\nlvs_sched = \"rr\"\nlvs_method = \"DR\"\ndelay_loop = \"1s\"\n{extra}\n"
    );
    for (ip, port, check) in reals {
        s.push_str(&format!(
            "\n[[virtual_server.real_server]]\nip = \"{ip}\"\nport = {port}\nweight = 1\ncheck = [{{ {check} }}]\n"
        ));
    }
    s
}

fn config(body: &str) -> String {
    format!("[global]\nrouter_id = \"HEALTH_VM\"\n{body}")
}

/// The real servers of `service` in the listing are exactly `want` (`address forward weight`).
fn exactly(want: &[String]) -> impl Fn(&[String]) -> bool + '_ {
    move |have: &[String]| have == want
}

fn route(addr: &str, weight: u32) -> String {
    format!("{addr} Route {weight}")
}

/// The check results of a real server from `since` (Unix ms) on.
fn checks_since(seen: &Seen, key: &str, addr: &str, since: u64) -> Vec<(u64, bool, String)> {
    seen.checks(key, addr)
        .into_iter()
        .filter(|c| c.0 >= since)
        .collect()
}

/// The first health event about `subject` from `since` on whose message starts with `prefix`.
fn health_event(seen: &Seen, subject: &str, prefix: &str, since: u64) -> Option<(u64, String)> {
    seen.events_about("health", subject)
        .into_iter()
        .find(|(at, m)| *at >= since && m.starts_with(prefix))
}

/// The line of `lvsdeck status` for real server `rs` ("10.81.1.11:80") under `service`
/// ("TCP  10.81.1.101:80").
fn status_line(status: &str, service: &str, rs: &str) -> String {
    let mut lines = status.lines().skip_while(|l| !l.starts_with(service));
    lines.next();
    lines
        .take_while(|l| l.starts_with("  ->"))
        .find(|l| l.contains(&format!("-> {rs} ")))
        .unwrap_or_else(|| panic!("no {rs} under {service} in:\n{status}"))
        .to_string()
}

/// The failed attempts from `stopped` (Unix ms) to the down event, and that event; asserts
/// there were exactly `retry + 1` and that the event names them.
fn assert_down_after_retries(
    seen: &Seen,
    key: &str,
    addr: &str,
    subject: &str,
    stopped: u64,
    retry: usize,
    failure: &str,
) -> u64 {
    let (down_at, message) = health_event(seen, subject, "down:", stopped)
        .unwrap_or_else(|| panic!("no down event for {subject}: {:#?}", seen.events));
    // A check under way when the server stopped may still end well just after `stopped`:
    // it raced the stop, and is not one of the failed attempts counted.
    let attempts: Vec<_> = checks_since(seen, key, addr, stopped)
        .into_iter()
        .filter(|c| c.0 <= down_at)
        .skip_while(|c| c.1)
        .collect();
    println!(
        "  {subject}: down {} ms after the stop: {message}; attempts {attempts:?}",
        down_at - stopped
    );
    assert_eq!(
        attempts.len(),
        retry + 1,
        "{subject}: retry {retry} means down at failed attempt {}: {attempts:?}",
        retry + 1
    );
    // Every attempt failed; the last for the reason the stop gives. An earlier one may have
    // raced the stop itself (a TLS handshake reset as the server went away).
    assert!(
        attempts.iter().all(|c| !c.1) && attempts.last().is_some_and(|c| c.2.contains(failure)),
        "{attempts:?}"
    );
    if retry > 0 {
        assert!(
            message.ends_with(&format!("({} failed attempts)", retry + 1)),
            "{message}"
        );
        // Spaced by delay_before_retry (1 s), not sooner.
        let gap = attempts[retry].0 - attempts[retry - 1].0;
        assert!(gap >= 950, "retry after {gap} ms");
    }
    down_at
}

/// The attempts from `started` to the up event; asserts the first success brought it up.
fn assert_up_at_first_success(
    seen: &Seen,
    key: &str,
    addr: &str,
    subject: &str,
    started: u64,
) -> u64 {
    let (up_at, message) = health_event(seen, subject, "up:", started)
        .unwrap_or_else(|| panic!("no up event for {subject}: {:#?}", seen.events));
    let attempts: Vec<_> = checks_since(seen, key, addr, started)
        .into_iter()
        .filter(|c| c.0 <= up_at)
        .collect();
    println!(
        "  {subject}: up {} ms after the start: {message}; attempts {attempts:?}",
        up_at - started
    );
    assert_eq!(
        attempts.iter().filter(|c| c.1).count(),
        1,
        "{subject}: up at its first success: {attempts:?}"
    );
    assert!(attempts.last().is_some_and(|c| c.1), "{attempts:?}");
    up_at
}

/// Waits until every (service key, address) has a check result in the daemon's snapshots.
fn wait_checked(watch: &guest::Watch, targets: &[(&str, &str)]) -> Duration {
    watch.wait("a first check of every real server", SLOW, |seen| {
        targets
            .iter()
            .all(|(key, addr)| !seen.checks(key, addr).is_empty())
    })
}

/// The ipvs events (applied operations) naming `rs` from `since` on.
fn ipvs_ops(seen: &Seen, rs: &str, since: u64) -> Vec<(u64, String)> {
    seen.events
        .iter()
        .filter(|e| e.kind == "ipvs" && e.at_ms >= since && e.message.contains(rs))
        .map(|e| (e.at_ms, e.message.clone()))
        .collect()
}

// ---------------------------------------------------------------------------------------------

/// (a) TCP_CHECK: a stopped real server leaves the table after retry + 1 failed attempts and
/// returns at its first success; (b) the same server under `inhibit_on_failure` stays with
/// weight 0. Both services check the same two servers, so one stop shows both.
#[test]
#[ignore = "runs in the guest, booted by health_checks_in_the_guest"]
fn tcp_check_takes_a_dead_server_out_and_back() {
    vm::guest_only("tcp_check_takes_a_dead_server_out_and_back", || {
        let net = Net::build("tcp", 1, &[("rs1", 11), ("rs2", 12)]);
        let (rs1, rs2) = (net.ip(11), net.ip(12));
        let mut web1 = WebServer::http(&net.ns("rs1"), &format!("{rs1}:80"), "rs1");
        let _web2 = WebServer::http(&net.ns("rs2"), &format!("{rs2}:80"), "rs2");
        let (vip_a, vip_b) = (net.ip(101), net.ip(102));
        let tcp = format!(r#"type = "tcp", {FAST}"#);
        let reals = [
            (rs1.as_str(), 80, tcp.as_str()),
            (rs2.as_str(), 80, tcp.as_str()),
        ];
        let daemon = net.daemon(&config(&format!(
            "{}{}",
            virtual_server(&vip_a, 80, "", &reals),
            virtual_server(&vip_b, 80, "inhibit_on_failure = true", &reals),
        )));
        let watch = daemon.watch();
        let dir = net.ns("dir");
        let (a, b) = (format!("TCP {vip_a}:80"), format!("TCP {vip_b}:80"));
        let (key_a, key_b) = (format!("TCP  {vip_a}:80"), format!("TCP  {vip_b}:80"));
        let (rs1_80, rs2_80) = (format!("{rs1}:80"), format!("{rs2}:80"));
        let both = [route(&rs1_80, 1), route(&rs2_80, 1)];
        wait_dests(&dir, &a, SLOW, exactly(&both));
        wait_dests(&dir, &b, SLOW, exactly(&both));
        let t = wait_checked(
            &watch,
            &[
                (&key_a, &rs1),
                (&key_a, &rs2),
                (&key_b, &rs1),
                (&key_b, &rs2),
            ],
        );
        println!("first checks seen {t:.1?} after the daemon answered");
        println!("{}", ipvsadm(&dir, "-Ln"));

        // Stop rs1's server: connections to it are refused from now on.
        let stopped = now_ms();
        web1.stop();
        let (out_a, _) = wait_dests(&dir, &a, SLOW, exactly(&[route(&rs2_80, 1)]));
        let (zero_b, listing) = wait_dests(
            &dir,
            &b,
            SLOW,
            exactly(&[route(&rs1_80, 0), route(&rs2_80, 1)]),
        );
        println!(
            "rs1 stopped: out of {a} in {out_a:.1?}, weight 0 in {b} in {zero_b:.1?}\n{listing}"
        );
        // Settle: the reports of the change reach the watcher.
        std::thread::sleep(Duration::from_millis(600));
        let seen = watch.seen();
        let subject_a = format!("{vip_a}:80 -> {rs1}:80");
        let subject_b = format!("{vip_b}:80 -> {rs1}:80");
        let down_a =
            assert_down_after_retries(&seen, &key_a, &rs1, &subject_a, stopped, 1, "refused");
        let down_b =
            assert_down_after_retries(&seen, &key_b, &rs1, &subject_b, stopped, 1, "refused");
        println!("  ipvs ops: {:#?}", ipvs_ops(&seen, &rs1_80, stopped));
        // The kernel changed after the down events: rs1 deleted from A, weight 0 in B.
        let ops = ipvs_ops(&seen, &rs1_80, stopped);
        assert!(
            ops.iter().any(|(at, m)| *at >= down_a
                && m == &format!("delete real server {rs1_80} of TCP {vip_a}:80")),
            "{ops:#?}"
        );
        assert!(
            ops.iter().any(|(at, m)| *at >= down_b
                && m.starts_with(&format!("edit real server {rs1_80} (Route, weight 0"))),
            "{ops:#?}"
        );

        // What the operator sees: down, with the last check's message.
        let status = daemon.status();
        println!("{status}");
        let line_a = status_line(&status, &key_a, &rs1_80);
        assert!(
            line_a.contains(" down ") && line_a.contains("not in table"),
            "{line_a}"
        );
        let line_b = status_line(&status, &key_b, &rs1_80);
        assert!(
            line_b.split_whitespace().nth(3) == Some("0") && line_b.contains(" down "),
            "{line_b}"
        );
        let snap = daemon.snapshot();
        for key in [&key_a, &key_b] {
            let r = real_in(&snap, key, &rs1).expect("rs1 in the snapshot");
            let c = r.last_check.as_ref().expect("a last check");
            println!(
                "  status --json {key} -> {rs1}: health {}, in_table {}, weight {}, last check: ok {} \"{}\" ({:.1} ms)",
                r.health, r.in_table, r.weight, c.ok, c.message, c.latency_ms
            );
            assert_eq!(r.health, "down");
            assert!(!c.ok && c.message.contains("connection refused"), "{c:?}");
        }
        assert!(!real_in(&snap, &key_a, &rs1).unwrap().in_table);
        assert!(real_in(&snap, &key_b, &rs1).unwrap().in_table);

        // Start it again: back at the first success.
        let started = now_ms();
        web1.start();
        let (back_a, _) = wait_dests(&dir, &a, SLOW, exactly(&both));
        let (back_b, listing) = wait_dests(&dir, &b, SLOW, exactly(&both));
        println!(
            "rs1 started: back in {a} in {back_a:.1?}, weight 1 in {b} in {back_b:.1?}\n{listing}"
        );
        std::thread::sleep(Duration::from_millis(600));
        let seen = watch.seen();
        assert_up_at_first_success(&seen, &key_a, &rs1, &subject_a, started);
        assert_up_at_first_success(&seen, &key_b, &rs1, &subject_b, started);
        // rs2 never moved.
        assert!(
            seen.events_about("health", &format!("-> {rs2}:80"))
                .is_empty(),
            "{:#?}",
            seen.events
        );
        let status = daemon.status();
        assert!(
            status_line(&status, &key_a, &rs1_80).contains(" up "),
            "{status}"
        );
        drop(watch);
        drop(daemon);
    });
}

/// (c) MISC_CHECK: a script whose exit code comes from a file: 0 up, 1 down (after retry + 1
/// attempts), and with misc_dynamic an exit code 2 + N sets the weight to N.
#[test]
#[ignore = "runs in the guest, booted by health_checks_in_the_guest"]
fn misc_check_follows_its_script() {
    vm::guest_only("misc_check_follows_its_script", || {
        let net = Net::build("misc", 2, &[("rs1", 11), ("rs2", 12)]);
        let (rs1, rs2) = (net.ip(11), net.ip(12));
        let vip = net.ip(101);
        let code = net.dir.join("rs1.code");
        std::fs::write(&code, "0\n").unwrap();
        let script = net.dir.join("check-rs1.sh");
        std::fs::write(
            &script,
            format!(
                "#!/bin/bash\n# exits with the code written in {0}\nexit \"$(cat {0})\"\n",
                code.display()
            ),
        )
        .unwrap();
        vm::sh(&format!("chmod 755 {}", script.display()));
        let misc = format!(
            r#"type = "misc", misc_path = "{} {rs1}", misc_timeout = "2s", misc_dynamic = true, {FAST}"#,
            script.display()
        );
        // rs2's script always succeeds (`true`): it stays as it is throughout.
        let always = format!(r#"type = "misc", misc_path = "/bin/true", {FAST}"#);
        let daemon = net.daemon(&config(&virtual_server(
            &vip,
            80,
            "",
            &[
                (rs1.as_str(), 80, misc.as_str()),
                (rs2.as_str(), 80, always.as_str()),
            ],
        )));
        let watch = daemon.watch();
        let dir = net.ns("dir");
        let svc = format!("TCP {vip}:80");
        let key = format!("TCP  {vip}:80");
        let (rs1_80, rs2_80) = (format!("{rs1}:80"), format!("{rs2}:80"));
        let subject = format!("{vip}:80 -> {rs1}:80");
        wait_checked(&watch, &[(&key, &rs1), (&key, &rs2)]);
        wait_dests(
            &dir,
            &svc,
            SLOW,
            exactly(&[route(&rs1_80, 1), route(&rs2_80, 1)]),
        );
        let first = watch.seen().checks(&key, &rs1);
        assert_eq!(first[0].2, "exit 0", "{first:?}");

        // exit 1: down.
        let failed = now_ms();
        std::fs::write(&code, "1\n").unwrap();
        let (t, listing) = wait_dests(&dir, &svc, SLOW, exactly(&[route(&rs2_80, 1)]));
        println!("script exits 1: rs1 out in {t:.1?}\n{listing}");
        std::thread::sleep(Duration::from_millis(600));
        let seen = watch.seen();
        assert_down_after_retries(&seen, &key, &rs1, &subject, failed, 1, "exit 1");
        let snap = daemon.snapshot();
        let r = real_in(&snap, &key, &rs1).unwrap();
        println!(
            "  status --json: health {}, last check {:?}",
            r.health, r.last_check
        );
        assert_eq!(r.health, "down");
        assert_eq!(r.last_check.as_ref().unwrap().message, "exit 1");

        // exit 0: back at the first success.
        let fixed = now_ms();
        std::fs::write(&code, "0\n").unwrap();
        let (t, _) = wait_dests(
            &dir,
            &svc,
            SLOW,
            exactly(&[route(&rs1_80, 1), route(&rs2_80, 1)]),
        );
        println!("script exits 0: rs1 back in {t:.1?}");
        std::thread::sleep(Duration::from_millis(600));
        assert_up_at_first_success(&watch.seen(), &key, &rs1, &subject, fixed);

        // misc_dynamic: exit 7 -> weight 5, at once (a success, no retries).
        let dynamic = now_ms();
        std::fs::write(&code, "7\n").unwrap();
        let (t, listing) = wait_dests(
            &dir,
            &svc,
            SLOW,
            exactly(&[route(&rs1_80, 5), route(&rs2_80, 1)]),
        );
        println!("script exits 7 (misc_dynamic): rs1 at weight 5 in {t:.1?}\n{listing}");
        std::thread::sleep(Duration::from_millis(600));
        let seen = watch.seen();
        let weight = health_event(&seen, &subject, "weight", dynamic);
        println!("  {weight:?}");
        assert!(
            weight.is_some_and(|(_, m)| m.starts_with("weight 1 -> 5")),
            "{:#?}",
            seen.events
        );
        let status = daemon.status();
        println!("{status}");
        assert!(
            status_line(&status, &key, &rs1_80).contains(" up "),
            "{status}"
        );
        drop(watch);
        drop(daemon);
    });
}

/// (d) SSL_GET against a server with a self-signed certificate, and (e) a digest: the right
/// MD5 keeps a server, a wrong one takes it out, over HTTP and over HTTPS.
#[test]
#[ignore = "runs in the guest, booted by health_checks_in_the_guest"]
fn http_digest_and_https_with_a_self_signed_certificate() {
    vm::guest_only(
        "http_digest_and_https_with_a_self_signed_certificate",
        || {
            let net = Net::build("http", 3, &[("rs1", 11), ("rs2", 12)]);
            let (rs1, rs2) = (net.ip(11), net.ip(12));
            let _http1 = WebServer::http(&net.ns("rs1"), &format!("{rs1}:80"), "rs1");
            let _http2 = WebServer::http(&net.ns("rs2"), &format!("{rs2}:80"), "rs2");
            let mut https1 = WebServer::https(&net.ns("rs1"), &format!("{rs1}:443"), "rs1");
            let _https2 = WebServer::https(&net.ns("rs2"), &format!("{rs2}:443"), "rs2");
            let vip = net.ip(101);
            let (good1, good2) = (md5_hex("rs1\n"), md5_hex("rs2\n"));
            let wrong = md5_hex("not what rs2 says\n");
            let http = |digest: &str| {
                format!(r#"type = "http", {FAST}, url = [{{ path = "/", digest = "{digest}" }}]"#)
            };
            let https = |digest: Option<&str>| match digest {
                None => format!(r#"type = "https", {FAST}, url = [{{ path = "/" }}]"#),
                Some(d) => {
                    format!(r#"type = "https", {FAST}, url = [{{ path = "/", digest = "{d}" }}]"#)
                }
            };
            let (h1, h2) = (http(&good1), http(&wrong));
            let (s1, s2) = (https(None), https(Some(&wrong)));
            let daemon = net.daemon(&config(&format!(
                "{}{}",
                virtual_server(
                    &vip,
                    80,
                    "",
                    &[
                        (rs1.as_str(), 80, h1.as_str()),
                        (rs2.as_str(), 80, h2.as_str())
                    ]
                ),
                virtual_server(
                    &vip,
                    443,
                    "",
                    &[
                        (rs1.as_str(), 443, s1.as_str()),
                        (rs2.as_str(), 443, s2.as_str())
                    ]
                ),
            )));
            let watch = daemon.watch();
            let dir = net.ns("dir");
            let (svc80, svc443) = (format!("TCP {vip}:80"), format!("TCP {vip}:443"));
            let (key80, key443) = (format!("TCP  {vip}:80"), format!("TCP  {vip}:443"));
            wait_checked(
                &watch,
                &[
                    (&key80, &rs1),
                    (&key80, &rs2),
                    (&key443, &rs1),
                    (&key443, &rs2),
                ],
            );
            let rs1_443 = format!("{rs1}:443");
            wait_dests(
                &dir,
                &svc80,
                SLOW,
                exactly(&[route(&format!("{rs1}:80"), 1)]),
            );
            let (_, listing) = wait_dests(&dir, &svc443, SLOW, exactly(&[route(&rs1_443, 1)]));
            println!("{listing}");
            std::thread::sleep(Duration::from_millis(600));
            let snap = daemon.snapshot();
            let last = |key: &str, addr: &str| {
                let r = real_in(&snap, key, addr).expect("in the snapshot");
                println!(
                    "  {key} -> {addr}: health {}, last check {:?}",
                    r.health, r.last_check
                );
                (r.health, r.last_check.clone().expect("checked"))
            };
            // The right digest over HTTP, no digest over HTTPS: up, "HTTP 200".
            for key in [&key80, &key443] {
                let (health, check) = last(key, &rs1);
                assert_eq!((health.as_str(), check.ok), ("up", true));
                assert_eq!(check.message, "HTTP 200");
            }
            // A wrong digest: down at the first failure (as at startup), saying what it got.
            for key in [&key80, &key443] {
                let (health, check) = last(key, &rs2);
                assert_eq!(health, "down");
                assert_eq!(check.message, format!("digest mismatch (got {good2})"));
            }
            let status = daemon.status();
            println!("{status}");
            for (key, rs) in [
                (&key80, format!("{rs2}:80")),
                (&key443, format!("{rs2}:443")),
            ] {
                let line = status_line(&status, key, &rs);
                assert!(
                    line.contains(" down ") && line.contains("not in table"),
                    "{line}"
                );
            }

            // The HTTPS server stops: rs1 leaves the 443 service (refused, retry + 1 attempts),
            // and comes back with it.
            let stopped = now_ms();
            https1.stop();
            let (t, _) = wait_dests(&dir, &svc443, SLOW, |d| d.is_empty());
            println!("HTTPS server of rs1 stopped: out in {t:.1?}");
            std::thread::sleep(Duration::from_millis(600));
            let subject = format!("{vip}:443 -> {rs1}:443");
            assert_down_after_retries(
                &watch.seen(),
                &key443,
                &rs1,
                &subject,
                stopped,
                1,
                "refused",
            );
            let started = now_ms();
            https1.start();
            let (t, _) = wait_dests(&dir, &svc443, SLOW, exactly(&[route(&rs1_443, 1)]));
            println!("HTTPS server of rs1 started: back in {t:.1?}");
            std::thread::sleep(Duration::from_millis(600));
            assert_up_at_first_success(&watch.seen(), &key443, &rs1, &subject, started);
            drop(watch);
            drop(daemon);
        },
    );
}

/// (f) quorum 2 over two servers of weight 1 with a sorry server: one down loses the quorum
/// and the sorry server takes the service alone (keepalived takes the live servers out too);
/// both down keeps it so; both back restores the pool and removes the sorry server.
#[test]
#[ignore = "runs in the guest, booted by health_checks_in_the_guest"]
fn quorum_lost_puts_the_sorry_server_in() {
    vm::guest_only("quorum_lost_puts_the_sorry_server_in", || {
        let net = Net::build("quorum", 4, &[("rs1", 11), ("rs2", 12), ("sorry", 13)]);
        let (rs1, rs2, sorry) = (net.ip(11), net.ip(12), net.ip(13));
        let mut web1 = WebServer::http(&net.ns("rs1"), &format!("{rs1}:80"), "rs1");
        let mut web2 = WebServer::http(&net.ns("rs2"), &format!("{rs2}:80"), "rs2");
        let _sorry = WebServer::http(&net.ns("sorry"), &format!("{sorry}:80"), "sorry");
        let vip = net.ip(101);
        let tcp = format!(r#"type = "tcp", {FAST}"#);
        let daemon = net.daemon(&config(&virtual_server(
            &vip,
            80,
            &format!("quorum = 2\nsorry_server = {{ ip = \"{sorry}\", port = 80 }}"),
            &[
                (rs1.as_str(), 80, tcp.as_str()),
                (rs2.as_str(), 80, tcp.as_str()),
            ],
        )));
        let watch = daemon.watch();
        let dir = net.ns("dir");
        let svc = format!("TCP {vip}:80");
        let key = format!("TCP  {vip}:80");
        let (rs1_80, rs2_80, sorry_80) = (
            format!("{rs1}:80"),
            format!("{rs2}:80"),
            format!("{sorry}:80"),
        );
        let pool = [route(&rs1_80, 1), route(&rs2_80, 1)];
        wait_checked(&watch, &[(&key, &rs1), (&key, &rs2)]);
        let (_, listing) = wait_dests(&dir, &svc, SLOW, exactly(&pool));
        println!("quorum up:\n{listing}");
        let quorum_events = |seen: &Seen, since: u64| -> Vec<(u64, String)> {
            seen.events_about("health", &format!("{vip}:80"))
                .into_iter()
                .filter(|(at, m)| *at >= since && m.starts_with("quorum"))
                .collect()
        };

        // One of two down: live weight 1 < quorum 2.
        let t0 = now_ms();
        web1.stop();
        let (t, listing) = wait_dests(&dir, &svc, SLOW, exactly(&[route(&sorry_80, 1)]));
        println!("rs1 stopped: sorry server alone after {t:.1?}\n{listing}");
        std::thread::sleep(Duration::from_millis(600));
        let seen = watch.seen();
        let q = quorum_events(&seen, t0);
        println!("  {q:?}");
        assert_eq!(q.len(), 1, "{:#?}", seen.events);
        assert_eq!(q[0].1, "quorum lost (live weight 1)");
        let snap = daemon.snapshot();
        let s = guest::service_in(&snap, &key).unwrap();
        assert!(!s.quorum_up && s.sorry_active, "{s:?}");
        let status = daemon.status();
        println!("{status}");
        assert!(
            status_line(&status, &key, &rs1_80).contains(" down "),
            "{status}"
        );
        // rs2 is up, but out of the table while the sorry server serves.
        let line2 = status_line(&status, &key, &rs2_80);
        assert!(
            line2.contains(" up ") && line2.contains("not in table"),
            "{line2}"
        );
        // The sorry server reads as such, at the weight it has, not as a stranger.
        let sorry_line = status_line(&status, &key, &sorry_80);
        assert!(
            sorry_line.contains(" sorry ") && !sorry_line.contains("configured"),
            "{sorry_line}"
        );
        // A server that is down says why.
        assert!(
            status_line(&status, &key, &rs1_80).contains("last check: "),
            "{status}"
        );

        // Both down: the sorry server stays, nothing else changes in the kernel.
        let t1 = now_ms();
        web2.stop();
        watch.wait("rs2 down", SLOW, |seen| {
            health_event(seen, &format!("-> {rs2_80}"), "down:", t1).is_some()
        });
        let (_, listing) = wait_dests(&dir, &svc, SLOW, exactly(&[route(&sorry_80, 1)]));
        println!("rs2 stopped too:\n{listing}");
        std::thread::sleep(Duration::from_millis(1500));
        let (_, listing) = wait_dests(&dir, &svc, SLOW, exactly(&[route(&sorry_80, 1)]));
        let seen = watch.seen();
        assert!(quorum_events(&seen, t1).is_empty(), "{:#?}", seen.events);
        assert!(ipvs_ops(&seen, "", t1).is_empty(), "{:#?}", seen.events);
        let snap = daemon.snapshot();
        for addr in [&rs1, &rs2] {
            assert_eq!(real_in(&snap, &key, addr).unwrap().health, "down");
        }
        let _ = listing;

        // rs1 back: live weight 1, still short of the quorum.
        let t2 = now_ms();
        web1.start();
        watch.wait("rs1 up", SLOW, |seen| {
            health_event(seen, &format!("-> {rs1_80}"), "up:", t2).is_some()
        });
        std::thread::sleep(Duration::from_millis(600));
        wait_dests(&dir, &svc, SLOW, exactly(&[route(&sorry_80, 1)]));
        // Both back: quorum up, the pool back, the sorry server out.
        let t3 = now_ms();
        web2.start();
        let (t, listing) = wait_dests(&dir, &svc, SLOW, exactly(&pool));
        println!("rs1 and rs2 back: pool restored {t:.1?} after rs2 started\n{listing}");
        std::thread::sleep(Duration::from_millis(600));
        let seen = watch.seen();
        let q = quorum_events(&seen, t2);
        println!("  {q:?}");
        assert_eq!(q.len(), 1, "{:#?}", seen.events);
        assert!(
            q[0].0 >= t3 && q[0].1 == "quorum up (live weight 2)",
            "{q:?}"
        );
        let snap = daemon.snapshot();
        let s = guest::service_in(&snap, &key).unwrap();
        assert!(s.quorum_up && !s.sorry_active, "{s:?}");
        drop(watch);
        drop(daemon);
    });
}

/// (g) `alpha`: a real server enters the table only after a check succeeds. Two services on
/// one director, one with alpha, one without, each with a live server and one where nothing
/// listens. Polled from the daemon's start: under alpha the dead server never appears and the
/// live one comes in after its first check; without alpha both start in, and the dead one is
/// taken out when its retries fail.
#[test]
#[ignore = "runs in the guest, booted by health_checks_in_the_guest"]
fn alpha_keeps_an_unchecked_server_out_of_the_table() {
    vm::guest_only("alpha_keeps_an_unchecked_server_out_of_the_table", || {
        let net = Net::build("alpha", 5, &[("rs1", 11), ("rs2", 12)]);
        let (rs1, rs2) = (net.ip(11), net.ip(12));
        let _web80 = WebServer::http(&net.ns("rs1"), &format!("{rs1}:80"), "rs1");
        let _web81 = WebServer::http(&net.ns("rs1"), &format!("{rs1}:81"), "rs1");
        let vip = net.ip(101);
        let tcp = format!(r#"type = "tcp", {FAST}"#);
        let reals = |port| {
            [
                (rs1.as_str(), port, tcp.as_str()),
                (rs2.as_str(), port, tcp.as_str()),
            ]
        };
        let body = virtual_server(&vip, 80, "alpha = true", &reals(80))
            + &virtual_server(&vip, 81, "", &reals(81));
        let daemon = net.daemon(&config(&body));
        let dir = net.ns("dir");
        // Every table the kernel showed for each service over the first seconds.
        let mut seen80: Vec<Vec<String>> = Vec::new();
        let mut seen81: Vec<Vec<String>> = Vec::new();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(8) {
            let listing = ipvsadm(&dir, "-Ln");
            for (seen, port) in [(&mut seen80, 80), (&mut seen81, 81)] {
                let dests = guest::dests_of(&listing, &format!("TCP {vip}:{port}"));
                if seen.last() != Some(&dests) {
                    seen.push(dests);
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        println!("alpha service, tables seen: {seen80:?}");
        println!("no alpha, tables seen: {seen81:?}");
        let rs2_in = |seen: &[Vec<String>], port| {
            seen.iter()
                .any(|t| t.iter().any(|d| d.starts_with(&format!("{rs2}:{port} "))))
        };
        assert!(!rs2_in(&seen80, 80), "alpha: the dead server never entered");
        assert_eq!(
            seen80.last().unwrap(),
            &[route(&format!("{rs1}:80"), 1)],
            "alpha: the live server came in after its check"
        );
        assert!(
            rs2_in(&seen81, 81),
            "without alpha the dead server starts in the table: {seen81:?}"
        );
        assert_eq!(
            seen81.last().unwrap(),
            &[route(&format!("{rs1}:81"), 1)],
            "and is taken out when its retries fail"
        );
        // The console and `status` say why the dead one is out.
        let status = daemon.status();
        assert!(
            status_line(&status, &format!("TCP  {vip}:80"), &format!("{rs2}:80"))
                .contains("last check: "),
            "{status}"
        );
    });
}

/// (h) quorum 2 with hysteresis 1 over three servers of weight 1: the quorum holds down to a
/// live weight of 1 (quorum - hysteresis), is lost at 0, and once lost needs 3 (quorum +
/// hysteresis) to come back, not 2: the flapping keepalived's hysteresis exists to prevent.
#[test]
#[ignore = "runs in the guest, booted by health_checks_in_the_guest"]
fn quorum_hysteresis_holds_then_needs_more_to_return() {
    vm::guest_only("quorum_hysteresis_holds_then_needs_more_to_return", || {
        let net = Net::build("hyst", 6, &[("rs1", 11), ("rs2", 12), ("rs3", 13)]);
        let names = ["rs1", "rs2", "rs3"];
        let ips: Vec<String> = [11, 12, 13].iter().map(|l| net.ip(*l)).collect();
        let mut webs: Vec<WebServer> = names
            .iter()
            .zip(&ips)
            .map(|(n, ip)| WebServer::http(&net.ns(n), &format!("{ip}:80"), n))
            .collect();
        let vip = net.ip(101);
        let tcp = format!(r#"type = "tcp", {FAST}"#);
        let reals: Vec<(&str, u16, &str)> = ips
            .iter()
            .map(|ip| (ip.as_str(), 80, tcp.as_str()))
            .collect();
        let daemon = net.daemon(&config(&virtual_server(
            &vip,
            80,
            "quorum = 2\nhysteresis = 1",
            &reals,
        )));
        let watch = daemon.watch();
        let key = format!("TCP  {vip}:80");
        let targets: Vec<(&str, &str)> = ips.iter().map(|ip| (key.as_str(), ip.as_str())).collect();
        wait_checked(&watch, &targets);
        let quorum = |since: u64| -> Vec<String> {
            watch
                .seen()
                .events_about("health", &format!("{vip}:80"))
                .into_iter()
                .filter(|(at, m)| *at >= since && m.starts_with("quorum"))
                .map(|(_, m)| m)
                .collect()
        };
        let quorum_up = || {
            guest::service_in(&daemon.snapshot(), &key)
                .expect("the service")
                .quorum_up
        };
        assert!(quorum_up(), "3 of 3 live: quorum up");
        let t0 = now_ms();
        // Each step: one server stops or starts, the check sees it, then the quorum is read.
        let mut step = |i: usize, up: bool, live: u64| {
            let since = now_ms();
            if up {
                webs[i].start();
            } else {
                webs[i].stop();
            }
            let word = if up { "up:" } else { "down:" };
            watch.wait(&format!("{} {word}", names[i]), SLOW, |seen| {
                health_event(seen, &format!("-> {}:80", ips[i]), word, since).is_some()
            });
            std::thread::sleep(Duration::from_millis(500));
            let up_now = quorum_up();
            println!(
                "{} {}: live weight {live}, quorum up {up_now}",
                names[i],
                if up { "started" } else { "stopped" }
            );
            up_now
        };
        assert!(step(0, false, 2), "live 2 >= quorum: up");
        assert!(step(1, false, 1), "live 1 >= quorum - hysteresis: still up");
        assert_eq!(quorum(t0), Vec::<String>::new(), "no quorum event so far");
        assert!(!step(2, false, 0), "live 0: lost");
        assert_eq!(quorum(t0), ["quorum lost (live weight 0)"]);
        let t1 = now_ms();
        assert!(
            !step(0, true, 1),
            "live 1 < quorum + hysteresis: still lost"
        );
        assert!(
            !step(1, true, 2),
            "live 2 < quorum + hysteresis: still lost"
        );
        assert_eq!(
            quorum(t1),
            Vec::<String>::new(),
            "no flap back at the quorum itself"
        );
        assert!(step(2, true, 3), "live 3 = quorum + hysteresis: up again");
        assert_eq!(quorum(t1), ["quorum up (live weight 3)"]);
    });
}
