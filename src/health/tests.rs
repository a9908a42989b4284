//! Checks against real servers on 127.0.0.1: TCP listeners, a tiny HTTP server whose answers
//! the tests set (status, body, chunked, slowness), the same over TLS with a certificate made
//! at test time, and shell scripts. Nothing is mocked.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::*;
use crate::config::model::{Check, CheckKind, Dur, StatusRange, UrlCheck, VrrpScript};

const MS: Duration = Duration::from_millis(1);

// ---------------------------------------------------------------------------------------------
// Servers.

/// What the test HTTP server answers for a path.
#[derive(Debug, Clone)]
struct Route {
    status: u16,
    body: Vec<u8>,
    chunked: bool,
    delay: Duration,
}

/// A tiny HTTP server the tests control; it records each request and TLS SNI name.
#[derive(Clone, Default)]
struct Web {
    routes: Arc<Mutex<HashMap<String, Route>>>,
    requests: Arc<Mutex<Vec<String>>>,
    sni: Arc<Mutex<Vec<Option<String>>>>,
}

impl Web {
    fn route(&self, path: &str, status: u16, body: &str) -> &Self {
        self.set(
            path,
            Route {
                status,
                body: body.as_bytes().to_vec(),
                chunked: false,
                delay: Duration::ZERO,
            },
        )
    }

    fn set(&self, path: &str, route: Route) -> &Self {
        self.routes.lock().unwrap().insert(path.into(), route);
        self
    }

    fn last_request(&self) -> String {
        self.requests
            .lock()
            .unwrap()
            .last()
            .cloned()
            .unwrap_or_default()
    }

    async fn serve<S: AsyncRead + AsyncWrite + Unpin>(&self, mut s: S) {
        let mut req = Vec::new();
        let mut buf = [0u8; 4096];
        while !req.windows(4).any(|w| w == b"\r\n\r\n") {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => req.extend_from_slice(&buf[..n]),
            }
        }
        let text = String::from_utf8_lossy(&req).to_string();
        let path = text.split(' ').nth(1).unwrap_or("/").to_string();
        self.requests.lock().unwrap().push(text);
        let route = self.routes.lock().unwrap().get(&path).cloned();
        let route = route.unwrap_or(Route {
            status: 404,
            body: b"not found".to_vec(),
            chunked: false,
            delay: Duration::ZERO,
        });
        tokio::time::sleep(route.delay).await;
        let mut out = Vec::new();
        if route.chunked {
            out.extend_from_slice(
                format!(
                    "HTTP/1.1 {} X\r\nTransfer-Encoding: chunked\r\n\r\n",
                    route.status
                )
                .as_bytes(),
            );
            for piece in route.body.chunks(7) {
                out.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
                out.extend_from_slice(piece);
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(b"0\r\n\r\n");
        } else {
            out.extend_from_slice(
                format!(
                    "HTTP/1.0 {} X\r\nContent-Length: {}\r\n\r\n",
                    route.status,
                    route.body.len()
                )
                .as_bytes(),
            );
            out.extend_from_slice(&route.body);
        }
        let _ = s.write_all(&out).await;
        let _ = s.shutdown().await;
    }
}

/// Accepts and drops connections; dropped (aborted) to stop listening.
async fn tcp_listener(addr: &str) -> (SocketAddr, JoinHandle<()>) {
    let l = TcpListener::bind(addr).await.unwrap();
    let local = l.local_addr().unwrap();
    let task = tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            drop(s);
        }
    });
    (local, task)
}

async fn http_server(web: &Web) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let web = web.clone();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            let web = web.clone();
            tokio::spawn(async move { web.serve(s).await });
        }
    });
    addr
}

async fn https_server(web: &Web) -> SocketAddr {
    let key = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert = key.cert.der().clone();
    let pkcs8 = rustls::pki_types::PrivatePkcs8KeyDer::from(key.signing_key.serialize_der());
    let config = rustls::ServerConfig::builder_with_provider(tls::provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], pkcs8.into())
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let web = web.clone();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            let (web, acceptor) = (web.clone(), acceptor.clone());
            tokio::spawn(async move {
                if let Ok(tls) = acceptor.accept(s).await {
                    let sni = tls.get_ref().1.server_name().map(str::to_string);
                    web.sni.lock().unwrap().push(sni);
                    web.serve(tls).await;
                }
            });
        }
    });
    addr
}

// ---------------------------------------------------------------------------------------------
// Helpers.

