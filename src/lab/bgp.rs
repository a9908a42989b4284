//! `lvsdeck lab --bgp N`: N directors behind an ECMP router instead of a VRRP pair. Each
//! director runs lvsdeck and its own BIRD 2, announcing the VIP over eBGP to a router
//! namespace whose BIRD merges the routes into one multipath route (L4 hash,
//! the five-tuple, `fib_multipath_hash_policy = 3`); every director schedules with Maglev (`mh`, `mh-port`)
//! over the same two web nodes, in DR, with sloppy TCP, so a flow the router moves from one
//! director to another continues on the same real server. The client is on a subnet of its
//! own behind the router: an HTTP request stream (new connections) and, with `flows`, long
//! connections measured one by one ([`super::flows`]).

use std::path::Path;
use std::time::{Duration, Instant};

use super::Lab;
use super::bird::{self, Bird};
use super::netns::HostSpec;

pub const VIP: &str = "10.30.0.100";
pub const ROUTER: &str = "10.20.0.254";
pub const ROUTER_AS: u32 = 65000;
/// The long connections' service on the web nodes.
pub const ECHO_PORT: u16 = 9000;
pub const WEB: [(&str, &str); 2] = [("web-node1", "10.20.0.11"), ("web-node2", "10.20.0.12")];

/// How the BGP lab is built.
#[derive(Debug, Clone)]
pub struct Options {
    pub directors: usize,
    /// HTTP requests a second (new connections).
    pub rate: u32,
    /// Long connections, and how often each sends.
    pub flows: usize,
    pub flow_interval: Duration,
    /// Directors (1-based) whose session to the router runs BFD (100 ms × 3).
    pub bfd: Vec<usize>,
}

/// The director's name (`d1`, ...) and address.
pub fn director(i: usize) -> (String, String) {
    (format!("d{i}"), format!("10.20.0.{i}"))
}

fn hosts(n: usize) -> Vec<HostSpec> {
    let mut hosts = vec![HostSpec::new(
        "router",
        0xfe,
        &[&format!("{ROUTER}/24"), "10.99.0.254/24"],
    )];
    for i in 1..=n {
        let (name, addr) = director(i);
        hosts.push(HostSpec::new(&name, i as u8, &[&format!("{addr}/24")]));
    }
    for (k, (name, addr)) in WEB.iter().enumerate() {
        hosts.push(HostSpec::new(
            name,
            0x11 + k as u8,
            &[&format!("{addr}/24")],
        ));
    }
    hosts.push(HostSpec::new("client", 0x10, &["10.99.0.10/24"]));
    hosts
}

/// Director `i`'s configuration: BGP to the router, the VIP's HTTP and echo services by
/// Maglev over both web nodes, announced while they have quorum.
pub fn director_config(i: usize, run_dir: &Path, bfd: bool) -> String {
    let (name, _) = director(i);
    let run = run_dir.display();
    let mut c = format!(
        "[global]\nrouter_id = \"{name}\"\ncontrol_socket = \"{run}/{name}.sock\"\n\
         state_file = \"{run}/{name}-state.json\"\n\n\
         [bgp]\nlocal_as = {}\nbird_socket = \"{run}/{name}-bird.ctl\"\n\
         bird_include = \"{run}/{name}-lvsdeck.conf\"\nhold_time = \"3s\"\nwithdraw_wait = \"2s\"\n\
         [[bgp.neighbor]]\naddress = \"{ROUTER}\"\nremote_as = {ROUTER_AS}\nbfd = {bfd}\n",
        ROUTER_AS + i as u32
    );
    for port in [80, ECHO_PORT] {
        c.push_str(&format!(
            "\n[[virtual_server]]\nip = \"{VIP}\"\nport = {port}\nprotocol = \"TCP\"\n\
             lvs_sched = \"mh\"\nsched_flags = [\"mh-port\"]\nlvs_method = \"DR\"\n\
             announce = true\ndelay_loop = \"2s\"\ninhibit_on_failure = true\n"
        ));
        for (_, addr) in WEB {
            c.push_str(&format!(
                "[[virtual_server.real_server]]\nip = \"{addr}\"\nport = {port}\n\
                 check = [{{ type = \"tcp\", connect_timeout = \"3s\", retry = 2, \
                 delay_before_retry = \"1s\" }}]\n"
            ));
        }
    }
    c
}

