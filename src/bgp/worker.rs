//! The BGP shell: writes the fragment BIRD includes, asks BIRD to read it (`configure`), holds
//! the announced services' addresses on `lo`, and reads the sessions' states every second.
//! It decides nothing: the director sends it [`Plan`]s.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tracing::{info, warn};

use super::bird::{self, Bird};
use super::{Why, fragment};
use crate::config::model::{Bgp, IpNet};

/// How often BIRD's sessions are read (and a failed `configure` tried again).
const POLL_EVERY: Duration = Duration::from_secs(1);

/// What BIRD should announce, numbered so the director knows when it took effect.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub generation: u64,
    pub bgp: Bgp,
    /// Every address of an announced service (held on `lo`), and whether it is announced.
    pub routes: BTreeMap<IpNet, Why>,
    /// The configuration file, named in the fragment's header.
    pub source: String,
}

impl Plan {
    fn announced(&self) -> impl Iterator<Item = IpNet> + '_ {
        self.routes
            .iter()
            .filter(|(_, why)| why.announced())
            .map(|(n, _)| *n)
    }
}

/// What the worker found, after every plan and every poll.
#[derive(Debug, Clone)]
pub struct Report {
    pub at: Instant,
    /// BIRD's protocols that lvsdeck owns, or why they cannot be read.
    pub protocols: Result<Vec<bird::Protocol>, String>,
    /// The last plan BIRD took in (its `configure` succeeded, or BIRD is down so that nothing
    /// is announced at all), and what BIRD said.
    pub applied: Option<(u64, String)>,
    /// A `configure` that failed (BIRD refused the fragment, or could not be reached), kept
    /// until one succeeds.
    pub configure_error: Option<String>,
    /// Addresses that could not be put on or taken off `lo`.
    pub address_errors: Vec<String>,
}

enum ToWorker {
    Plan(Arc<Plan>),
    /// Take the addresses off `lo` and end (the last step of a stop).
    Release(tokio::sync::oneshot::Sender<()>),
}

/// The director's handle on the worker task.
pub struct BgpWorker {
    tx: mpsc::UnboundedSender<ToWorker>,
}

impl BgpWorker {
    pub fn start() -> (BgpWorker, mpsc::Receiver<Report>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let (report_tx, report_rx) = mpsc::channel(16);
        tokio::spawn(run(rx, report_tx));
        (BgpWorker { tx }, report_rx)
    }

    pub fn set_plan(&self, plan: Plan) {
        let _ = self.tx.send(ToWorker::Plan(Arc::new(plan)));
    }

    /// Take the addresses off `lo`; waits at most 5 s.
    pub async fn release(&self) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        if self.tx.send(ToWorker::Release(tx)).is_ok() {
            let _ = tokio::time::timeout(Duration::from_secs(5), rx).await;
        }
    }
}

struct State {
    plan: Option<Arc<Plan>>,
    /// The fragment last written, and whether BIRD has read it since.
    written: Option<String>,
    configured: bool,
    applied: Option<(u64, String)>,
    configure_error: Option<String>,
    bird: Option<Bird>,
    held: BTreeSet<IpNet>,
    /// Addresses no longer in the plan, and since when BIRD has had the plan without them:
    /// taken off lo `withdraw_wait` later (packets on their way are still forwarded).
    leaving: BTreeMap<IpNet, Option<Instant>>,
    address_errors: Vec<String>,
}