fn target(real: SocketAddr, checks: Vec<Check>) -> CheckTarget {
    CheckTarget::new(TargetId::new("TCP 192.0.2.100:80", real), checks)
}

/// One attempt of one check against `real`.
async fn attempt(real: SocketAddr, check: Check) -> CheckResult {
    attempt_target(target(real, vec![check])).await
}

async fn attempt_target(t: CheckTarget) -> CheckResult {
    let c = t.compile().unwrap();
    c.specs[0].probe.run().await
}

fn url(path: &str) -> UrlCheck {
    UrlCheck {
        path: path.into(),
        status_code: Vec::new(),
        digest: None,
        regex: None,
        regex_no_match: false,
        virtualhost: None,
    }
}

fn http(kind: CheckKind, urls: Vec<UrlCheck>) -> Check {
    let mut c = Check::new(kind);
    c.url = urls;
    c.connect_timeout = Dur::from_secs(2);
    c
}

fn md5_hex(s: &str) -> String {
    use md5::{Digest, Md5};
    http_parse::hex(&Md5::digest(s.as_bytes()))
}

fn summary(r: &CheckResult) -> (bool, &str) {
    (r.ok, r.message.as_str())
}

static DIRS: AtomicU32 = AtomicU32::new(0);

fn temp_dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "lvsdeck-health-{}-{}",
        std::process::id(),
        DIRS.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn script(dir: &std::path::Path, name: &str, body: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path.display().to_string()
}

fn misc(line: &str, timeout: Duration) -> Check {
    let mut c = Check::new(CheckKind::Misc);
    c.misc_path = Some(line.into());
    c.misc_timeout = Some(Dur(timeout));
    c
}

fn alive(pid: i32) -> bool {
    // A zombie no longer runs; reaped, it is gone.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat.contains(") Z "),
        Err(_) => false,
    }
}

async fn wait_dead(pid: i32, within: Duration) -> bool {
    let end = Instant::now() + within;
    while Instant::now() < end {
        if !alive(pid) {
            return true;
        }
        tokio::time::sleep(20 * MS).await;
    }
    !alive(pid)
}

async fn read_pid(path: &std::path::Path) -> i32 {
    for _ in 0..100 {
        if let Ok(s) = std::fs::read_to_string(path)
            && let Ok(pid) = s.trim().parse()
        {
            return pid;
        }
        tokio::time::sleep(10 * MS).await;
    }
    panic!("no pid in {}", path.display());
}

/// The next event with a change, within `limit`.
async fn next_change(rx: &mut mpsc::Receiver<HealthEvent>, limit: Duration) -> HealthEvent {
    tokio::time::timeout(limit, async {
        loop {
            let ev = rx.recv().await.expect("runner alive");
            if !ev.changes.is_empty() {
                return ev;
            }
        }
    })
    .await
    .expect("a change in time")
}

fn quick_runner() -> (HealthHandle, mpsc::Receiver<HealthEvent>) {
    spawn(RunnerConfig {
        bootstrap_delay: Duration::ZERO,
        seed: Some(1),
        ..RunnerConfig::default()
    })
}

// ---------------------------------------------------------------------------------------------
// TCP.

#[tokio::test]
async fn tcp_connects_then_is_refused_when_the_listener_stops() {
    let (addr, listener) = tcp_listener("127.0.0.1:0").await;
    let r = attempt(addr, Check::new(CheckKind::Tcp)).await;
    assert_eq!(summary(&r), (true, "connected"));
    assert!(r.latency < Duration::from_secs(1));
    listener.abort();
    let _ = listener.await;
    let r = attempt(addr, Check::new(CheckKind::Tcp)).await;
    assert_eq!(summary(&r), (false, "connection refused"));
}

#[tokio::test]
async fn tcp_connect_ip_port_and_bind_address() {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    // The real server's own address has nothing; connect_ip / connect_port point at the
    // listener, and the check binds to 127.0.0.2.
    let mut c = Check::new(CheckKind::Tcp);
    c.connect_ip = Some(addr.ip());
    c.connect_port = Some(addr.port());
    c.bind_ip = Some("127.0.0.2".parse().unwrap());
    let real: SocketAddr = "127.0.0.1:1".parse().unwrap();
    let (r, accepted) = tokio::join!(attempt(real, c), l.accept());
    assert_eq!(summary(&r), (true, "connected"));
    assert_eq!(accepted.unwrap().1.ip().to_string(), "127.0.0.2");
}