impl Lab {
    /// Build the BGP lab and start everything; the client starts once the router has a route
    /// to the VIP (or after 20 s, so that what fails is seen).
    pub fn start_bgp(run_dir: &Path, opts: &Options) -> Result<Lab, String> {
        let mut lab = Lab::build(run_dir, hosts(opts.directors))?;
        let e = |e: std::io::Error| e.to_string();
        // The router: forwards between the client's subnet and the directors', hashing flows
        // over the equal-cost next hops by their addresses, protocol and ports. Policy 3 with
        // those five fields rather than policy 1: policy 1 takes a packet's hash as it comes
        // when it has one, and a packet from a socket in another namespace of this kernel
        // carries the socket's random hash, which TCP changes at every timeout (a real
        // router hashes what is on the wire; so does policy 3, and `ip route get` with it).
        for (k, v) in [
            ("net.ipv4.ip_forward", "1"),
            ("net.ipv4.fib_multipath_hash_policy", "3"),
            ("net.ipv4.fib_multipath_hash_fields", "0x0037"),
            ("net.ipv4.conf.all.send_redirects", "0"),
            ("net.ipv4.conf.eth0.send_redirects", "0"),
        ] {
            lab.topo.sysctl("router", k, v).map_err(e)?;
        }
        lab.topo
            .exec(
                "client",
                &["ip", "route", "add", "default", "via", "10.99.0.254"],
            )
            .map_err(e)?;
        let peers: Vec<bird::Peer> = (1..=opts.directors)
            .map(|i| bird::Peer {
                address: director(i).1,
                asn: ROUTER_AS + i as u32,
                bfd: opts.bfd.contains(&i),
            })
            .collect();
        let router_conf = bird::router_config(ROUTER, ROUTER_AS, &peers, 100);
        lab.birds.push(
            Bird::start(&lab.topo.ns("router"), "router-bird", &router_conf, run_dir)
                .map_err(|e| format!("BIRD on the router: {e}"))?,
        );
        for (name, _) in WEB {
            lab.topo
                .exec(
                    name,
                    &["ip", "addr", "add", &format!("{VIP}/32"), "dev", "lo"],
                )
                .map_err(e)?;
            lab.topo
                .exec(name, &["ip", "route", "add", "default", "via", ROUTER])
                .map_err(e)?;
            quiet_arp(&lab, name)?;
            let echo = format!("0.0.0.0:{ECHO_PORT}");
            let child = lab
                .spawn(
                    name,
                    &[
                        "lab-node",
                        "--name",
                        name,
                        "--listen",
                        "0.0.0.0:80",
                        "--echo",
                        &echo,
                    ],
                )
                .map_err(e)?;
            lab.children.push((name.to_string(), child));
        }
        for i in 1..=opts.directors {
            let (name, addr) = director(i);
            lab.topo
                .exec(&name, &["ip", "route", "add", "default", "via", ROUTER])
                .map_err(e)?;
            // The VIP sits on lo here too: answer ARP for it on no wire, as the web nodes.
            quiet_arp(&lab, &name)?;
            let fragment = run_dir.join(format!("{name}-lvsdeck.conf"));
            // BIRD will not start on a missing include; lvsdeck fills it.
            std::fs::write(&fragment, "").map_err(e)?;
            lab.birds.push(
                Bird::start(
                    &lab.topo.ns(&name),
                    &format!("{name}-bird"),
                    &bird::director_config(&addr, &fragment),
                    run_dir,
                )
                .map_err(|e| format!("BIRD on {name}: {e}"))?,
            );
            let text = director_config(i, run_dir, opts.bfd.contains(&i));
            std::fs::write(run_dir.join(format!("{name}.toml")), text).map_err(e)?;
            if super::kernel_has_ipvs() {
                lab.topo
                    .sysctl(&name, "net.ipv4.vs.expire_nodest_conn", "1")
                    .map_err(e)?;
            }
            lab.start_director(&name)
                .map_err(|e| format!("starting lvsdeck on {name}: {e}"))?;
        }
        let waited = Instant::now();
        while waited.elapsed() < Duration::from_secs(20) && lab.router_next_hops().is_empty() {
            std::thread::sleep(Duration::from_millis(200));
        }
        let status = lab.client_status_path();
        let rate = opts.rate.to_string();
        let target = format!("{VIP}:80");
        let child = lab
            .spawn(
                "client",
                &[
                    "lab-client",
                    "--target",
                    &target,
                    "--rate",
                    &rate,
                    "--status",
                ]
                .into_iter()
                .chain([status.to_str().unwrap_or_default()])
                .collect::<Vec<_>>(),
            )
            .map_err(e)?;
        lab.children.push(("client".to_string(), child));
        lab.start_flows(VIP, opts.flows, opts.flow_interval)?;
        Ok(lab)
    }

    /// The router's next hops to the VIP now (its kernel's route), sorted.
    pub fn router_next_hops(&self) -> Vec<String> {
        let out = super::output(
            self.topo
                .command("router", "ip")
                .args(["-j", "route", "show", VIP]),
        );
        next_hops(&out)
    }
}

/// A host with the VIP on lo answers ARP only for its own wire's addresses (DR's rule).
fn quiet_arp(lab: &Lab, host: &str) -> Result<(), String> {
    for (k, v) in [
        ("net.ipv4.conf.all.arp_ignore", "1"),
        ("net.ipv4.conf.eth0.arp_ignore", "1"),
        ("net.ipv4.conf.all.arp_announce", "2"),
        ("net.ipv4.conf.eth0.arp_announce", "2"),
    ] {
        lab.topo.sysctl(host, k, v).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Next hops in `ip -j route show` output, sorted.
pub fn next_hops(json: &str) -> Vec<String> {
    let routes: Vec<serde_json::Value> = serde_json::from_str(json).unwrap_or_default();
    let mut hops: Vec<String> = routes
        .iter()
        .flat_map(|r| match r["nexthops"].as_array() {
            Some(n) => n.iter().map(|h| h["gateway"].clone()).collect(),
            None => vec![r["gateway"].clone()],
        })
        .filter_map(|g| g.as_str().map(String::from))
        .collect();
    hops.sort();
    hops
}