async fn run(mut rx: mpsc::UnboundedReceiver<ToWorker>, reports: mpsc::Sender<Report>) {
    let mut st = State {
        plan: None,
        written: None,
        configured: false,
        applied: None,
        configure_error: None,
        bird: None,
        held: BTreeSet::new(),
        leaving: BTreeMap::new(),
        address_errors: Vec::new(),
    };
    let mut tick = tokio::time::interval(POLL_EVERY);
    loop {
        tokio::select! {
            msg = rx.recv() => match msg {
                Some(ToWorker::Plan(plan)) => st.plan = Some(plan),
                Some(ToWorker::Release(done)) => {
                    release(&mut st).await;
                    let _ = done.send(());
                    return;
                }
                // The director is gone without a stop (a crash): addresses and announcements
                // stay, like the IPVS table, so the traffic keeps flowing.
                None => return,
            },
            _ = tick.tick() => {}
        }
        let Some(plan) = st.plan.clone() else {
            continue;
        };
        hold_addresses(&mut st, &plan).await;
        apply(&mut st, &plan).await;
        let taken = st
            .applied
            .as_ref()
            .is_some_and(|(g, _)| *g == plan.generation);
        let now = Instant::now();
        for since in st.leaving.values_mut() {
            if taken && since.is_none() {
                *since = Some(now);
            }
        }
        let due: BTreeSet<IpNet> = st
            .leaving
            .iter()
            .filter(|(_, since)| since.is_some_and(|t| now >= t + plan.bgp.withdraw_wait.0))
            .map(|(n, _)| *n)
            .collect();
        remove_addresses(&mut st, &due).await;
        let protocols = read_protocols(&mut st, &plan).await;
        let report = Report {
            at: Instant::now(),
            protocols,
            applied: st.applied.clone(),
            configure_error: st.configure_error.clone(),
            address_errors: st.address_errors.clone(),
        };
        if reports.send(report).await.is_err() {
            return;
        }
    }
}

/// Write the fragment when it changed and have BIRD read it; tried again every poll until
/// BIRD takes it.
async fn apply(st: &mut State, plan: &Plan) {
    let text = fragment(&plan.bgp, plan.announced(), &plan.source);
    if st.written.as_deref() != Some(text.as_str()) {
        if let Err(e) = crate::atomic_file::write(&plan.bgp.bird_include, text.as_bytes()) {
            st.configure_error = Some(format!("writing {}: {e}", plan.bgp.bird_include.display()));
            return;
        }
        st.written = Some(text);
        st.configured = false;
    }
    if st.configured && st.applied.as_ref().is_some_and(|a| a.0 == plan.generation) {
        return;
    }
    match exchange(st, &plan.bgp.bird_socket, "configure").await {
        Ok(reply) if !reply.is_error() => {
            info!(
                "bgp: BIRD read {}: {}",
                plan.bgp.bird_include.display(),
                reply.text()
            );
            st.configured = true;
            st.applied = Some((plan.generation, reply.text()));
            st.configure_error = None;
        }
        Ok(reply) => {
            let e = format!("BIRD refused its configuration: {}", reply.text());
            if st.configure_error.as_ref() != Some(&e) {
                warn!("bgp: {e}");
            }
            st.configure_error = Some(e);
        }
        Err(e) => {
            // BIRD not running (no socket, or nobody listening on it) announces nothing,
            // which is what a withdrawal wants, and reads the fragment, already written, when
            // it starts. Any other failure (permissions, a timeout) proves nothing.
            if bird_not_running(&plan.bgp.bird_socket) {
                st.applied = Some((plan.generation, format!("BIRD not running: {e}")));
            }
            st.configure_error = Some(format!("BIRD unreachable: {e}"));
        }
    }
}

async fn read_protocols(st: &mut State, plan: &Plan) -> Result<Vec<bird::Protocol>, String> {
    let reply = exchange(st, &plan.bgp.bird_socket, "show protocols").await?;
    if reply.is_error() {
        return Err(format!("show protocols: {}", reply.text()));
    }
    let ours: Vec<bird::Protocol> = bird::protocols(&reply)
        .into_iter()
        .filter(|p| p.name.starts_with("lvsdeck_"))
        .collect();
    if ours.is_empty() {
        return Err(format!(
            "BIRD runs without lvsdeck's sessions: its configuration must include {} \
             (include \"{}\"; at the top level of bird.conf)",
            plan.bgp.bird_include.display(),
            plan.bgp.bird_include.display()
        ));
    }
    Ok(ours)
}

