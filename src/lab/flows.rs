//! Long connections through the VIP, each measured on its own: the lab's echo service
//! ([`serve_echo`], on the web nodes) greets with the node's name and echoes what it gets;
//! the client ([`run`]) holds `count` connections, sends a numbered 8-byte message on each
//! every `interval` and times its echo. Per connection it keeps the real server, the local
//! port (which the router's hash and the directors' tables know it by), the longest wait for
//! an echo, how it ended if it did, and the kernel's count of retransmitted segments
//! (`TCP_INFO`): a packet lost between the client and the real server is one of those.

use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// One connection as the client saw it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Flow {
    pub local_port: u16,
    /// The real server's name, from its greeting.
    pub server: String,
    pub echoed: u64,
    /// The longest a message waited for its echo, and when (ms since the epoch) it was sent.
    pub max_wait_ms: u64,
    pub max_wait_at_ms: u64,
    /// Segments the kernel retransmitted on this connection so far.
    pub retransmits: u32,
    /// Of those, the ones the real server reported as duplicates (D-SACK): sent again
    /// because an echo was late, not because anything was lost.
    #[serde(default)]
    pub spurious: u32,
    /// How the connection ended, if it did (reset, timeout, closed).
    pub error: Option<String>,
    /// The latest echoes that took over [`SLOW_MS`]: (sent at, ms since the epoch; waited ms).
    #[serde(default)]
    pub slow: Vec<(u64, u64)>,
}

/// An echo slower than this is remembered (a lost segment costs at least the 200 ms RTO).
pub const SLOW_MS: u64 = 150;
/// Slow echoes remembered per connection.
const SLOW_KEPT: usize = 32;

impl Flow {
    /// Segments lost so far: retransmitted and not reported back as duplicates.
    pub fn lost(&self) -> u32 {
        self.retransmits.saturating_sub(self.spurious)
    }

    /// The longest wait for an echo sent from `from_ms` on.
    pub fn worst_wait_since(&self, from_ms: u64) -> u64 {
        self.slow
            .iter()
            .filter(|(at, _)| *at >= from_ms)
            .map(|(_, w)| *w)
            .max()
            .unwrap_or(0)
    }
}

/// The client's file, rewritten every half second.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FlowsStatus {
    pub target: String,
    pub interval_ms: u64,
    pub flows: Vec<Flow>,
    pub updated_at_ms: u64,
}

impl FlowsStatus {
    pub fn read(path: &std::path::Path) -> Option<FlowsStatus> {
        std::fs::read(path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
    }

    /// Connections established and still alive.
    pub fn alive(&self) -> usize {
        self.flows
            .iter()
            .filter(|f| f.error.is_none() && !f.server.is_empty())
            .count()
    }
}

/// The echo service: greet with `name`, then echo until the peer closes.
pub async fn serve_echo(name: String, listen: SocketAddr) -> std::io::Result<()> {
    let listener = TcpListener::bind(listen).await?;
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let greeting = format!("{name}\n");
        tokio::spawn(async move {
            if stream.write_all(greeting.as_bytes()).await.is_err() {
                return;
            }
            let mut buf = [0u8; 4096];
            loop {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => {
                        if stream.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                    }
                }
            }
        });
    }
}

/// Linux's `struct tcp_info` up to `tcpi_dsack_dups` (5.1+), which the libc crate's
/// struct stops short of.
#[repr(C)]
#[derive(Default)]
struct TcpInfo {
    bytes8: [u8; 8],
    u32s_to_rcv_space: [u32; 23],
    total_retrans: u32,
    u64s_rates_bytes: [u64; 4],
    u32s_segs: [u32; 6],
    u64s_delivery: [u64; 4],
    delivered: [u32; 2],
    bytes_sent_retrans: [u64; 2],
    dsack_dups: u32,
    reord_seen: u32,
}

