//! PING_CHECK, UDP_CHECK, SMTP_CHECK and DNS_CHECK against real servers in namespaces (DNS:
//! Debian's dnsmasq): the checker in one, a server that answers in another, and a mute one
//! whose nftables drop ICMP echo and UDP without a word. Each probe runs as the daemon runs
//! it (compiled from the config model), inside the checker's namespace. FILE_CHECK through
//! the health runner: a file's change reaches it by inotify, long before delay_loop.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lvsdeck::config::model::{Check, CheckKind, Dur, TrackFile};
use lvsdeck::health::{CheckResult, CheckTarget, RunnerConfig, TargetId};
use lvsdeck::lab::netns::{HostSpec, Topology};
use support::{enter_netns, in_netns, prerequisites};

const SERVER: &str = "10.82.0.2";
const MUTE: &str = "10.82.0.3";

fn lan(tag: &str) -> Topology {
    let topo = Topology::build(
        &support::prefix(tag),
        vec![
            HostSpec::new("checker", 0x01, &["10.82.0.1/24"]),
            HostSpec::new("server", 0x02, &[&format!("{SERVER}/24")]),
            HostSpec::new("mute", 0x03, &[&format!("{MUTE}/24")]),
        ],
    )
    .expect("topology");
    for rule in [
        "add table inet mute",
        "add chain inet mute input { type filter hook input priority 0 ; }",
        "add rule inet mute input icmp type echo-request drop",
        "add rule inet mute input meta l4proto udp drop",
    ] {
        topo.exec("mute", &["nft", rule])
            .expect("nft in the mute host");
    }
    topo
}

/// One attempt of `check` against `ip:port` from the checker's namespace.
fn attempt(topo: &Topology, ip: &str, port: u16, check: Check) -> CheckResult {
    let real: SocketAddr = format!("{ip}:{port}").parse().unwrap();
    let target = CheckTarget::new(TargetId::new("test", real), vec![check]);
    let compiled = target.compile().expect("the check compiles");
    in_netns(&topo.ns("checker"), || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(compiled.specs[0].probe.run())
    })
}

fn check(kind: CheckKind) -> Check {
    let mut c = Check::new(kind);
    c.connect_timeout = Dur(Duration::from_millis(700));
    c
}

#[test]
fn ping_check_is_up_with_an_echo_reply_only() {
    if !prerequisites("PING_CHECK", &["ip", "nft"]) {
        return;
    }
    let topo = lan("pg");
    let up = attempt(&topo, SERVER, 0, check(CheckKind::Ping));
    assert!(up.ok, "{up:?}");
    let mute = attempt(&topo, MUTE, 0, check(CheckKind::Ping));
    assert!(
        !mute.ok && mute.message.contains("no echo reply"),
        "{mute:?}"
    );
    let nobody = attempt(&topo, "10.82.0.9", 0, check(CheckKind::Ping));
    assert!(!nobody.ok, "{nobody:?}");
}

/// A UDP server that answers `answer` to every datagram, in `ns`.
fn udp_server(ns: &str, port: u16, answer: &'static [u8]) {
    let ns = ns.to_string();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        enter_netns(&ns);
        let s = UdpSocket::bind(("0.0.0.0", port)).unwrap();
        tx.send(()).unwrap();
        let mut buf = [0u8; 2048];
        while let Ok((_, from)) = s.recv_from(&mut buf) {
            let _ = s.send_to(answer, from);
        }
    });
    rx.recv().unwrap();
}

#[test]
fn udp_check_reads_answers_silence_and_port_unreachable_as_keepalived() {
    if !prerequisites("UDP_CHECK", &["ip", "nft"]) {
        return;
    }
    let topo = lan("ud");
    udp_server(&topo.ns("server"), 5353, b"OK fine");
    let with_reply = |pattern: &str| {
        let mut c = check(CheckKind::Udp);
        c.payload = Some("68 65 6c 6c 6f".into());
        c.require_reply = Some(pattern.into());
        c
    };
    let ok = attempt(&topo, SERVER, 5353, with_reply("4f4b"));
    assert!(ok.ok, "{ok:?}");
    let wild = attempt(&topo, SERVER, 5353, with_reply("4x 4b 20"));
    assert!(wild.ok, "{wild:?}");
    let differs = attempt(&topo, SERVER, 5353, with_reply("4e4f"));
    assert!(
        !differs.ok && differs.message.contains("differs"),
        "{differs:?}"
    );
    // Nobody on the port: the ICMP port unreachable marks it down.
    let closed = attempt(&topo, SERVER, 5354, check(CheckKind::Udp));
    assert!(
        !closed.ok && closed.message.contains("port unreachable"),
        "{closed:?}"
    );
    // Silence: up, unless an answer is required.
    let silent = attempt(&topo, MUTE, 5353, check(CheckKind::Udp));
    assert!(silent.ok, "{silent:?}");
    let needed = attempt(&topo, MUTE, 5353, with_reply(""));
    assert!(
        !needed.ok && needed.message.contains("no answer"),
        "{needed:?}"
    );
}