/// Whether no BIRD runs behind `socket`: the socket is missing or nobody accepts on it.
fn bird_not_running(socket: &Path) -> bool {
    match std::os::unix::net::UnixStream::connect(socket) {
        Ok(_) => false,
        Err(e) => matches!(
            e.kind(),
            std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
        ),
    }
}

/// One command over the kept connection, reconnecting once if it broke.
async fn exchange(st: &mut State, socket: &Path, command: &str) -> Result<bird::Reply, String> {
    for _ in 0..2 {
        if st.bird.is_none() {
            st.bird = Some(Bird::connect(socket).await?);
        }
        let Some(b) = st.bird.as_mut() else { break };
        match b.command(command).await {
            Ok(reply) => return Ok(reply),
            Err(_) => st.bird = None,
        }
    }
    Err(format!("{}: the connection broke twice", socket.display()))
}

/// Hold every announced service's address on `lo` (IPVS takes a service's packets only for
/// a local address), withdrawn or not: packets still on their way after a withdrawal are
/// forwarded, not dropped. One that leaves the plan is taken off later ([`State::leaving`]).
async fn hold_addresses(st: &mut State, plan: &Plan) {
    let want: BTreeSet<IpNet> = plan.routes.keys().copied().collect();
    st.leaving.retain(|n, _| !want.contains(n));
    for n in st.held.difference(&want) {
        st.leaving.entry(*n).or_insert(None);
    }
    let missing: Vec<IpNet> = want.difference(&st.held).copied().collect();
    if missing.is_empty() && st.address_errors.is_empty() {
        return;
    }
    st.address_errors.clear();
    let Some((rtnl, lo)) = lo_link(st).await else {
        return;
    };
    let opts = crate::vrrp::vip::VipOptions::default();
    for net in missing {
        match rtnl.add_vip(lo, net, &opts).await {
            Ok(()) => {
                info!("bgp: {}/{} on lo", net.addr, net.prefix);
                st.held.insert(net);
            }
            Err(e) => st
                .address_errors
                .push(format!("adding {} to lo: {e}", net.addr)),
        }
    }
}

async fn remove_addresses(st: &mut State, nets: &BTreeSet<IpNet>) {
    if nets.is_empty() {
        return;
    }
    let Some((rtnl, lo)) = lo_link(st).await else {
        return;
    };
    for net in nets {
        match rtnl.del_vip(lo, *net).await {
            Ok(()) => {
                info!("bgp: {}/{} off lo", net.addr, net.prefix);
                st.held.remove(net);
                st.leaving.remove(net);
            }
            Err(e) => st
                .address_errors
                .push(format!("removing {} from lo: {e}", net.addr)),
        }
    }
}

async fn lo_link(st: &mut State) -> Option<(crate::vrrp::vip::Rtnl, u32)> {
    let rtnl = match crate::vrrp::vip::Rtnl::connect() {
        Ok(r) => r,
        Err(e) => {
            st.address_errors.push(format!("rtnetlink: {e}"));
            return None;
        }
    };
    match rtnl.link_by_name("lo").await {
        Ok(l) => Some((rtnl, l.index)),
        Err(e) => {
            st.address_errors.push(format!("lo: {e}"));
            None
        }
    }
}

/// The last step of a stop: every address off lo (the director waited withdraw_wait), once
/// BIRD took the withdrawing plan in. When it did not (it refused the file, or runs but does
/// not answer), they stay: the routers may still send traffic here, and the kernel's table
/// keeps forwarding it.
async fn release(st: &mut State) {
    if let Some(plan) = st.plan.clone() {
        apply(st, &plan).await;
        let taken = st
            .applied
            .as_ref()
            .is_some_and(|(g, _)| *g == plan.generation);
        if !taken {
            let why = st
                .configure_error
                .clone()
                .unwrap_or_else(|| "no answer".into());
            tracing::error!(
                "bgp: BIRD did not take the withdrawal in ({why}); the addresses stay on lo \
                 and the IPVS table stays, so what the routers still send here is forwarded"
            );
            return;
        }
    }
    let all = st.held.clone();
    remove_addresses(st, &all).await;
}
