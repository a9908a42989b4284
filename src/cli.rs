//! Command-line arguments (clap derive) and dispatch to each mode.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use lvsdeck::config::{
    self,
    validate::{FsProbe, NoProbe},
};
use lvsdeck::control::client::Client;
use lvsdeck::control::protocol::{Request, Response};
use lvsdeck::control::server::ServerOptions;
use lvsdeck::engine::snapshot::now_ms;

#[derive(Debug, Parser)]
#[command(
    name = "lvsdeck",
    version,
    about = "VRRP + IPVS director with an operator's console",
    long_about = "One program for an LVS director: VRRP (RFC 3768 / 5798) elects the director \
                  that holds the virtual IPs, the kernel's IPVS table is kept in step with health \
                  checks of the real servers, and a console shows both and acts on them. It \
                  reads keepalived.conf unchanged, or its own TOML.",
    after_help = "Examples:\n  \
                  lvsdeck check /etc/keepalived/keepalived.conf\n  \
                  lvsdeck --daemon -c /etc/keepalived/keepalived.conf\n  \
                  lvsdeck                      (the console, attached to the daemon)\n  \
                  lvsdeck status\n  \
                  lvsdeck ctl drain \"TCP  192.168.10.100:80\" 192.168.10.72:80\n  \
                  lvsdeck ctl handover VI_1\n  \
                  lvsdeck doctor -c /etc/lvsdeck/lvsdeck.toml\n\n\
                  Exit codes of --daemon: 0 stopped on request (SIGTERM: masters handed over first; \
                  SIGINT or a second SIGTERM: plain priority-0 release), 1 invalid configuration, \
                  2 could not start (interface, address or socket missing), 3 failed while running."
)]
pub struct Cli {
    /// Run the engines headless (for systemd), instead of the console.
    #[arg(long)]
    pub daemon: bool,
    /// Console: watch only; every action key is refused.
    #[arg(long)]
    pub read_only: bool,
    /// Console: run the engines in this process for the configuration, instead of attaching
    /// to a daemon. Refused while keepalived runs or the configuration's VRIDs are heard.
    #[arg(long)]
    pub embedded: bool,
    /// Console: also follow another director of the cluster through its control socket,
    /// forwarded here over SSH (`ssh -NL /run/lvsdeck/d2.sock:/run/lvsdeck/control.sock d2`):
    /// `--peer d2=/run/lvsdeck/d2.sock`. Repeatable; `>` switches, a strip lists them all.
    #[arg(long, value_name = "NAME=SOCKET", value_parser = parse_peer)]
    pub peer: Vec<(String, PathBuf)>,
    /// Console theme: dark, light, high-contrast, solarized, or a path to a theme file.
    #[arg(long)]
    pub theme: Option<String>,
    /// Configuration file: lvsdeck TOML or keepalived.conf.
    #[arg(
        short,
        long,
        default_value = "/etc/lvsdeck/lvsdeck.toml",
        global = true
    )]
    pub config: PathBuf,
    /// Control socket (default: the configuration's control_socket, /run/lvsdeck/control.sock).
    #[arg(long, global = true)]
    pub socket: Option<PathBuf>,
    /// keepalived.conf: keep the `@ID` lines whose ID is this, and `@^ID` lines whose ID is
    /// not (keepalived's -i); default: this host's name up to its first dot.
    #[arg(short = 'i', long, global = true, value_name = "ID")]
    pub config_id: Option<String>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate a configuration (lvsdeck TOML or keepalived.conf); exit 0 if valid, 1 if not.
    Check {
        /// The file to check.
        file: PathBuf,
        /// Every warning is an error (exit 1): for CI pipelines.
        #[arg(long)]
        strict: bool,
    },
    /// Print the lvsdeck TOML equivalent of a keepalived.conf.
    Import {
        /// The keepalived.conf to read.
        file: PathBuf,
    },
    /// The running daemon's state: VRRP instances, then the IPVS table as `ipvsadm -Ln` lays
    /// it out, with health and weights.
    Status {
        /// The Snapshot as JSON (stable field names; see src/engine/snapshot.rs).
        #[arg(long)]
        json: bool,
    },
    /// The seed's cluster in network namespaces on this machine (root), with the console.
    Lab {
        #[command(subcommand)]
        action: Option<LabAction>,
        /// Client requests per second to the VIP.
        #[arg(long, default_value_t = 20)]
        rate: u32,
        /// Print a status line every two seconds instead of opening the console.
        #[arg(long)]
        no_console: bool,
        /// Mis-configure one thing on purpose, for `lvsdeck doctor` to find: arp-ignore
        /// (web-node2 answers ARP for the VIP), no-vip-on-lo (web-node2), vrrp-firewall
        /// (lvs-backup drops VRRP).
        #[arg(long = "break", value_name = "KIND")]
        break_kind: Option<String>,
        /// N directors (2-8) announcing the VIP over BGP to an ECMP router (BIRD 2 on each),
        /// instead of the VRRP pair.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(2..=8))]
        bgp: Option<u8>,
        /// With --bgp: BFD (100 ms × 3) on the directors' sessions to the router: all, or
        /// those listed (`--bfd 3` or `--bfd 1,3`).
        #[arg(long, requires = "bgp", num_args = 0.., value_delimiter = ',', value_name = "I")]
        bfd: Option<Vec<usize>>,
        /// Also hold this many long connections through the VIP (to the web nodes' echo
        /// service), each measured; their file is flows.json in the lab's folder.
        #[arg(long, default_value_t = 0)]
        flows: usize,
    },
    /// (lab) A web node answering with its name.
    #[command(hide = true)]
    LabNode {
        #[arg(long)]
        name: String,
        #[arg(long)]
        listen: std::net::SocketAddr,
        /// Also an echo service here (greets with the name), for long connections.
        #[arg(long)]
        echo: Option<std::net::SocketAddr>,
    },
    /// (lab) Long connections through the VIP, each measured.
    #[command(hide = true)]
    LabFlows {
        #[arg(long)]
        target: std::net::SocketAddr,
        #[arg(long)]
        count: usize,
        #[arg(long)]
        interval_ms: u64,
        #[arg(long)]
        status: PathBuf,
    },
    /// (lab) The client's request stream.
    #[command(hide = true)]
    LabClient {
        #[arg(long)]
        target: std::net::SocketAddr,
        #[arg(long)]
        rate: u32,
        #[arg(long)]
        status: PathBuf,
        /// Stop after this many seconds.
        #[arg(long, default_value_t = 8 * 3600)]
        seconds: u64,
    },
    /// Probe this director's set-up as the article's manual checks would: sysctls, the
    /// firewall's view of VRRP, adverts on the segment, and every real server (ARP for the
    /// VIP, a TCP SYN as IPVS forwards it). Exit 0 nothing found, 1 findings, 2 could not run.
    Doctor {
        /// The report as JSON.
        #[arg(long)]
        json: bool,
        /// List the checks that passed too.
        #[arg(long, short)]
        verbose: bool,
        /// Explain a topic instead of probing (`time`: does VRRP need synchronised clocks?).
        #[arg(long, value_name = "TOPIC")]
        explain: Option<String>,
    },
    /// Write the man pages and shell completions (bash, zsh, fish) under DIR.
    #[command(hide = true)]
    Assets { dir: PathBuf },
    /// (daemon) The VIP guard: removes the VIPs when the daemon that started it dies or is
    /// silent for as long as a backup waits before taking over (`lvsdeck::vrrp::guard`).
    #[command(name = "vip-guard", hide = true)]
    VipGuard,
    /// Act on the running daemon. Exit 0 done, 1 refused, 2 no daemon or bad arguments.
    Ctl {
        #[command(subcommand)]
        action: crate::ctl_cmd::CtlAction,
        /// Print the daemon's answer as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum LabAction {
    /// Remove what a crashed lab left behind (namespaces, processes, files).
    Down,
}

