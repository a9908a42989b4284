//! `lvsdeck lab`: build the lab, watch it, tear it down on quit.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use lvsdeck::control::client::Client;
use lvsdeck::control::protocol::{Request, Response};
use lvsdeck::lab::client::ClientStatus;
use lvsdeck::lab::{self, Lab, RUN_DIR};

/// Which lab.
pub enum Kind {
    /// The seed's VRRP pair, maybe with one thing broken on purpose, and long connections.
    Pair(Option<lab::Break>, usize),
    /// Directors behind an ECMP router, announcing over BGP.
    Bgp(lab::bgp::Options),
}

pub fn run(rate: u32, no_console: bool, kind: Kind) -> ExitCode {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("lvsdeck lab: needs root (network namespaces, raw sockets, IPVS)");
        return ExitCode::from(2);
    }
    // Take SIGINT / SIGTERM / SIGHUP now: from here on they end the lab through its teardown,
    // even while it is still starting.
    let rt = super::runtime();
    let _enter = rt.enter();
    let signals = Signals::new();
    let run_dir = Path::new(RUN_DIR);
    if let Err(e) = lab::claim(run_dir) {
        eprintln!("lvsdeck lab: {e}");
        return ExitCode::from(2);
    }
    let ipvs = lab::kernel_has_ipvs();
    if !ipvs {
        eprintln!(
            "lvsdeck lab: this kernel has no IPVS (/proc/net/ip_vs is absent; `modprobe ip_vs` as root where it exists).\n\
             VRRP failover and health checks run; traffic to the VIP cannot be balanced, so the client's requests fail."
        );
    }
    let started = match &kind {
        Kind::Pair(broken, flows) => Lab::start_pair(run_dir, rate, *broken, *flows),
        Kind::Bgp(opts) => Lab::start_bgp(run_dir, opts),
    };
    let directors: Vec<String> = match &kind {
        Kind::Pair(..) => vec!["lvs-master".into(), "lvs-backup".into()],
        Kind::Bgp(o) => (1..=o.directors).map(|i| lab::bgp::director(i).0).collect(),
    };
    let mut lab = match started {
        Ok(l) => l,
        Err(e) => {
            eprintln!("lvsdeck lab: {e}");
            lab::down(run_dir);
            return ExitCode::from(2);
        }
    };
    for d in &directors {
        if !lab.wait_for_socket(d, Duration::from_secs(10)) {
            eprintln!(
                "lvsdeck lab: {d} did not start; its log:\n{}",
                std::fs::read_to_string(lab.log_path(d)).unwrap_or_default()
            );
            return ExitCode::from(2);
        }
    }
    if no_console {
        plain(&rt, &mut lab, &directors, signals);
    } else {
        with_console(&rt, &lab, &directors);
    }
    drop(lab);
    use std::io::Write;
    let _ = writeln!(std::io::stdout(), "lab torn down");
    ExitCode::SUCCESS
}

/// The console attached to every director (`>` switches), with the client's counts.
/// The stop signals, registered early.
struct Signals(Vec<tokio::signal::unix::Signal>);

impl Signals {
    fn new() -> Signals {
        use tokio::signal::unix::{SignalKind, signal};
        Signals(
            [
                SignalKind::interrupt(),
                SignalKind::terminate(),
                SignalKind::hangup(),
            ]
            .into_iter()
            .filter_map(|k| signal(k).ok())
            .collect(),
        )
    }

    /// Resolves at the first of them.
    async fn recv(&mut self) {
        let waits = self.0.iter_mut().map(|s| Box::pin(s.recv()));
        futures::future::select_all(waits).await;
    }
}

fn with_console(rt: &tokio::runtime::Runtime, lab: &Lab, directors: &[String]) {
    let theme = match lvsdeck::tui::theme::Theme::load(None) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("lvsdeck lab: {e}");
            return;
        }
    };
    let targets = directors
        .iter()
        .map(|d| (d.clone(), lab.socket(d)))
        .collect();
    let status = lab.client_status_path();
    rt.block_on(super::console::screen::run(
        lvsdeck::tui::app::ConsoleConfig::default(),
        theme,
        super::console::screen::Source::Attach(targets),
        Some(status),
    ));
}

