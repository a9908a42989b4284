//! The BFD shell: every session of the configuration on one thread with its own runtime, so
//! a director busy building a view or reloading never delays a 10 ms packet. One receive
//! socket per family on UDP 3784 (RFC 5881 §4), one send socket per session from a port in
//! 49152-65535 with TTL / hop limit as configured (255 / 64, as keepalived). The minimum TTL
//! accepted is enforced by the kernel (`IP_MINTTL`, `IPV6_MINHOPCOUNT`): the lowest any
//! session allows, since the receive socket is shared.

use std::collections::BTreeMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::AsRawFd;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tracing::{info, warn};

use super::packet::{CONTROL_PORT, Control, Diag, SOURCE_PORTS, State};
use super::session::{Event, Session, SessionParams};
use crate::snapshot::{BfdView as SessionView, now_ms};

/// One configured session (`bfd_instance`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    pub name: String,
    pub peer: IpAddr,
    pub local: Option<IpAddr>,
    pub params: SessionParams,
    /// TTL / hop limit sent.
    pub ttl: u8,
    /// The lowest TTL / hop limit accepted (0: no check).
    pub min_rx_ttl: u8,
}

/// A session's change of state for the VRRP side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub name: String,
    pub peer: IpAddr,
    /// Up, or not (Down, Init, AdminDown all count as down, as keepalived reports them).
    pub up: bool,
    /// Gone down because this side stopped hearing the peer (detection time expired), the one
    /// reason a backup's `takeover` acts on; a peer saying Down or AdminDown is not a death.
    pub peer_silent: bool,
    /// Not a change of state: the first packet from a peer whose silence was told (it answered
    /// our Down), which a backup waiting to take over takes as a sign of life.
    pub heard_again: bool,
    /// With `peer_silent`: how long a packet from the peer may take to contradict it (the
    /// detection time).
    pub confirm: Duration,
    pub diag: Diag,
    pub at: Instant,
    /// Going down: how long the session had been Up, and how many packets came late in the
    /// second before (a flapping or lossy session is not trusted).
    pub up_for: Option<Duration>,
    pub recent_gaps: u32,
}

enum Command {
    Set(Vec<Spec>),
    Stop(std::sync::mpsc::Sender<()>),
}

/// Handle to the BFD thread.
pub struct Bfd {
    commands: mpsc::UnboundedSender<Command>,
    views: Arc<Mutex<Vec<SessionView>>>,
    /// Packets dropped before any session saw them, by reason.
    drops: Arc<Mutex<BTreeMap<&'static str, u64>>>,
}

impl Bfd {
    /// Start the sessions; `notify` hears every change between up and down. Fails when the
    /// receive socket cannot be opened (port 3784 taken by another BFD daemon).
    pub fn start(specs: Vec<Spec>, notify: impl Fn(Change) + Send + 'static) -> io::Result<Bfd> {
        let (commands, rx) = mpsc::unbounded_channel();
        let views = Arc::new(Mutex::new(Vec::new()));
        let drops = Arc::new(Mutex::new(BTreeMap::new()));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (v, d) = (views.clone(), drops.clone());
        std::thread::Builder::new()
            .name("bfd".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                rt.block_on(async move {
                    let sockets = match Receivers::open(&specs) {
                        Ok(s) => s,
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                            return;
                        }
                    };
                    let _ = ready_tx.send(Ok(()));
                    let mut shell = Shell {
                        sessions: Vec::new(),
                        sockets,
                        views: v,
                        drops: d,
                        notify: Box::new(notify),
                        next_disc: 0x1bfd_0000 | (std::process::id() & 0xffff) << 1,
                    };
                    shell.set(specs).await;
                    shell.run(rx).await;
                });
            })?;
        ready_rx
            .recv()
            .unwrap_or_else(|_| Err(io::Error::other("the BFD thread ended at start")))?;
        Ok(Bfd {
            commands,
            views,
            drops,
        })
    }

    /// A reload: sessions by the same name and addresses keep their state and take new
    /// intervals with a Poll; others start; those gone say AdminDown and stop.
    pub fn set(&self, specs: Vec<Spec>) {
        let _ = self.commands.send(Command::Set(specs));
    }

    pub fn views(&self) -> Vec<SessionView> {
        self.views.lock().map(|v| v.clone()).unwrap_or_default()
    }

    pub fn drops(&self) -> BTreeMap<&'static str, u64> {
        self.drops.lock().map(|d| d.clone()).unwrap_or_default()
    }

    /// Say AdminDown on every session (peers do not take a stop for a failure), then end.
    pub fn stop(&self) {
        let (tx, rx) = std::sync::mpsc::channel();
        if self.commands.send(Command::Stop(tx)).is_ok() {
            let _ = rx.recv_timeout(Duration::from_secs(1));
        }
    }
}