pub fn run(cli: Cli) -> ExitCode {
    let socket = socket_path(&cli);
    // For every load of this process, the daemon's reloads included.
    config::set_config_id(cli.config_id.clone());
    // Any VRRP runner this process starts gets a guard: this very binary, `vip-guard`. The path
    // is taken now, while it names the running file (after a package upgrade it names the new
    // one, which speaks the same lines).
    if let Ok(exe) = std::env::current_exe() {
        lvsdeck::vrrp::guard::enable(exe);
    }
    match cli.command {
        Some(Command::Check { file, strict }) => check(&file, strict),
        Some(Command::Import { file }) => import(&file),
        Some(Command::Status { json }) => status(&socket, json),
        Some(Command::Lab {
            action: Some(LabAction::Down),
            ..
        }) => {
            println!(
                "{}",
                lvsdeck::lab::down(std::path::Path::new(lvsdeck::lab::RUN_DIR))
            );
            ExitCode::SUCCESS
        }
        Some(Command::Lab {
            action: None,
            rate,
            no_console,
            break_kind,
            bgp,
            bfd,
            flows,
        }) => match break_kind
            .as_deref()
            .map(lvsdeck::lab::Break::parse)
            .transpose()
        {
            Ok(broken) => {
                let kind = match bgp {
                    Some(n) => crate::lab_cmd::Kind::Bgp(lvsdeck::lab::bgp::Options {
                        directors: usize::from(n),
                        rate,
                        flows,
                        flow_interval: std::time::Duration::from_millis(500),
                        bfd: match bfd {
                            Some(list) if list.is_empty() => (1..=usize::from(n)).collect(),
                            Some(list) => list,
                            None => Vec::new(),
                        },
                    }),
                    None => crate::lab_cmd::Kind::Pair(broken, flows),
                };
                crate::lab_cmd::run(rate, no_console, kind)
            }
            Err(e) => {
                eprintln!("lvsdeck lab --break: {e}");
                ExitCode::from(2)
            }
        },
        Some(Command::LabNode { name, listen, echo }) => runtime().block_on(async {
            if let Some(at) = echo {
                let name = name.clone();
                tokio::spawn(async move {
                    if let Err(e) = lvsdeck::lab::flows::serve_echo(name, at).await {
                        eprintln!("lab-node: echo on {at}: {e}");
                    }
                });
            }
            match lvsdeck::lab::node::serve(name, listen).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("lab-node: {e}");
                    ExitCode::from(2)
                }
            }
        }),
        Some(Command::LabClient {
            target,
            rate,
            status,
            seconds,
        }) => {
            runtime().block_on(lvsdeck::lab::client::run(
                target,
                rate,
                std::time::Duration::from_secs(seconds),
                status,
            ));
            ExitCode::SUCCESS
        }
        Some(Command::LabFlows {
            target,
            count,
            interval_ms,
            status,
        }) => {
            let interval = std::time::Duration::from_millis(interval_ms.max(10));
            runtime().block_on(lvsdeck::lab::flows::run(target, count, interval, status));
            ExitCode::SUCCESS
        }
        Some(Command::Ctl { action, json }) => crate::ctl_cmd::run(&socket, action, json),
        Some(Command::Assets { dir }) => crate::assets_cmd::run(&dir),
        Some(Command::VipGuard) => crate::guard_cmd::run(),
        Some(Command::Doctor {
            explain: Some(topic),
            ..
        }) => match topic.as_str() {
            "time" => {
                println!("{}", lvsdeck::doctor::TIME_SYNC_NOTE);
                ExitCode::SUCCESS
            }
            other => {
                eprintln!("lvsdeck doctor --explain: no topic `{other}` (topics: time)");
                ExitCode::from(2)
            }
        },
        Some(Command::Doctor { json, verbose, .. }) => {
            crate::doctor_cmd::run(&cli.config, cli.socket.as_deref(), json, verbose)
        }
        None if cli.daemon => daemon(&cli.config, cli.socket.as_deref()),
        None => {
            let mode = if cli.embedded {
                Mode::Embedded
            } else {
                Mode::Attach {
                    socket_given: cli.socket.is_some(),
                }
            };
            if cli.embedded && !cli.peer.is_empty() {
                eprintln!("lvsdeck: --peer follows daemons; it does not go with --embedded");
                return ExitCode::from(2);
            }
            console(
                &cli.config,
                &socket,
                mode,
                cli.read_only,
                cli.theme.as_deref(),
                cli.peer.clone(),
            )
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Mode {
    /// Attach to a running daemon; `socket_given`: --socket named it (else the default and
    /// the configuration's control_socket are tried).
    Attach { socket_given: bool },
    /// Run the engines in this process.
    Embedded,
}

/// The console: attached to a running daemon, or (`--embedded` only) running the engines
/// for `file` itself. Never the engines by surprise: without a daemon it says where it
/// looked and stops, since engines started beside a working director take its VIPs.
fn console(
    file: &std::path::Path,
    socket: &std::path::Path,
    mode: Mode,
    read_only: bool,
    theme: Option<&str>,
    peers: Vec<(String, PathBuf)>,
) -> ExitCode {
    use lvsdeck::tui::app::ConsoleConfig;
    let answers = |p: &std::path::Path| std::os::unix::net::UnixStream::connect(p).is_ok();
    let (socket, loaded) = match mode {
        Mode::Attach { socket_given } => {
            let mut tried = vec![socket.to_path_buf()];
            // The configuration may name another control_socket.
            if !socket_given
                && let Ok(l) = config::load_file(file, &FsProbe)
                && l.config.global.control_socket != socket
            {
                tried.push(l.config.global.control_socket);
            }
            match tried.iter().find(|p| answers(p)) {
                Some(p) => (p.clone(), None),
                None => {
                    let looked: Vec<String> =
                        tried.iter().map(|p| p.display().to_string()).collect();
                    eprintln!(
                        "lvsdeck: no daemon answers at {}.\n  Start one: systemctl start lvsdeck, or \
                         lvsdeck --daemon -c {}\n  Or run the engines in this console: lvsdeck \
                         --embedded -c {} (refused while keepalived or another director runs \
                         these VRIDs)",
                        looked.join(" or "),
                        file.display(),
                        file.display()
                    );
                    return ExitCode::from(2);
                }
            }
        }
        Mode::Embedded => {
            let loaded = match config::load_file(file, &FsProbe) {
                Ok(l) => l,
                Err(diags) => {
                    eprint!("{}", diags.render());
                    return ExitCode::from(1);
                }
            };
            let mut reasons = Vec::new();
            // A local daemon's own adverts are not looped back to us: ask its socket.
            for p in [
                socket.to_path_buf(),
                loaded.config.global.control_socket.clone(),
            ] {
                if answers(&p)
                    && !reasons
                        .iter()
                        .any(|r: &String| r.contains(&*p.to_string_lossy()))
                {
                    reasons.push(format!("an lvsdeck daemon answers at {}", p.display()));
                }
            }
            reasons.extend(lvsdeck::vrrp::others::reasons_not_to_start(&loaded.config));
            if !reasons.is_empty() {
                eprintln!(
                    "lvsdeck: --embedded refused: {}.\n  Engines started here would take or drop \
                     the VIPs of the director that runs them; attach to its daemon instead \
                     (lvsdeck --socket PATH).",
                    reasons.join("; ")
                );
                return ExitCode::from(2);
            }
            (socket.to_path_buf(), Some(loaded))
        }
    };
    let socket = socket.as_path();
    let console_cfg = loaded
        .as_ref()
        .map(|l| l.config.console.clone())
        .unwrap_or_default();
    let mut cc = match ConsoleConfig::from_console(&console_cfg) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("lvsdeck: [console.keys]: {e}");
            return ExitCode::from(1);
        }
    };
    cc.read_only = read_only;
    let theme = match lvsdeck::tui::theme::Theme::load(theme.or(console_cfg.theme.as_deref())) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("lvsdeck: {e}");
            return ExitCode::from(1);
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        match loaded {
            None => {
                let label = if peers.is_empty() {
                    socket.display().to_string()
                } else {
                    "local".to_string()
                };
                let mut targets = vec![(label, socket.to_path_buf())];
                targets.extend(peers);
                crate::console_cmd::run(
                    cc,
                    theme,
                    crate::console_cmd::Source::Attach(targets),
                    None,
                )
                .await
            }
            Some(loaded) => {
                // Engines in this process: logs go to a file, not over the console.
                // The state of this host's director, whichever process runs its engines.
                let state_path = lvsdeck::engine::operator_state::path_for(
                    loaded.config.global.state_file.as_deref(),
                    None,
                );
                let director = match lvsdeck::engine::director::Director::start(
                    loaded.config,
                    file.to_path_buf(),
                    "embedded",
                    state_path,
                )
                .await
                {
                    Ok(d) => d,
                    Err(e) => {
                        eprintln!("lvsdeck: cannot start the engines: {e}");
                        return ExitCode::from(2);
                    }
                };
                let handles = director.handles();
                let engines = tokio::spawn(director.run());
                let code = crate::console_cmd::run(
                    cc,
                    theme,
                    crate::console_cmd::Source::Embedded(handles),
                    None,
                )
                .await;
                // Quitting the console stops its engines gracefully: masters hand over first.
                // SAFETY: raise(2) delivers SIGTERM to this process, which the director handles.
                unsafe { libc::raise(libc::SIGTERM) };
                let _ = tokio::time::timeout(std::time::Duration::from_secs(30), engines).await;
                code
            }
        }
    })
}