#[tokio::test]
async fn a_source_address_not_on_this_host_means_no_attempt_not_a_failure() {
    // keepalived: "socket bind failed. Rescheduling.", the checker left as it was.
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let real = l.local_addr().unwrap();
    for kind in [
        CheckKind::Tcp,
        CheckKind::Smtp,
        CheckKind::Http,
        CheckKind::Udp,
    ] {
        let mut c = Check::new(kind);
        c.bind_ip = Some("192.0.2.123".parse().unwrap());
        if kind == CheckKind::Http {
            c.url.push(url("/"));
        }
        let r = attempt(real, c).await;
        assert!(r.not_run && !r.ok, "{kind:?}: {r:?}");
        assert_eq!(r.outcome(), Outcome::NotRun);
        assert!(
            r.message
                .starts_with("not run: cannot bind to 192.0.2.123:0: address not available"),
            "{kind:?}: {}",
            r.message
        );
    }
}

#[tokio::test]
async fn tcp_connect_times_out_when_syns_go_unanswered() {
    // A listener that never accepts, with a backlog of one: once its queue is full the
    // kernel drops further SYNs, so the next connection attempt hangs.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let l = socket.listen(1).unwrap();
    let addr = l.local_addr().unwrap();
    let mut fillers = Vec::new();
    for _ in 0..8 {
        match tokio::time::timeout(200 * MS, tokio::net::TcpStream::connect(addr)).await {
            Ok(Ok(s)) => fillers.push(s),
            _ => break,
        }
    }
    let mut c = Check::new(CheckKind::Tcp);
    c.connect_timeout = Dur::from_millis(300);
    let r = attempt(addr, c).await;
    assert_eq!(summary(&r), (false, "timeout after 300ms"));
    assert!(r.latency >= 300 * MS && r.latency < Duration::from_secs(2));
    drop(l);
}

#[tokio::test]
async fn runner_marks_tcp_down_after_retries_and_up_after_one_success() {
    let (addr, listener) = tcp_listener("127.0.0.1:0").await;
    let mut c = Check::new(CheckKind::Tcp);
    c.retry = 2;
    c.delay_before_retry = Some(Dur::from_millis(100));
    c.warmup = Some(Dur::ZERO);
    c.connect_timeout = Dur::from_secs(1);
    let mut t = target(addr, vec![c]);
    t.delay_loop = 300 * MS;
    let (h, mut rx) = quick_runner();
    h.upsert(&t).unwrap();
    // Results flow while it is up.
    let ev = tokio::time::timeout(Duration::from_secs(2), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ev.id, t.id);
    assert_eq!(ev.result.as_ref().map(summary), Some((true, "connected")));
    assert_eq!(h.state(&t.id).await.unwrap().up, Some(true));

    listener.abort();
    let _ = listener.await;
    let stopped = Instant::now();
    let down = next_change(&mut rx, Duration::from_secs(3)).await;
    let took = stopped.elapsed();
    assert_eq!(
        down.changes,
        [Change::Down {
            reason: format!("TCP {addr}: connection refused (3 failed attempts)")
        }]
    );
    // First failure within a delay_loop, then two retries 100 ms apart.
    assert!(took >= 200 * MS && took < 900 * MS, "{took:?}");
    assert_eq!(down.state.up, Some(false));

    let (again, _listener) = tcp_listener(&addr.to_string()).await;
    assert_eq!(again, addr);
    let up = next_change(&mut rx, Duration::from_secs(3)).await;
    assert_eq!(
        up.changes,
        [Change::Up {
            reason: format!("TCP {addr}: connected")
        }]
    );
    let stats = h.stats().await.unwrap();
    assert_eq!(stats.targets, 1);
    assert!(stats.checks_run >= 5);
}

// ---------------------------------------------------------------------------------------------
// HTTP.

