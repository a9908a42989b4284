//! The lab: the seed's LVS-DR cluster in network namespaces on this machine — two directors
//! running lvsdeck, two web nodes with the VIP on `lo`, and a client sending a steady, bounded
//! stream of HTTP requests to the VIP. Used by `lvsdeck lab` and by the integration tests.

pub mod bgp;
pub mod bird;
pub mod client;
pub mod flows;
pub mod netns;
pub mod node;

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use netns::{HostSpec, Topology};

use crate::config::{self, Config};

/// Namespace prefix of the lab (`lvlab-lvs-master`, ...).
pub const PREFIX: &str = "lvlab";
/// The lab's LAN: the seed's last octets on a lab network.
pub const NET: &str = "10.10.10";
pub const VIP: &str = "10.10.10.100";
/// Where the lab keeps its pid file, sockets, configs and logs.
pub const RUN_DIR: &str = "/run/lvsdeck/lab";

/// The hosts of the seed's topology, with the seed's last octets.
pub fn hosts() -> Vec<HostSpec> {
    vec![
        HostSpec::new("lvs-master", 0x71, &[&format!("{NET}.71/24")]),
        HostSpec::new("lvs-backup", 0x70, &[&format!("{NET}.70/24")]),
        HostSpec::new("web-node1", 0x72, &[&format!("{NET}.72/24")]),
        HostSpec::new("web-node2", 0x73, &[&format!("{NET}.73/24")]),
        HostSpec::new("client", 0x10, &[&format!("{NET}.10/24")]),
    ]
}

/// The directors' configuration: `config/lvsdeck.toml` (the seed) moved to the lab's addresses
/// and interface, with the backup's three changes from the article.
pub fn director_config(backup: bool, run_dir: &Path) -> Result<String, String> {
    let seed = include_str!("../../config/lvsdeck.toml");
    let mut text = seed
        .replace("192.168.10.", &format!("{NET}."))
        .replace("ens33", "eth0");
    if backup {
        text = text
            .replace("router_id = \"LVS_MASTER\"", "router_id = \"LVS_BACKUP\"")
            .replace("state = \"master\"", "state = \"backup\"")
            .replace("priority = 100 ", "priority = 90  ");
    }
    // Beyond the seed: the directors share their IPVS connections (the kernel's sync
    // daemons, master on the VIP holder), as an operator would set up a pair; connections
    // under way keep their real server across a hand-over once synced.
    text.push_str(
        "\n# Added by the lab: connection sync between the directors.\n\
         [global.lvs_sync_daemon]\ninterface = \"eth0\"\ninstance = \"VI_1\"\n",
    );
    // Also beyond the seed: both directors run lvsdeck, so a graceful hand-over can hand the
    // connections under way back to the old master for a moment instead of resetting them.
    text = text.replace(
        "[vrrp_instance.VI_1]\n",
        "[vrrp_instance.VI_1]\nhandover_grace = \"2s\"      # lab: see README, hand-over\n",
    );
    let host = if backup { "lvs-backup" } else { "lvs-master" };
    let socket = run_dir.join(format!("{host}.sock"));
    text = text.replace(
        "control_socket = \"/run/lvsdeck/control.sock\"",
        &format!("control_socket = \"{}\"", socket.display()),
    );
    // Check it here: a lab that starts from a broken configuration helps nobody.
    config::load_text(
        Path::new("lab.toml"),
        text.clone(),
        &config::validate::NoProbe,
    )
    .map_err(|d| format!("the lab's director configuration is invalid:\n{d}"))?;
    Ok(text)
}

/// Whether the kernel here has IPVS (the directors balance only where it does).
pub fn kernel_has_ipvs() -> bool {
    Path::new("/proc/net/ip_vs").exists()
}

/// One thing the lab mis-configures on purpose (`lvsdeck lab --break KIND`), so that
/// `lvsdeck doctor` can be seen finding it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Break {
    /// web-node2 answers ARP for the VIP (arp_ignore / arp_announce left at 0).
    ArpIgnore,
    /// web-node2 lacks the VIP on lo.
    NoVipOnLo,
    /// lvs-backup's firewall drops VRRP: it never hears the master and becomes master too.
    VrrpFirewall,
}

