//! Command-line arguments (clap derive) and dispatch to each mode (`src/mode/`); no mode's
//! body lives here.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use lvsdeck::config;

use crate::mode;

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
        action: crate::mode::ctl::CtlAction,
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
        Some(Command::Check { file, strict }) => mode::check::run(&file, strict),
        Some(Command::Import { file }) => mode::import::run(&file),
        Some(Command::Status { json }) => mode::status::run(&socket, json),
        Some(Command::Lab {
            action: Some(LabAction::Down),
            ..
        }) => mode::lab::down(),
        Some(Command::Lab {
            action: None,
            rate,
            no_console,
            break_kind,
            bgp,
            bfd,
            flows,
        }) => mode::lab::start(rate, no_console, break_kind.as_deref(), bgp, bfd, flows),
        Some(Command::LabNode { name, listen, echo }) => mode::lab::node(name, listen, echo),
        Some(Command::LabClient {
            target,
            rate,
            status,
            seconds,
        }) => mode::lab::client(target, rate, status, seconds),
        Some(Command::LabFlows {
            target,
            count,
            interval_ms,
            status,
        }) => mode::lab::flows(target, count, interval_ms, status),
        Some(Command::Ctl { action, json }) => mode::ctl::run(&socket, action, json),
        Some(Command::Assets { dir }) => mode::assets::run(&dir),
        Some(Command::VipGuard) => mode::guard::run(),
        Some(Command::Doctor {
            explain: Some(topic),
            ..
        }) => mode::doctor::explain(&topic),
        Some(Command::Doctor { json, verbose, .. }) => {
            mode::doctor::run(&cli.config, cli.socket.as_deref(), json, verbose)
        }
        None if cli.daemon => mode::daemon::run(&cli.config, cli.socket.as_deref()),
        None => {
            let how = if cli.embedded {
                mode::console::How::Embedded
            } else {
                mode::console::How::Attach {
                    socket_given: cli.socket.is_some(),
                }
            };
            mode::console::run(
                &cli.config,
                &socket,
                how,
                cli.read_only,
                cli.theme.as_deref(),
                cli.peer.clone(),
            )
        }
    }
}

/// The socket to talk to: --socket, else the default path.
fn socket_path(cli: &Cli) -> PathBuf {
    cli.socket
        .clone()
        .unwrap_or_else(|| config::model::Global::default().control_socket)
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