impl Drop for Bfd {
    fn drop(&mut self) {
        self.stop();
    }
}

struct Running {
    spec: Spec,
    session: Session,
    socket: Result<UdpSocket, String>,
    /// Up, as last told to `notify`.
    told_up: Option<bool>,
    /// A Down by silence was told and nothing has been heard from the peer since.
    silence_told: bool,
}

struct Receivers {
    v4: Option<UdpSocket>,
    v6: Option<UdpSocket>,
}

impl Receivers {
    fn open(specs: &[Spec]) -> io::Result<Receivers> {
        let mut r = Receivers { v4: None, v6: None };
        r.ensure(specs)?;
        Ok(r)
    }

    /// A socket for each family the sessions use, accepting the lowest TTL any allows.
    fn ensure(&mut self, specs: &[Spec]) -> io::Result<()> {
        for v6 in [false, true] {
            let Some(ttl) = specs
                .iter()
                .filter(|s| s.peer.is_ipv6() == v6)
                .map(|s| s.min_rx_ttl)
                .min()
            else {
                continue;
            };
            let slot = if v6 { &mut self.v6 } else { &mut self.v4 };
            if slot.is_none() {
                *slot = Some(open_receiver(v6)?);
            }
            let (level, name) = if v6 {
                (libc::IPPROTO_IPV6, libc::IPV6_MINHOPCOUNT)
            } else {
                (libc::IPPROTO_IP, libc::IP_MINTTL)
            };
            let sock = slot.as_ref().expect("opened above");
            setsockopt_int(&socket2::SockRef::from(sock), level, name, ttl.into())?;
        }
        Ok(())
    }
}

fn open_receiver(v6: bool) -> io::Result<UdpSocket> {
    let (domain, addr) = if v6 {
        (
            socket2::Domain::IPV6,
            SocketAddr::from((Ipv6Addr::UNSPECIFIED, CONTROL_PORT)),
        )
    } else {
        (
            socket2::Domain::IPV4,
            SocketAddr::from((Ipv4Addr::UNSPECIFIED, CONTROL_PORT)),
        )
    };
    let s = socket2::Socket::new(domain, socket2::Type::DGRAM, None)?;
    if v6 {
        s.set_only_v6(true)?;
    }
    s.set_nonblocking(true)?;
    s.bind(&addr.into()).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("BFD: cannot listen on UDP {addr}: {e} (another BFD daemon?)"),
        )
    })?;
    UdpSocket::from_std(s.into())
}