impl Break {
    pub const ALL: &[(&str, Break)] = &[
        ("arp-ignore", Break::ArpIgnore),
        ("no-vip-on-lo", Break::NoVipOnLo),
        ("vrrp-firewall", Break::VrrpFirewall),
    ];

    pub fn parse(text: &str) -> Result<Break, String> {
        Self::ALL
            .iter()
            .find(|(name, _)| *name == text)
            .map(|&(_, b)| b)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|(n, _)| *n).collect();
                format!("no break `{text}` (one of: {})", names.join(", "))
            })
    }

    /// The host it breaks.
    pub fn host(self) -> &'static str {
        match self {
            Break::ArpIgnore | Break::NoVipOnLo => "web-node2",
            Break::VrrpFirewall => "lvs-backup",
        }
    }
}

/// The nftables table `--break vrrp-firewall` loads on lvs-backup.
pub const BREAK_TABLE: &str = "lab_break";

/// A running lab: namespaces and the processes in them. Dropping it tears everything down.
pub struct Lab {
    pub topo: Topology,
    pub run_dir: PathBuf,
    children: Vec<(String, Child)>,
    /// BIRD daemons (the BGP lab), killed on drop.
    birds: Vec<bird::Bird>,
}

impl Lab {
    pub fn socket(&self, director: &str) -> PathBuf {
        self.run_dir.join(format!("{director}.sock"))
    }

    pub fn client_status_path(&self) -> PathBuf {
        self.run_dir.join("client.json")
    }

    pub fn log_path(&self, host: &str) -> PathBuf {
        self.run_dir.join(format!("{host}.log"))
    }