/// The socket to talk to: --socket, else the default path.
fn socket_path(cli: &Cli) -> PathBuf {
    cli.socket
        .clone()
        .unwrap_or_else(|| config::model::Global::default().control_socket)
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

fn status(socket: &std::path::Path, json: bool) -> ExitCode {
    runtime().block_on(async {
        let mut client = match Client::connect(socket).await {
            Ok(c) => c,
            Err(e) => {
                eprintln!("lvsdeck status: {e}");
                return ExitCode::from(2);
            }
        };
        match client.call(&Request::Snapshot).await {
            Ok(Response::Snapshot { snapshot }) => {
                if json {
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&snapshot).expect("serializable")
                    );
                } else {
                    print!("{}", lvsdeck::engine::status::render(&snapshot, now_ms()));
                }
                ExitCode::SUCCESS
            }
            Ok(other) => {
                eprintln!("lvsdeck status: unexpected answer {other:?}");
                ExitCode::from(2)
            }
            Err(e) => {
                eprintln!("lvsdeck status: {e}");
                ExitCode::from(2)
            }
        }
    })
}

/// `NAME=SOCKET` of `--peer`.
fn parse_peer(text: &str) -> Result<(String, PathBuf), String> {
    match text.split_once('=') {
        Some((name, path)) if !name.is_empty() && !path.is_empty() => {
            Ok((name.to_string(), PathBuf::from(path)))
        }
        _ => Err(format!(
            "`{text}` is not NAME=SOCKET (e.g. d2=/run/lvsdeck/d2.sock)"
        )),
    }
}