/// A minimal SMTP server in `ns`: `greeting` (`|`: a pause), then 250 to HELO (the name it got is kept),
/// 221 to QUIT.
fn smtp_server(ns: &str, port: u16, greeting: &'static str) -> Arc<Mutex<Vec<String>>> {
    let heard = Arc::new(Mutex::new(Vec::new()));
    let (ns, log) = (ns.to_string(), heard.clone());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        enter_netns(&ns);
        let l = TcpListener::bind(("0.0.0.0", port)).unwrap();
        tx.send(()).unwrap();
        for stream in l.incoming() {
            let Ok(mut s) = stream else { continue };
            // `|` splits the greeting in two segments, 100 ms apart.
            for (i, part) in greeting.split('|').enumerate() {
                if i > 0 {
                    let _ = s.flush();
                    std::thread::sleep(Duration::from_millis(100));
                }
                let _ = s.write_all(part.as_bytes());
            }
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut line = String::new();
            while r.read_line(&mut line).is_ok_and(|n| n > 0) {
                log.lock().unwrap().push(line.trim_end().to_string());
                let answer: &[u8] = if line.starts_with("HELO") {
                    b"250 pleased to meet you\r\n"
                } else {
                    b"221 bye\r\n"
                };
                let _ = s.write_all(answer);
                line.clear();
            }
        }
    });
    rx.recv().unwrap();
    heard
}

#[test]
fn smtp_check_wants_220_then_250_to_helo() {
    if !prerequisites("SMTP_CHECK", &["ip", "nft"]) {
        return;
    }
    let topo = lan("sm");
    let heard = smtp_server(&topo.ns("server"), 2525, "220 mx.test ESMTP\r\n");
    let mut c = check(CheckKind::Smtp);
    c.helo_name = Some("lb.example".into());
    let ok = attempt(&topo, SERVER, 2525, c);
    assert!(ok.ok, "{ok:?}");
    assert_eq!(*heard.lock().unwrap(), ["HELO lb.example", "QUIT"]);
    // keepalived reads only a greeting's first line: `220-` (more to come) fails.
    smtp_server(
        &topo.ns("server"),
        2526,
        "220-mx.test first of two\r\n220 mx.test\r\n",
    );
    let multi = attempt(&topo, SERVER, 2526, check(CheckKind::Smtp));
    assert!(
        !multi.ok && multi.message.contains("expected 220"),
        "{multi:?}"
    );
    smtp_server(&topo.ns("server"), 2527, "554 go away\r\n");
    let refused = attempt(&topo, SERVER, 2527, check(CheckKind::Smtp));
    assert!(!refused.ok, "{refused:?}");
    // A greeting cut across two segments is one line, as keepalived reads it.
    smtp_server(&topo.ns("server"), 2529, "22|0 mx.test slow\r\n");
    let split = attempt(&topo, SERVER, 2529, check(CheckKind::Smtp));
    assert!(split.ok, "{split:?}");
    let closed = attempt(&topo, SERVER, 2528, check(CheckKind::Smtp));
    assert!(
        !closed.ok && closed.message.contains("refused"),
        "{closed:?}"
    );
}

/// dnsmasq in `ns`, authoritative for `.test` only (`lab.test` has an address, other names
/// there do not exist), answering on `ip`:53; killed on drop.
struct Dnsmasq(std::process::Child);