    /// Kill one process of the lab (by host name), as a crash would.
    pub fn kill(&mut self, host: &str) {
        for (name, child) in &mut self.children {
            if name == host {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }

    /// Start (again) the lvsdeck daemon of a director.
    pub fn start_director(&mut self, host: &str) -> io::Result<()> {
        let conf = self.run_dir.join(format!("{host}.toml"));
        let child = self.spawn(host, &["--daemon", "-c", conf.to_str().unwrap_or_default()])?;
        self.children.push((host.to_string(), child));
        Ok(())
    }

    fn spawn(&self, host: &str, args: &[&str]) -> io::Result<Child> {
        let exe = std::env::current_exe()?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path(host))?;
        self.topo
            .command(host, exe.to_str().unwrap_or("lvsdeck"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
    }

    /// The run folder and the namespaces, nothing started yet.
    fn build(run_dir: &Path, hosts: Vec<HostSpec>) -> Result<Lab, String> {
        std::fs::create_dir_all(run_dir).map_err(|e| format!("{}: {e}", run_dir.display()))?;
        // A previous lab's clients' counts are not this one's.
        for stale in ["client.json", "flows.json"] {
            let _ = std::fs::remove_file(run_dir.join(stale));
        }
        let topo = Topology::build(PREFIX, hosts)
            .map_err(|e| format!("building the namespaces: {e}"))?
            .keep();
        Ok(Lab {
            topo,
            run_dir: run_dir.to_path_buf(),
            children: Vec::new(),
            birds: Vec::new(),
        })
    }

    /// Build the topology and start every process.
    pub fn start(run_dir: &Path, client_rate: u32) -> Result<Lab, String> {
        Self::start_broken(run_dir, client_rate, None)
    }

    /// [`Lab::start`], with one thing mis-configured on purpose.
    pub fn start_broken(
        run_dir: &Path,
        client_rate: u32,
        broken: Option<Break>,
    ) -> Result<Lab, String> {
        Self::start_pair(run_dir, client_rate, broken, 0)
    }

    /// The pair, with `flows` long connections through the VIP besides the request stream
    /// (then the directors also balance the web nodes' echo service, by the same rules).
    pub fn start_pair(
        run_dir: &Path,
        client_rate: u32,
        broken: Option<Break>,
        flows: usize,
    ) -> Result<Lab, String> {
        let mut lab = Lab::build(run_dir, hosts())?;
        for (host, backup) in [("lvs-master", false), ("lvs-backup", true)] {
            let mut text = director_config(backup, run_dir)?;
            if flows > 0 {
                text.push_str(&echo_service(&text));
            }
            std::fs::write(run_dir.join(format!("{host}.toml")), text)
                .map_err(|e| e.to_string())?;
        }
        for node in ["web-node1", "web-node2"] {
            let broken_here = |b: Break| broken == Some(b) && b.host() == node;
            // DR: the real servers accept the VIP on lo but never answer ARP for it.
            if !broken_here(Break::NoVipOnLo) {
                lab.topo
                    .exec(
                        node,
                        &["ip", "addr", "add", &format!("{VIP}/32"), "dev", "lo"],
                    )
                    .map_err(|e| e.to_string())?;
            }
            let (ignore, announce) = if broken_here(Break::ArpIgnore) {
                ("0", "0")
            } else {
                ("1", "2")
            };
            for (key, value) in [
                ("net.ipv4.conf.all.arp_ignore", ignore),
                ("net.ipv4.conf.eth0.arp_ignore", ignore),
                ("net.ipv4.conf.all.arp_announce", announce),
                ("net.ipv4.conf.eth0.arp_announce", announce),
            ] {
                lab.topo
                    .sysctl(node, key, value)
                    .map_err(|e| e.to_string())?;
            }
            let echo = format!("0.0.0.0:{}", bgp::ECHO_PORT);
            let child = lab
                .spawn(
                    node,
                    &[
                        "lab-node",
                        "--name",
                        node,
                        "--listen",
                        "0.0.0.0:80",
                        "--echo",
                        &echo,
                    ],
                )
                .map_err(|e| e.to_string())?;
            lab.children.push((node.to_string(), child));
        }
        if kernel_has_ipvs() {
            for host in ["lvs-master", "lvs-backup"] {
                // A drain must hold against a client reusing a source port whose old
                // connection (to the drained server) IPVS still remembers: expire such entries
                // on a new SYN, as an operator setting up draining would.
                lab.topo
                    .sysctl(host, "net.ipv4.vs.expire_nodest_conn", "1")
                    .map_err(|e| format!("{host}: {e}"))?;
            }
        }
        if broken == Some(Break::VrrpFirewall) {
            let rules = format!(
                "add table inet {BREAK_TABLE}; add chain inet {BREAK_TABLE} input {{ type \
                 filter hook input priority 0; }}; add rule inet {BREAK_TABLE} input ip \
                 protocol vrrp drop"
            );
            lab.topo
                .exec(Break::VrrpFirewall.host(), &["nft", &rules])
                .map_err(|e| format!("loading the broken firewall: {e}"))?;
        }
        for host in ["lvs-master", "lvs-backup"] {
            lab.start_director(host)
                .map_err(|e| format!("starting lvsdeck on {host}: {e}"))?;
        }
        // The client starts once a director holds the VIP, so that its counts start with a
        // cluster that has elected a master (about one Master_Down_Interval, ~3.6 s) rather
        // than with the election's failures. After VIP_WAIT it starts anyway: what fails then
        // is what the operator must see.
        let waited = std::time::Instant::now();
        while waited.elapsed() < VIP_WAIT
            && !["lvs-master", "lvs-backup"]
                .iter()
                .any(|d| lab.topo.holds(d, VIP))
        {
            std::thread::sleep(Duration::from_millis(100));
        }
        let status = lab.client_status_path();
        let rate = client_rate.to_string();
        let child = lab
            .spawn(
                "client",
                &[
                    "lab-client",
                    "--target",
                    &format!("{VIP}:80"),
                    "--rate",
                    &rate,
                    "--status",
                    status.to_str().unwrap_or_default(),
                ],
            )
            .map_err(|e| e.to_string())?;
        lab.children.push(("client".to_string(), child));
        lab.start_flows(VIP, flows, Duration::from_millis(500))?;
        Ok(lab)
    }

    /// The client's long connections to `vip`'s echo service ([`flows`]), if `count` > 0.
    fn start_flows(&mut self, vip: &str, count: usize, every: Duration) -> Result<(), String> {
        if count == 0 {
            return Ok(());
        }
        let status = self.flows_status_path();
        let (count, every) = (count.to_string(), every.as_millis().to_string());
        let target = format!("{vip}:{}", bgp::ECHO_PORT);
        let args = [
            "lab-flows",
            "--target",
            &target,
            "--count",
            &count,
            "--interval-ms",
            &every,
            "--status",
            status.to_str().unwrap_or_default(),
        ];
        let child = self.spawn("client", &args).map_err(|e| e.to_string())?;
        self.children.push(("flows".to_string(), child));
        Ok(())
    }

    pub fn flows_status_path(&self) -> PathBuf {
        self.run_dir.join("flows.json")
    }

    /// Wait until a director's control socket answers.
    pub fn wait_for_socket(&self, director: &str, timeout: Duration) -> bool {
        let path = self.socket(director);
        let start = std::time::Instant::now();
        while start.elapsed() < timeout {
            if std::os::unix::net::UnixStream::connect(&path).is_ok() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }
}

/// How long the lab waits for a director to take the VIP before starting its client.
const VIP_WAIT: Duration = Duration::from_secs(10);

impl Drop for Lab {
    fn drop(&mut self) {
        // Directors first, with SIGTERM, so the VIP is released cleanly; then everything else.
        for (name, child) in &mut self.children {
            if is_director(name) {
                // SAFETY: kill(2) on our own child.
                unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
            }
        }
        std::thread::sleep(Duration::from_millis(200));
        for (_, child) in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.birds.clear();
        self.topo.teardown();
        let _ = std::fs::remove_file(self.run_dir.join("lab.pid"));
    }
}

/// The web nodes' echo service as a second virtual service of the pair's `config`: the HTTP
/// service's address, scheduler and method, a TCP check.
fn echo_service(config: &str) -> String {
    let port = bgp::ECHO_PORT;
    let mut s = format!(
        "\n# Added by the lab for --flows: the web nodes' echo service.\n[[virtual_server]]\n\
         ip = \"{VIP}\"\nport = {port}\nprotocol = \"TCP\"\nlvs_sched = \"rr\"\nlvs_method = \"DR\"\n\
         delay_loop = \"6s\"\n"
    );
    for node in ["72", "73"] {
        s.push_str(&format!(
            "[[virtual_server.real_server]]\nip = \"{NET}.{node}\"\nport = {port}\n\
             check = [{{ type = \"tcp\", connect_timeout = \"3s\", retry = 1, delay_before_retry = \"3s\" }}]\n"
        ));
    }
    debug_assert!(config.contains(VIP));
    s
}

/// The pair's `lvs-master` / `lvs-backup`, the BGP lab's `d1`, `d2`, ...
fn is_director(name: &str) -> bool {
    name.starts_with("lvs-")
        || name
            .strip_prefix('d')
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Claim the lab: refuse when another `lvsdeck lab` is alive, take over a stale pid file.
pub fn claim(run_dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(run_dir).map_err(|e| format!("{}: {e}", run_dir.display()))?;
    let pid_file = run_dir.join("lab.pid");
    if let Ok(text) = std::fs::read_to_string(&pid_file)
        && let Ok(pid) = text.trim().parse::<i32>()
        && pid != std::process::id() as i32
        // SAFETY: signal 0 only checks that the process exists.
        && unsafe { libc::kill(pid, 0) } == 0
    {
        return Err(format!(
            "a lab is already running (pid {pid}); quit it, or run `lvsdeck lab down` if it crashed"
        ));
    }
    std::fs::write(&pid_file, std::process::id().to_string()).map_err(|e| e.to_string())
}

/// `lvsdeck lab down`: remove what a crashed lab left behind.
pub fn down(run_dir: &Path) -> String {
    let before = netns::namespaces()
        .iter()
        .filter(|n| n.starts_with(PREFIX))
        .count();
    if let Ok(text) = std::fs::read_to_string(run_dir.join("lab.pid"))
        && let Ok(pid) = text.trim().parse::<i32>()
    {
        // SAFETY: kill(2) on the pid the lab recorded.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        std::thread::sleep(Duration::from_millis(300));
    }
    netns::remove_all(PREFIX);
    let _ = std::fs::remove_dir_all(run_dir);
    format!("lab removed ({before} namespaces)")
}

/// Run a command and return its stdout, for small queries inside the lab.
pub fn output(cmd: &mut Command) -> String {
    cmd.output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

/// The lab configuration parsed, for callers that want the model.
pub fn director_model(backup: bool) -> Result<Config, String> {
    let text = director_config(backup, Path::new(RUN_DIR))?;
    config::load_text(Path::new("lab.toml"), text, &config::validate::NoProbe)
        .map(|l| l.config)
        .map_err(|d| d.to_string())
}