/// A status line every two seconds until Ctrl-C.
fn plain(rt: &tokio::runtime::Runtime, lab: &mut Lab, directors: &[String], mut signals: Signals) {
    rt.block_on(async {
        let mut tick = tokio::time::interval(Duration::from_secs(2));
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = signals.recv() => return,
            }
            let mut line = String::new();
            for d in directors {
                let state = match Client::connect(&lab.socket(d)).await {
                    Ok(mut c) => match c.call(&Request::Snapshot).await {
                        Ok(Response::Snapshot { snapshot }) => summary(&snapshot),
                        _ => "?".into(),
                    },
                    Err(_) => "down".into(),
                };
                line.push_str(&format!("{d}: {state}   "));
            }
            if let Some(c) = ClientStatus::read(&lab.client_status_path()) {
                let per: Vec<String> = c
                    .by_server
                    .iter()
                    .map(|(k, v)| format!("{k} {v}"))
                    .collect();
                line.push_str(&format!(
                    "client: {} ok, {} failed [{}]",
                    c.ok,
                    c.failed,
                    per.join(", ")
                ));
            }
            println!("{line}");
        }
    });
}

/// A director in a few words: its VRRP state, or its BGP sessions and announcements.
fn summary(s: &lvsdeck::engine::snapshot::Snapshot) -> String {
    if let Some(b) = &s.bgp {
        let (up, all) = b.sessions_up();
        let announced = b.routes.iter().filter(|r| r.announced).count();
        let drained = if b.drained.is_some() { " DRAINED" } else { "" };
        return format!(
            "BGP {up}/{all} up, {announced}/{} announced{drained}",
            b.routes.len()
        );
    }
    s.vrrp
        .first()
        .map(|v| format!("{} prio {}", v.state, v.effective_priority))
        .unwrap_or_default()
}

/// `lvsdeck lab down`: what a crashed lab left behind, removed.
pub fn down() -> ExitCode {
    println!("{}", lab::down(Path::new(RUN_DIR)));
    ExitCode::SUCCESS
}

/// `lvsdeck lab [--break KIND] [--bgp N [--bfd [I,..]]] [--flows N]`.
pub fn start(
    rate: u32,
    no_console: bool,
    break_kind: Option<&str>,
    bgp: Option<u8>,
    bfd: Option<Vec<usize>>,
    flows: usize,
) -> ExitCode {
    let broken = match break_kind.map(lab::Break::parse).transpose() {
        Ok(b) => b,
        Err(e) => {
            eprintln!("lvsdeck lab --break: {e}");
            return ExitCode::from(2);
        }
    };
    let kind = match bgp {
        Some(n) => Kind::Bgp(lab::bgp::Options {
            directors: usize::from(n),
            rate,
            flows,
            flow_interval: Duration::from_millis(500),
            bfd: match bfd {
                Some(list) if list.is_empty() => (1..=usize::from(n)).collect(),
                Some(list) => list,
                None => Vec::new(),
            },
        }),
        None => Kind::Pair(broken, flows),
    };
    run(rate, no_console, kind)
}

/// `lab-node`: a web node answering with its name (and an echo service for long connections).
pub fn node(name: String, listen: SocketAddr, echo: Option<SocketAddr>) -> ExitCode {
    super::runtime().block_on(async {
        if let Some(at) = echo {
            let name = name.clone();
            tokio::spawn(async move {
                if let Err(e) = lab::flows::serve_echo(name, at).await {
                    eprintln!("lab-node: echo on {at}: {e}");
                }
            });
        }
        match lab::node::serve(name, listen).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("lab-node: {e}");
                ExitCode::from(2)
            }
        }
    })
}

/// `lab-client`: requests at `rate` a second through the VIP, its status in a file.
pub fn client(target: SocketAddr, rate: u32, status: PathBuf, seconds: u64) -> ExitCode {
    let duration = Duration::from_secs(seconds);
    super::runtime().block_on(lab::client::run(target, rate, duration, status));
    ExitCode::SUCCESS
}

/// `lab-flows`: long connections through the VIP, each measured.
pub fn flows(target: SocketAddr, count: usize, interval_ms: u64, status: PathBuf) -> ExitCode {
    let interval = Duration::from_millis(interval_ms.max(10));
    super::runtime().block_on(lab::flows::run(target, count, interval, status));
    ExitCode::SUCCESS
}