#[tokio::test]
async fn http_status_codes_default_and_ranges() {
    let web = Web::default();
    web.route("/ok", 200, "fine")
        .route("/empty", 204, "")
        .route("/moved", 301, "")
        .route("/busy", 503, "busy");
    let addr = http_server(&web).await;
    let r = attempt(addr, http(CheckKind::Http, vec![url("/ok")])).await;
    assert_eq!(summary(&r), (true, "HTTP 200"));
    let r = attempt(addr, http(CheckKind::Http, vec![url("/empty")])).await;
    assert_eq!(summary(&r), (true, "HTTP 204"));
    // Default 200-299: a redirect fails, as with keepalived.
    let r = attempt(addr, http(CheckKind::Http, vec![url("/moved")])).await;
    assert_eq!(summary(&r), (false, "HTTP 301"));
    let r = attempt(addr, http(CheckKind::Http, vec![url("/busy")])).await;
    assert_eq!(summary(&r), (false, "HTTP 503"));
    // Listed codes and ranges replace the default.
    let ranges = |u: &str, codes: &[&str]| {
        let mut u = url(u);
        u.status_code = codes
            .iter()
            .map(|c| c.parse::<StatusRange>().unwrap())
            .collect();
        u
    };
    let r = attempt(
        addr,
        http(CheckKind::Http, vec![ranges("/moved", &["200-299", "301"])]),
    )
    .await;
    assert_eq!(summary(&r), (true, "HTTP 301"));
    let r = attempt(
        addr,
        http(CheckKind::Http, vec![ranges("/ok", &["300-599"])]),
    )
    .await;
    assert_eq!(summary(&r), (false, "HTTP 200"));
    let r = attempt(
        addr,
        http(CheckKind::Http, vec![ranges("/nothing", &["404"])]),
    )
    .await;
    assert_eq!(summary(&r), (true, "HTTP 404"));
}

#[tokio::test]
async fn http_digest_as_genhash_computes_it() {
    let web = Web::default();
    web.route("/page", 200, "<html>hello</html>\n");
    let addr = http_server(&web).await;
    let mut good = url("/page");
    good.digest = Some(md5_hex("<html>hello</html>\n"));
    let r = attempt(addr, http(CheckKind::Http, vec![good.clone()])).await;
    assert_eq!(summary(&r), (true, "HTTP 200"));
    // Upper case hex is read too.
    let mut upper = good.clone();
    upper.digest = good.digest.as_ref().map(|d| d.to_uppercase());
    assert!(attempt(addr, http(CheckKind::Http, vec![upper])).await.ok);
    // The page changes: mismatch, and the message shows what came.
    web.route("/page", 200, "<html>changed</html>\n");
    let r = attempt(addr, http(CheckKind::Http, vec![good])).await;
    assert_eq!(
        summary(&r),
        (
            false,
            format!(
                "digest mismatch (got {})",
                md5_hex("<html>changed</html>\n")
            )
            .as_str()
        )
    );
}

#[tokio::test]
async fn http_regex_on_the_body() {
    let web = Web::default();
    web.route("/status", 200, "db: ok\ncache: ok\n");
    web.route("/degraded", 200, "db: ok\ncache: FAILED\n");
    let addr = http_server(&web).await;
    let re = |path: &str| {
        let mut u = url(path);
        u.regex = Some(r"(?m)^cache: ok$".into());
        u
    };
    let r = attempt(addr, http(CheckKind::Http, vec![re("/status")])).await;
    assert_eq!(summary(&r), (true, "HTTP 200"));
    let r = attempt(addr, http(CheckKind::Http, vec![re("/degraded")])).await;
    assert_eq!(summary(&r), (false, "regex did not match"));
    // keepalived's `regex_no_match`: the same regex, the verdicts swapped.
    let no_match = |path: &str| {
        let mut u = re(path);
        u.regex_no_match = true;
        u
    };
    let r = attempt(addr, http(CheckKind::Http, vec![no_match("/status")])).await;
    assert_eq!(summary(&r), (false, "regex matched (regex_no_match)"));
    let r = attempt(addr, http(CheckKind::Http, vec![no_match("/degraded")])).await;
    assert_eq!(summary(&r), (true, "HTTP 200"));
}

#[tokio::test]
async fn http11_chunked_body_is_decoded_before_digest_and_regex() {
    let web = Web::default();
    let body = "a body long enough to need several chunks of seven bytes";
    web.set(
        "/chunked",
        Route {
            status: 200,
            body: body.as_bytes().to_vec(),
            chunked: true,
            delay: Duration::ZERO,
        },
    );
    let addr = http_server(&web).await;
    let mut u = url("/chunked");
    u.digest = Some(md5_hex(body));
    u.regex = Some("several chunks".into());
    let mut t = target(addr, vec![http(CheckKind::Http, vec![u])]);
    t.http_version = HttpVersion::Http11;
    let r = attempt_target(t).await;
    assert_eq!(summary(&r), (true, "HTTP 200"));
    assert!(web.last_request().starts_with("GET /chunked HTTP/1.1\r\n"));
    assert!(web.last_request().contains("Connection: close\r\n"));
}