fn setsockopt_int(s: &socket2::SockRef<'_>, level: i32, name: i32, v: i32) -> io::Result<()> {
    // SAFETY: a plain int option on a socket this function borrows.
    let rc = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            level,
            name,
            (&v as *const i32).cast(),
            std::mem::size_of::<i32>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

struct Shell {
    sessions: Vec<Running>,
    sockets: Receivers,
    views: Arc<Mutex<Vec<SessionView>>>,
    drops: Arc<Mutex<BTreeMap<&'static str, u64>>>,
    notify: Box<dyn Fn(Change) + Send>,
    next_disc: u32,
}

impl Shell {
    async fn run(&mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        let mut buf4 = [0u8; 512];
        let mut buf6 = [0u8; 512];
        let mut published = Instant::now();
        loop {
            let deadline = self
                .sessions
                .iter()
                .filter_map(|r| r.session.next_timeout())
                .min()
                .unwrap_or_else(|| Instant::now() + Duration::from_secs(1));
            tokio::select! {
                r = recv(self.sockets.v4.as_ref(), &mut buf4) => {
                    if let Ok((n, from)) = r {
                        self.packet(from.ip(), &buf4[..n]);
                    }
                }
                r = recv(self.sockets.v6.as_ref(), &mut buf6) => {
                    if let Ok((n, from)) = r {
                        let ip = match from.ip() {
                            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
                            v4 => v4,
                        };
                        self.packet(ip, &buf6[..n]);
                    }
                }
                c = commands.recv() => match c {
                    Some(Command::Set(specs)) => self.set(specs).await,
                    Some(Command::Stop(done)) => {
                        self.stop_all().await;
                        let _ = done.send(());
                        return;
                    }
                    None => {
                        self.stop_all().await;
                        return;
                    }
                },
                _ = tokio::time::sleep_until(deadline.into()) => {}
            }
            let changed = self.step().await;
            if changed || published.elapsed() >= Duration::from_millis(250) {
                self.publish();
                published = Instant::now();
            }
        }
    }

    fn packet(&mut self, from: IpAddr, bytes: &[u8]) {
        let now = Instant::now();
        let head = match Control::decode_unauthenticated(bytes) {
            Ok(c) => c,
            Err(e) => return self.drop_packet(e.counter(), from, &e.to_string()),
        };
        // RFC 5880 §6.8.6: by Your Discriminator, or by the addresses while it is 0.
        let found = if head.your_disc != 0 {
            self.sessions
                .iter_mut()
                .find(|r| r.session.local_disc() == head.your_disc)
        } else {
            self.sessions.iter_mut().find(|r| r.spec.peer == from)
        };
        let Some(r) = found else {
            return self.drop_packet("no_session", from, "no session for it");
        };
        if r.spec.peer != from {
            return self.drop_packet(
                "wrong_peer",
                from,
                "discriminator of another peer's session",
            );
        }
        match r.session.handle_packet(now, bytes) {
            Err(e) => self.drop_packet(e.counter(), from, &e.to_string()),
            // The peer declared silent speaks (its answer to our Down): not dead after all.
            Ok(()) if std::mem::take(&mut r.silence_told) => {
                let change = Change {
                    name: r.spec.name.clone(),
                    peer: r.spec.peer,
                    up: false,
                    peer_silent: false,
                    heard_again: true,
                    diag: r.session.diag(),
                    at: now,
                    up_for: None,
                    recent_gaps: 0,
                    confirm: Duration::ZERO,
                };
                (self.notify)(change);
            }
            Ok(()) => {}
        }
    }

    fn drop_packet(&mut self, reason: &'static str, from: IpAddr, why: &str) {
        let mut drops = self.drops.lock().expect("drops");
        let n = drops.entry(reason).or_insert(0);
        *n += 1;
        // The first of each reason is worth a line; a flood is counted, not logged.
        if *n == 1 {
            warn!("BFD packet from {from} dropped: {why}");
        }
    }

    /// Timers, transmissions, and changes told; true when a session changed state.
    async fn step(&mut self) -> bool {
        let now = Instant::now();
        let mut changed = false;
        for r in &mut self.sessions {
            r.session.handle_timeout(now);
            send_all(r, now);
            while let Some(ev) = r.session.poll_event() {
                changed = true;
                log_event(&r.spec, &ev);
                let up = ev.to == State::Up;
                if r.told_up != Some(up) {
                    // A peer's AdminDown is no failure: keepalived tells its VRRP nothing.
                    if !up && r.session.remote_state() == State::AdminDown && r.told_up.is_some() {
                        continue;
                    }
                    r.told_up = Some(up);
                    let silent = !up && ev.diag == Diag::ControlDetectionTimeExpired;
                    r.silence_told = silent;
                    (self.notify)(Change {
                        name: r.spec.name.clone(),
                        peer: r.spec.peer,
                        up,
                        peer_silent: silent,
                        heard_again: false,
                        confirm: r.session.detection_time().unwrap_or_default(),
                        diag: ev.diag,
                        at: ev.at,
                        up_for: ev.up_for,
                        recent_gaps: ev.recent_gaps,
                    });
                }
            }
        }
        changed
    }

    async fn set(&mut self, specs: Vec<Spec>) {
        let now = Instant::now();
        if let Err(e) = self.sockets.ensure(&specs) {
            warn!("BFD: {e}");
        }
        let mut old = std::mem::take(&mut self.sessions);
        for spec in specs {
            let same = old.iter().position(|r| {
                r.spec.name == spec.name && r.spec.peer == spec.peer && r.spec.local == spec.local
            });
            if let Some(i) = same {
                let mut r = old.swap_remove(i);
                if r.spec != spec {
                    r.session.set_params(now, spec.params.clone());
                    if r.spec.ttl != spec.ttl
                        && let Ok(s) = &r.socket
                    {
                        let _ = set_ttl(s, spec.peer.is_ipv6(), spec.ttl);
                    }
                    r.spec = spec;
                }
                self.sessions.push(r);
                continue;
            }
            self.next_disc = self.next_disc.wrapping_add(2).max(2);
            let disc = self.next_disc;
            let socket = open_sender(&spec, disc).map_err(|e| e.to_string());
            if let Err(e) = &socket {
                warn!(session = %spec.name, "BFD session {} cannot send: {e}", spec.name);
            }
            info!(session = %spec.name, "BFD session {} to {} starting", spec.name, spec.peer);
            // Tracking starts from "down", as keepalived's does, until the session is Up.
            (self.notify)(Change {
                name: spec.name.clone(),
                peer: spec.peer,
                up: false,
                peer_silent: false,
                heard_again: false,
                confirm: Duration::ZERO,
                diag: Diag::None,
                at: now,
                up_for: None,
                recent_gaps: 0,
            });
            self.sessions.push(Running {
                session: Session::new(spec.params.clone(), disc, u64::from(disc), now),
                told_up: Some(false),
                silence_told: false,
                socket,
                spec,
            });
        }
        for mut r in old {
            r.session.admin_down(now);
            send_all(&mut r, now);
            info!(session = %r.spec.name, "BFD session {} removed", r.spec.name);
        }
        self.publish();
    }

    async fn stop_all(&mut self) {
        let now = Instant::now();
        for r in &mut self.sessions {
            r.session.admin_down(now);
            send_all(r, now);
        }
    }

    fn publish(&self) {
        let views = self.sessions.iter().map(view).collect();
        if let Ok(mut v) = self.views.lock() {
            *v = views;
        }
    }
}

/// Whatever the session has to send now.
fn send_all(r: &mut Running, now: Instant) {
    while let Some(bytes) = r.session.poll_transmit(now) {
        if let Ok(sock) = &r.socket
            && let Err(e) = sock.try_send_to(&bytes, SocketAddr::new(r.spec.peer, CONTROL_PORT))
            && e.kind() != io::ErrorKind::WouldBlock
        {
            // Unreachable peers (ICMP errors) are the detection timer's business.
            tracing::debug!(session = %r.spec.name, "BFD send: {e}");
        }
    }
}

fn log_event(spec: &Spec, ev: &Event) {
    if ev.from != State::Up {
        info!(session = %spec.name, "BFD session {} to {}: {} -> {}", spec.name, spec.peer, ev.from, ev.to);
    } else {
        warn!(
            session = %spec.name,
            "BFD session {} to {}: {} -> {} ({})", spec.name, spec.peer, ev.from, ev.to, ev.diag
        );
    }
}

async fn recv(sock: Option<&UdpSocket>, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
    match sock {
        Some(s) => s.recv_from(buf).await,
        None => std::future::pending().await,
    }
}

fn set_ttl(s: &UdpSocket, v6: bool, ttl: u8) -> io::Result<()> {
    let s = socket2::SockRef::from(s);
    if v6 {
        s.set_unicast_hops_v6(ttl.into())
    } else {
        s.set_ttl_v4(ttl.into())
    }
}

/// A send socket from a source port in 49152-65535 (RFC 5881 §4), starting at a port that
/// depends on the discriminator and probing on when it is taken.
fn open_sender(spec: &Spec, disc: u32) -> io::Result<UdpSocket> {
    let v6 = spec.peer.is_ipv6();
    let local = spec.local.unwrap_or(if v6 {
        IpAddr::V6(Ipv6Addr::UNSPECIFIED)
    } else {
        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
    });
    let span = u32::from(*SOURCE_PORTS.end() - *SOURCE_PORTS.start()) + 1;
    let first = disc.wrapping_mul(2_654_435_761) % span;
    let mut last_err = None;
    for i in 0..span.min(1024) {
        let port = *SOURCE_PORTS.start() + ((first + i) % span) as u16;
        let s = socket2::Socket::new(
            if v6 {
                socket2::Domain::IPV6
            } else {
                socket2::Domain::IPV4
            },
            socket2::Type::DGRAM,
            None,
        )?;
        s.set_nonblocking(true)?;
        match s.bind(&SocketAddr::new(local, port).into()) {
            Ok(()) => {
                // Not connected: a connected socket reports the peer's ICMP port unreachable
                // on the next send, which then does not go out (the Down saying "I lost you").
                let s = UdpSocket::from_std(s.into())?;
                set_ttl(&s, v6, spec.ttl)?;
                return Ok(s);
            }
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => last_err = Some(e),
            Err(e) => return Err(io::Error::new(e.kind(), format!("bind {local}: {e}"))),
        }
    }
    Err(last_err.unwrap_or_else(|| io::Error::other("no free source port")))
}

fn view(r: &Running) -> SessionView {
    let s = &r.session;
    let p = s.params();
    let (rtx, rrx, rmult) = s.remote_intervals();
    let ms = |t: Instant| now_ms().saturating_sub(t.elapsed().as_millis() as u64);
    SessionView {
        name: r.spec.name.clone(),
        peer: r.spec.peer,
        local: r.spec.local,
        state: s.state().to_string(),
        remote_state: s.remote_state().to_string(),
        local_disc: s.local_disc(),
        remote_disc: s.remote_disc(),
        min_tx_us: p.desired_min_tx.as_micros() as u64,
        min_rx_us: p.required_min_rx.as_micros() as u64,
        multiplier: p.detect_mult,
        remote_min_tx_us: rtx.as_micros() as u64,
        remote_min_rx_us: rrx.as_micros() as u64,
        remote_multiplier: rmult,
        tx_interval_us: s.tx_interval().as_micros() as u64,
        detection_us: s.detection_time().map(|d| d.as_micros() as u64),
        up_since_ms: s.up_since().map(ms),
        last_down_ms: s.last_down().map(|(t, _)| ms(t)),
        last_down_reason: s.last_down().map(|(_, d)| d.to_string()),
        sent: s.counters().sent,
        received: s.counters().received,
        dropped: s.counters().dropped,
        flaps: s.counters().down_count,
        error: r.socket.as_ref().err().cloned(),
    }
}

/// The default TTL / hop limit sent, as keepalived: 255 over IPv4, 64 over IPv6.
pub fn default_ttl(v6: bool) -> u8 {
    if v6 { 64 } else { 255 }
}

/// SessionParams from the configuration's values.
pub fn params(
    min_tx: Duration,
    min_rx: Duration,
    idle_tx: Duration,
    multiplier: u8,
    passive: bool,
) -> SessionParams {
    SessionParams {
        desired_min_tx: min_tx,
        required_min_rx: min_rx,
        idle_tx,
        detect_mult: multiplier,
        passive,
        auth: None,
    }
}