/// keepalived's `vrrp_no_swap` / `checker_no_swap`: keep the daemon's pages in memory, so a
/// host swapping hard cannot delay an advert. One process here, so either locks all of it.
fn lock_memory() {
    // SAFETY: mlockall takes flags only.
    if unsafe { libc::mlockall(libc::MCL_CURRENT | libc::MCL_FUTURE) } == 0 {
        eprintln!("lvsdeck: memory locked (no_swap)");
    } else {
        eprintln!(
            "lvsdeck: warning: no_swap: cannot lock memory: {}",
            std::io::Error::last_os_error()
        );
    }
}

fn daemon(file: &std::path::Path, socket: Option<&std::path::Path>) -> ExitCode {
    lvsdeck::engine::systemd::init_logging();
    let loaded = match config::load_file(file, &FsProbe) {
        Ok(l) => l,
        Err(diags) => {
            eprint!("{}", diags.render());
            eprintln!("{}: invalid configuration, not starting", file.display());
            return ExitCode::from(1);
        }
    };
    eprint!("{}", loaded.warnings.render());
    let g = &loaded.config.global;
    if g.vrrp_no_swap || g.checker_no_swap {
        lock_memory();
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("lvsdeck: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let loaded_socket = loaded.config.global.control_socket.clone();
    let admin_group = loaded.config.global.admin_group.clone();
    let control_group = loaded.config.global.control_group.clone();
    let metrics_listen = loaded.config.global.metrics_listen.clone();
    runtime.block_on(async {
        // The socket first: a second daemon must stop before it touches VRRP or IPVS.
        let opts = ServerOptions {
            path: socket.map_or_else(|| loaded_socket.clone(), |p| p.to_path_buf()),
            admin_group: admin_group.clone(),
            watch_group: control_group.clone(),
        };
        let listener = match lvsdeck::control::server::bind(&opts).await {
            Ok(l) => l,
            Err(e) => {
                tracing::error!("control socket {}: {e}", opts.path.display());
                return ExitCode::from(2);
            }
        };
        let state_path = lvsdeck::engine::operator_state::path_for(
            loaded.config.global.state_file.as_deref(),
            socket,
        );
        let director = match lvsdeck::engine::director::Director::start(
            loaded.config,
            file.to_path_buf(),
            "daemon",
            state_path,
        )
        .await
        {
            Ok(d) => d,
            Err(e) => {
                tracing::error!("cannot start: {e}");
                return ExitCode::from(2);
            }
        };
        tokio::spawn(lvsdeck::control::server::serve(
            listener,
            opts.clone(),
            director.handles(),
        ));
        if let Some(listen) = &metrics_listen {
            match listen.parse() {
                Ok(addr) => {
                    let snapshots = director.handles().snapshot;
                    tokio::spawn(async move {
                        if let Err(e) = lvsdeck::engine::metrics::serve(addr, snapshots).await {
                            tracing::error!("metrics on {addr}: {e}");
                        }
                    });
                }
                Err(_) => tracing::error!(
                    "metrics_listen `{listen}` is not an address:port; metrics are off"
                ),
            }
        }
        tracing::info!("lvsdeck daemon running with {}", file.display());
        match director.run().await {
            Ok(how) => {
                tracing::info!("stopped ({how:?})");
                ExitCode::SUCCESS
            }
            Err(e) => {
                tracing::error!("{e}");
                ExitCode::from(3)
            }
        }
    })
}

fn check(file: &std::path::Path, strict: bool) -> ExitCode {
    let result = config::load_file(file, &FsProbe).and_then(|loaded| {
        if strict && !loaded.warnings.0.is_empty() {
            Err(loaded.warnings.into_errors())
        } else {
            Ok(loaded)
        }
    });
    match result {
        Ok(loaded) => {
            eprint!("{}", loaded.warnings.render());
            let c = &loaded.config;
            println!(
                "{}: valid ({:?}): {} VRRP instance(s), {} virtual server(s), {} real server(s), {} warning(s)",
                file.display(),
                loaded.format,
                c.vrrp_instance.len(),
                c.virtual_server.len(),
                c.virtual_server
                    .iter()
                    .map(|v| v.real_server.len())
                    .sum::<usize>(),
                loaded.warnings.0.len()
            );
            ExitCode::SUCCESS
        }
        Err(diags) => {
            eprint!("{}", diags.render());
            eprintln!(
                "{}: invalid: {} error(s), {} warning(s)",
                file.display(),
                diags.errors().count(),
                diags.warnings().count()
            );
            ExitCode::from(1)
        }
    }
}

fn import(file: &std::path::Path) -> ExitCode {
    // The file may come from another director: its scripts are checked where it will run.
    match config::load_file(file, &NoProbe) {
        Ok(loaded) => {
            eprint!("{}", loaded.warnings.render());
            print!(
                "{}",
                config::to_toml(&loaded.config, &file.display().to_string())
            );
            ExitCode::SUCCESS
        }
        Err(diags) => {
            eprint!("{}", diags.render());
            eprintln!(
                "{}: not imported: {} error(s)",
                file.display(),
                diags.errors().count()
            );
            ExitCode::from(1)
        }
    }
}