#[tokio::test]
async fn http_slow_answer_times_out() {
    let web = Web::default();
    web.set(
        "/slow",
        Route {
            status: 200,
            body: b"late".to_vec(),
            chunked: false,
            delay: Duration::from_secs(3),
        },
    );
    let addr = http_server(&web).await;
    let mut c = http(CheckKind::Http, vec![url("/slow")]);
    c.connect_timeout = Dur::from_millis(400);
    let r = attempt(addr, c).await;
    assert_eq!(summary(&r), (false, "timeout after 400ms"));
    assert!(r.latency >= 400 * MS && r.latency < Duration::from_secs(2));
}

#[tokio::test]
async fn http_host_header_from_url_check_service_or_address() {
    let web = Web::default();
    web.route("/", 200, "x");
    let addr = http_server(&web).await;
    let host = |web: &Web| {
        web.last_request()
            .lines()
            .find_map(|l| l.strip_prefix("Host: ").map(str::to_string))
            .unwrap()
    };
    // Nothing set: the address and port.
    assert!(
        attempt(addr, http(CheckKind::Http, vec![url("/")]))
            .await
            .ok
    );
    assert_eq!(host(&web), addr.to_string());
    // The service's virtualhost.
    let mut t = target(addr, vec![http(CheckKind::Http, vec![url("/")])]);
    t.virtualhost = Some("service.example".into());
    assert!(attempt_target(t.clone()).await.ok);
    assert_eq!(host(&web), "service.example");
    // The check's beats it.
    t.checks[0].virtualhost = Some("check.example".into());
    assert!(attempt_target(t.clone()).await.ok);
    assert_eq!(host(&web), "check.example");
    // The URL's beats both.
    t.checks[0].url[0].virtualhost = Some("url.example".into());
    assert!(attempt_target(t).await.ok);
    assert_eq!(host(&web), "url.example");
    assert!(web.last_request().contains("User-Agent: KeepAliveClient"));
}

#[tokio::test]
async fn http_every_url_must_pass() {
    let web = Web::default();
    web.route("/a", 200, "a").route("/b", 500, "b");
    let addr = http_server(&web).await;
    let r = attempt(addr, http(CheckKind::Http, vec![url("/a"), url("/a")])).await;
    assert_eq!(summary(&r), (true, "HTTP 200"));
    let r = attempt(addr, http(CheckKind::Http, vec![url("/a"), url("/b")])).await;
    assert_eq!(summary(&r), (false, "HTTP 500 (/b)"));
}

#[tokio::test]
async fn http_against_a_non_http_server_or_nothing() {
    // A server that closes at once.
    let (addr, _l) = tcp_listener("127.0.0.1:0").await;
    let r = attempt(addr, http(CheckKind::Http, vec![url("/")])).await;
    assert!(!r.ok);
    assert!(
        ["empty response", "sending request: connection reset"].contains(&r.message.as_str())
            || r.message.starts_with("reading response"),
        "{}",
        r.message
    );
    // Nothing listening.
    drop(_l);
    let free = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let r = attempt(free, http(CheckKind::Http, vec![url("/")])).await;
    assert_eq!(summary(&r), (false, "connection refused"));
}

// ---------------------------------------------------------------------------------------------
// HTTPS.

#[tokio::test]
async fn https_with_a_self_signed_certificate_is_not_verified() {
    let web = Web::default();
    let body = "secure hello";
    web.route("/health", 200, body);
    let addr = https_server(&web).await;
    let mut u = url("/health");
    u.digest = Some(md5_hex(body));
    let r = attempt(addr, http(CheckKind::Https, vec![u])).await;
    assert_eq!(summary(&r), (true, "HTTP 200"));
    // No SNI without enable_sni (and none for an address).
    assert_eq!(web.sni.lock().unwrap().last(), Some(&None));

    web.route("/health", 503, "");
    let r = attempt(addr, http(CheckKind::Https, vec![url("/health")])).await;
    assert_eq!(summary(&r), (false, "HTTP 503"));
}