/// Segments retransmitted on `stream` (`tcpi_total_retrans`), and D-SACKs received
/// (`tcpi_dsack_dups`: the peer got a segment twice, so that retransmission lost nothing).
fn retransmits(stream: &TcpStream) -> (u32, u32) {
    let mut info = TcpInfo::default();
    let mut len = std::mem::size_of::<TcpInfo>() as libc::socklen_t;
    // SAFETY: TcpInfo is plain data; getsockopt writes at most `len` bytes into it.
    let rc = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut info as *mut TcpInfo).cast(),
            &mut len,
        )
    };
    if rc == 0 {
        (info.total_retrans, info.dsack_dups)
    } else {
        (0, 0)
    }
}

/// How long one echo may take before the connection counts as broken.
const ECHO_TIMEOUT: Duration = Duration::from_secs(30);

async fn one_flow(target: SocketAddr, interval: Duration, slot: Arc<Mutex<Vec<Flow>>>, i: usize) {
    let set = |f: &dyn Fn(&mut Flow)| {
        let mut flows = slot.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut flows[i]);
    };
    let stream =
        match tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(target)).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return set(&|f| f.error = Some(format!("connect: {e}"))),
            Err(_) => return set(&|f| f.error = Some("connect: timeout".into())),
        };
    let port = stream.local_addr().map_or(0, |a| a.port());
    set(&|f| f.local_port = port);
    let mut stream = BufReader::new(stream);
    let mut name = String::new();
    match tokio::time::timeout(ECHO_TIMEOUT, stream.read_line(&mut name)).await {
        Ok(Ok(n)) if n > 0 => {}
        _ => return set(&|f| f.error = Some("no greeting".into())),
    }
    let name = name.trim().to_string();
    set(&|f| f.server = name.clone());
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    for seq in 0u64.. {
        tick.tick().await;
        let sent = Instant::now();
        let sent_ms = crate::snapshot::now_ms();
        let mut back = [0u8; 8];
        let exchange = async {
            stream.get_mut().write_all(&seq.to_be_bytes()).await?;
            stream.read_exact(&mut back).await
        };
        let result = tokio::time::timeout(ECHO_TIMEOUT, exchange).await;
        let retrans = retransmits(stream.get_ref());
        let waited = sent.elapsed().as_millis() as u64;
        let error = match result {
            Err(_) => Some(format!("no echo in {ECHO_TIMEOUT:?}")),
            Ok(Err(e)) => Some(e.to_string()),
            Ok(Ok(_)) if u64::from_be_bytes(back) != seq => Some("echo out of order".into()),
            Ok(Ok(_)) => None,
        };
        set(&|f| {
            (f.retransmits, f.spurious) = retrans;
            if waited > f.max_wait_ms {
                f.max_wait_ms = waited;
                f.max_wait_at_ms = sent_ms;
            }
            if waited > SLOW_MS {
                if f.slow.len() == SLOW_KEPT {
                    f.slow.remove(0);
                }
                f.slow.push((sent_ms, waited));
            }
            if error.is_none() {
                f.echoed += 1;
            }
            f.error = error.clone();
        });
        if error.is_some() {
            return;
        }
    }
}

/// Hold `count` connections to `target` (opened over `count / 50` seconds), each sending every
/// `interval`, writing [`FlowsStatus`] to `status` until killed.
pub async fn run(target: SocketAddr, count: usize, interval: Duration, status: PathBuf) {
    let flows = Arc::new(Mutex::new(vec![Flow::default(); count]));
    for i in 0..count {
        tokio::spawn(one_flow(target, interval, flows.clone(), i));
        if i % 50 == 49 {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
    loop {
        let s = FlowsStatus {
            target: target.to_string(),
            interval_ms: interval.as_millis() as u64,
            flows: flows.lock().unwrap_or_else(|e| e.into_inner()).clone(),
            updated_at_ms: crate::snapshot::now_ms(),
        };
        let tmp = status.with_extension("tmp");
        if std::fs::write(&tmp, serde_json::to_vec(&s).unwrap_or_default()).is_ok() {
            let _ = std::fs::rename(&tmp, &status);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