impl Dnsmasq {
    fn start(ns: &str, ip: &str) -> Self {
        let child = std::process::Command::new("ip")
            .args([
                "netns",
                "exec",
                ns,
                "dnsmasq",
                "--keep-in-foreground",
                "--conf-file=/dev/null",
            ])
            .args([
                "--no-resolv",
                "--no-hosts",
                "--user=root",
                "--pid-file=",
                "--bind-interfaces",
            ])
            .arg(format!("--listen-address={ip}"))
            .args(["--local=/test/", "--address=/lab.test/10.82.0.50"])
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("dnsmasq");
        Dnsmasq(child)
    }
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn dns_check_is_up_on_noerror_only() {
    if !prerequisites("DNS_CHECK", &["ip", "nft", "dnsmasq"]) {
        return;
    }
    let topo = lan("dn");
    let dns = |name: &str, rtype: &str| {
        let mut c = check(CheckKind::Dns);
        c.dns_name = Some(name.into());
        c.dns_type = Some(rtype.into());
        c
    };
    let server = Dnsmasq::start(&topo.ns("server"), SERVER);
    let mut up = attempt(&topo, SERVER, 53, dns("lab.test", "A"));
    for _ in 0..20 {
        if up.ok {
            break;
        }
        // dnsmasq may still be starting.
        std::thread::sleep(Duration::from_millis(100));
        up = attempt(&topo, SERVER, 53, dns("lab.test", "A"));
    }
    assert!(up.ok && up.message.contains("NOERROR, 1 answer"), "{up:?}");
    let nx = attempt(&topo, SERVER, 53, dns("nothing.test", "A"));
    assert!(!nx.ok && nx.message.contains("Non-Existent"), "{nx:?}");
    drop(server);
    let stopped = attempt(&topo, SERVER, 53, dns("lab.test", "A"));
    assert!(
        !stopped.ok && stopped.message.contains("port unreachable"),
        "{stopped:?}"
    );
    let mute = attempt(&topo, MUTE, 53, dns("lab.test", "A"));
    assert!(!mute.ok && mute.message.contains("no answer"), "{mute:?}");
}

#[test]
fn file_check_follows_its_file_at_once() {
    let dir = support::TempDir::new("fc");
    let path = dir.0.join("weight");
    std::fs::write(&path, "0\n").unwrap();
    let mut c = Check::new(CheckKind::File);
    c.track_file = Some("w".into());
    c.file_weight = Some(-2);
    let mut target = CheckTarget::new(
        TargetId::new("test", "10.82.0.2:80".parse().unwrap()),
        vec![c],
    );
    // Only the file's watch can bring a change in within this test's time.
    target.delay_loop = Duration::from_secs(3600);
    target.weight = 10;
    let tf = TrackFile {
        file: path.clone(),
        weight: 1,
        reverse: false,
        init_file: None,
        init_overwrite: false,
    };
    target.track_files.insert("w".into(), tf);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (handle, mut events) = lvsdeck::health::spawn(RunnerConfig {
            bootstrap_delay: Duration::ZERO,
            ..RunnerConfig::default()
        });
        handle.upsert(&target).unwrap();
        let mut next = async || {
            loop {
                let ev = tokio::time::timeout(Duration::from_secs(5), events.recv())
                    .await
                    .expect("an event within 5 s")
                    .expect("the runner runs");
                if ev.result.is_some() {
                    return ev;
                }
            }
        };
        let first = next().await;
        assert_eq!(
            (first.state.up, first.state.weight),
            (Some(true), 10),
            "{first:?}"
        );
        // 3 × -2: the weight drops by 6; written the way operators do (write, then rename).
        std::fs::write(dir.0.join("tmp"), "3\n").unwrap();
        std::fs::rename(dir.0.join("tmp"), &path).unwrap();
        let lowered = next().await;
        assert_eq!(
            (lowered.state.up, lowered.state.weight),
            (Some(true), 4),
            "{lowered:?}"
        );
        // -2^31 × -2 is beyond the weight's range: clamped, not a fault.
        std::fs::write(&path, "-2147483648").unwrap();
        let high = next().await;
        assert_eq!(high.state.weight, i32::MAX, "{high:?}");
        // A huge positive product the other way is the fault: down.
        std::fs::write(&path, "2147483648").unwrap();
        let down = next().await;
        assert_eq!(down.state.up, Some(false), "{down:?}");
        // Deleted: 0, back up at the configured weight.
        std::fs::remove_file(&path).unwrap();
        let back = next().await;
        assert_eq!(
            (back.state.up, back.state.weight),
            (Some(true), 10),
            "{back:?}"
        );
    });
}