#[tokio::test]
async fn https_sends_sni_from_the_virtualhost_when_enabled() {
    let web = Web::default();
    web.route("/", 200, "ok");
    let addr = https_server(&web).await;
    let mut c = http(CheckKind::Https, vec![url("/")]);
    c.virtualhost = Some("www.example.com".into());
    let r = attempt(addr, c.clone()).await;
    assert!(r.ok, "{}", r.message);
    assert_eq!(web.sni.lock().unwrap().last(), Some(&None));
    assert!(web.last_request().contains("Host: www.example.com\r\n"));
    c.enable_sni = true;
    let r = attempt(addr, c.clone()).await;
    assert!(r.ok, "{}", r.message);
    assert_eq!(
        web.sni.lock().unwrap().last(),
        Some(&Some("www.example.com".to_string()))
    );
    // The URL's virtualhost is the SNI name for that URL.
    c.url[0].virtualhost = Some("api.example.com".into());
    assert!(attempt(addr, c).await.ok);
    assert_eq!(
        web.sni.lock().unwrap().last(),
        Some(&Some("api.example.com".to_string()))
    );
}

#[tokio::test]
async fn https_against_plain_http_fails_the_handshake() {
    // A plain HTTP server waits for a request that never comes: the handshake times out.
    let web = Web::default();
    let addr = http_server(&web).await;
    let mut c = http(CheckKind::Https, vec![url("/")]);
    c.connect_timeout = Dur::from_millis(300);
    let r = attempt(addr, c).await;
    assert_eq!(summary(&r), (false, "TLS handshake timeout after 300ms"));
    // One that answers in clear at once: the handshake fails.
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let _ = s.write_all(b"HTTP/1.0 400 Bad Request\r\n\r\n").await;
        }
    });
    let r = attempt(addr, http(CheckKind::Https, vec![url("/")])).await;
    assert!(!r.ok);
    assert!(
        r.message.starts_with("TLS handshake failed: "),
        "{}",
        r.message
    );
}

// ---------------------------------------------------------------------------------------------
// MISC.

#[tokio::test]
async fn misc_exit_codes() {
    let dir = temp_dir();
    let exit = script(&dir, "exit.sh", "exit \"$1\"");
    let any: SocketAddr = "127.0.0.1:80".parse().unwrap();
    let run = |line: String, dynamic: bool| {
        let mut c = misc(&line, Duration::from_secs(5));
        c.misc_dynamic = dynamic;
        attempt(any, c)
    };
    // Executed directly (no shell needed), with its arguments.
    let r = run(format!("{exit} 0"), false).await;
    assert_eq!((r.ok, r.message.as_str(), r.weight), (true, "exit 0", None));
    let r = run(format!("{exit} 1"), false).await;
    assert_eq!(summary(&r), (false, "exit 1"));
    let r = run(format!("{exit} 5"), false).await;
    assert_eq!(summary(&r), (false, "exit 5"));
    let r = run(format!("{exit} 5"), true).await;
    assert_eq!(
        (r.ok, r.message.as_str(), r.weight),
        (
            true,
            "exit 5: weight 3",
            Some(crate::health::state::WeightSet::To(3))
        )
    );
    let r = run(format!("{exit} 1"), true).await;
    assert_eq!(summary(&r), (false, "exit 1"));
    // A line that needs a shell.
    let r = run(format!("{exit} 0 && test -e /nonexistent-lvsdeck"), false).await;
    assert_eq!(summary(&r), (false, "exit 1"));
    let r = run(format!("echo hi | {exit} 0"), false).await;
    assert_eq!(summary(&r), (true, "exit 0"));
    // A program that is not there.
    let r = run("/nonexistent/lvsdeck-check".into(), false).await;
    assert!(!r.ok);
    assert!(
        r.message
            .starts_with("cannot run /nonexistent/lvsdeck-check"),
        "{}",
        r.message
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn misc_timeout_kills_the_script_and_its_children() {
    let dir = temp_dir();
    let pids = dir.join("pids");
    // A child in the background, and the script itself waiting.
    let line = script(
        &dir,
        "hang.sh",
        &format!("sleep 30 &\necho $! > {}\nwait", pids.display()),
    );
    let started = Instant::now();
    let r = attempt("127.0.0.1:80".parse().unwrap(), misc(&line, 300 * MS)).await;
    assert_eq!(summary(&r), (false, "timeout after 300ms"));
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "the result does not wait for the kill"
    );
    let child = read_pid(&pids).await;
    assert!(
        wait_dead(child, Duration::from_secs(2)).await,
        "sleep {child} still runs"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn misc_script_ignoring_sigterm_is_killed_after_the_grace() {
    let dir = temp_dir();
    let pids = dir.join("pids");
    let line = script(
        &dir,
        "stubborn.sh",
        &format!("trap '' TERM\necho $$ > {}\nsleep 30", pids.display()),
    );
    let r = attempt("127.0.0.1:80".parse().unwrap(), misc(&line, 200 * MS)).await;
    assert_eq!(summary(&r), (false, "timeout after 200ms"));
    let pid = read_pid(&pids).await;
    tokio::time::sleep(misc::KILL_GRACE / 2).await;
    assert!(
        alive(pid),
        "SIGTERM is ignored: still alive within the grace"
    );
    assert!(wait_dead(pid, misc::KILL_GRACE + Duration::from_secs(1)).await);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn runner_misc_dynamic_weight_and_down() {
    let dir = temp_dir();
    let code = dir.join("code");
    std::fs::write(&code, "7").unwrap();
    let line = script(&dir, "dyn.sh", &format!("exit $(cat {})", code.display()));
    let mut c = misc(&line, Duration::from_secs(2));
    c.misc_dynamic = true;
    c.retry = 0;
    c.warmup = Some(Dur::ZERO);
    let mut t = target("127.0.0.1:80".parse().unwrap(), vec![c]);
    t.delay_loop = 100 * MS;
    t.weight = 10;
    let (h, mut rx) = quick_runner();
    h.upsert(&t).unwrap();
    let ev = next_change(&mut rx, Duration::from_secs(3)).await;
    assert_eq!(ev.changes, [Change::Weight { from: 10, to: 5 }]);
    assert_eq!(
        ev.state,
        ServerState {
            up: Some(true),
            weight: 5
        }
    );
    std::fs::write(&code, "0").unwrap();
    let ev = next_change(&mut rx, Duration::from_secs(3)).await;
    assert_eq!(ev.changes, [Change::Weight { from: 5, to: 10 }]);
    std::fs::write(&code, "1").unwrap();
    let ev = next_change(&mut rx, Duration::from_secs(3)).await;
    assert_eq!(
        ev.changes,
        [Change::Down {
            reason: format!("MISC {line}: exit 1")
        }]
    );
    h.remove(&t.id);
    assert_eq!(h.state(&t.id).await, None);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn runner_tracks_a_vrrp_script_with_rise_and_fall() {
    let dir = temp_dir();
    let flag = dir.join("ok");
    std::fs::write(&flag, "").unwrap();
    let s = VrrpScript {
        script: format!("test -e {}", flag.display()),
        interval: Dur::from_millis(50),
        timeout: None,
        weight: -20,
        weight_reverse: false,
        rise: 2,
        fall: 3,
        user: None,
    };
    let t = CheckTarget::for_vrrp_script(&crate::config::model::Config::default(), "chk_flag", &s);
    assert_eq!(t.initial_up(), None);
    assert_eq!(t.id.service.as_ref(), "vrrp_script chk_flag");
    let (h, mut rx) = quick_runner();
    h.upsert(&t).unwrap();
    // The first result decides.
    let ev = next_change(&mut rx, Duration::from_secs(2)).await;
    assert!(matches!(ev.changes[..], [Change::Up { .. }]));
    std::fs::remove_file(&flag).unwrap();
    let gone = Instant::now();
    let ev = next_change(&mut rx, Duration::from_secs(2)).await;
    assert!(matches!(ev.changes[..], [Change::Down { .. }]));
    // Three failures, 50 ms apart.
    assert!(gone.elapsed() >= 100 * MS, "{:?}", gone.elapsed());
    std::fs::write(&flag, "").unwrap();
    let ev = next_change(&mut rx, Duration::from_secs(2)).await;
    assert!(matches!(ev.changes[..], [Change::Up { .. }]));
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn runner_sync_replaces_the_set_and_reports_bad_targets() {
    let (addr, _l) = tcp_listener("127.0.0.1:0").await;
    let (h, _rx) = quick_runner();
    let mut good = target(addr, vec![Check::new(CheckKind::Tcp)]);
    good.delay_loop = Duration::from_secs(60);
    let mut other = good.clone();
    other.id = TargetId::new("other", addr);
    h.upsert(&other).unwrap();
    let mut bad = target(
        "127.0.0.1:0".parse().unwrap(),
        vec![Check::new(CheckKind::Tcp)],
    );
    bad.id = TargetId::new("bad", bad.id.real);
    let errs = h.sync(&[good.clone(), bad]).unwrap_err();
    assert_eq!(errs.len(), 1);
    assert_eq!(
        errs[0].to_string(),
        "bad -> 127.0.0.1:0: check 0 (TCP): no port to check: the real server has none; set connect_port"
    );
    let stats = h.stats().await.unwrap();
    assert_eq!(stats.targets, 1);
    assert!(h.state(&good.id).await.is_some());
    assert!(h.state(&other.id).await.is_none());
}

#[test]
fn compile_refuses_bad_settings_with_a_clear_message() {
    let real: SocketAddr = "127.0.0.1:80".parse().unwrap();
    let err = |c: Check| target(real, vec![c]).compile().unwrap_err().message;
    let mut u = url("/");
    u.digest = Some("abc".into());
    assert!(err(http(CheckKind::Http, vec![u])).starts_with("digest `abc` is not 32"));
    let mut u = url("/");
    u.regex = Some("(".into());
    assert!(err(http(CheckKind::Http, vec![u])).starts_with("regex `(`"));
    assert_eq!(
        err(http(CheckKind::Http, vec![])),
        "an HTTP check needs at least one url"
    );
    assert_eq!(
        err(Check::new(CheckKind::Misc)),
        "a MISC check needs misc_path"
    );
    let mut c = Check::new(CheckKind::Tcp);
    c.bind_ip = Some("::1".parse().unwrap());
    assert_eq!(err(c), "bind_ip ::1 is not of the family of 127.0.0.1");
    let mut c = misc("/bin/true", MS);
    c.user = Some("no-such-user-lvsdeck".into());
    assert_eq!(err(c), "unknown user no-such-user-lvsdeck");
}

#[test]
fn the_seed_config_compiles_into_targets() {
    let cfg = crate::config::seed();
    let vs = &cfg.virtual_server[0];
    let targets: Vec<CheckTarget> = vs
        .real_server
        .iter()
        .map(|rs| CheckTarget::for_real_server("TCP 192.168.10.100:80", vs, rs))
        .collect();
    assert_eq!(targets.len(), 2);
    let c = targets[0].compile().unwrap();
    let spec = &c.specs[0];
    assert_eq!(spec.timing.delay_loop, Duration::from_secs(6));
    assert_eq!(spec.timing.delay_before_retry, Duration::from_secs(3));
    assert_eq!(spec.timing.warmup, Duration::from_secs(6));
    // The seed's nb_get_retry 3 is not read inside TCP_CHECK (keepalived 2.2.7): retry 1.
    assert_eq!(spec.policy, Policy::Retry { retry: 1 });
    assert!(spec.label.starts_with("TCP ") && spec.label.ends_with(":80"));
    for (name, s) in &cfg.vrrp_script {
        let t = CheckTarget::for_vrrp_script(&crate::config::model::Config::default(), name, s)
            .compile()
            .unwrap();
        assert!(matches!(t.specs[0].policy, Policy::RiseFall { .. }));
        match &t.specs[0].probe {
            spec::Probe::Misc(m) => assert!(misc::needs_shell(&m.line)),
            other => panic!("{other:?}"),
        }
    }
}

#[tokio::test]
async fn runner_limits_checks_in_flight() {
    let web = Web::default();
    web.set(
        "/slow",
        Route {
            status: 200,
            body: b"ok".to_vec(),
            chunked: false,
            delay: 200 * MS,
        },
    );
    let addr = http_server(&web).await;
    let (h, mut rx) = spawn(RunnerConfig {
        bootstrap_delay: Duration::ZERO,
        max_in_flight: 2,
        seed: Some(1),
        ..RunnerConfig::default()
    });
    let started = Instant::now();
    for n in 0..4 {
        let mut c = http(CheckKind::Http, vec![url("/slow")]);
        c.warmup = Some(Dur::ZERO);
        let mut t = target(addr, vec![c]);
        t.id = TargetId::new(format!("svc{n}"), addr);
        h.upsert(&t).unwrap();
    }
    for _ in 0..4 {
        let ev = tokio::time::timeout(Duration::from_secs(3), rx.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(ev.result.map(|r| r.ok), Some(true));
    }
    // Two at a time: two rounds of 200 ms.
    assert!(started.elapsed() >= 400 * MS, "{:?}", started.elapsed());
    let stats = h.stats().await.unwrap();
    assert!(stats.max_lateness >= 150 * MS, "{stats:?}");
    assert_eq!(stats.checks_run, 4);
}
