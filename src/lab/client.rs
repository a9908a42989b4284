//! The lab's client: a steady, bounded stream of HTTP requests to the VIP, counting answers
//! per real server and failures, written as JSON to a status file for the console.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// What the client has seen so far.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClientStatus {
    pub target: String,
    pub rate: u32,
    pub sent: u64,
    pub ok: u64,
    pub failed: u64,
    /// Answers by the name the real server gave.
    pub by_server: BTreeMap<String, u64>,
    /// When (ms since the epoch) the latest-sent request each real server answered was sent:
    /// what a drain is judged by, since an answer can arrive well after its request.
    #[serde(default)]
    pub last_sent_by_server: BTreeMap<String, u64>,
    pub last_error: Option<String>,
    pub last_error_at_ms: u64,
    pub updated_at_ms: u64,
}

impl ClientStatus {
    /// Read the status file; `None` while there is none.
    pub fn read(path: &Path) -> Option<ClientStatus> {
        std::fs::read(path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
    }
}

async fn one_request(target: SocketAddr, timeout: Duration) -> Result<String, String> {
    let work = async {
        let mut s = TcpStream::connect(target)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        s.write_all(format!("GET / HTTP/1.0\r\nHost: {}\r\n\r\n", target.ip()).as_bytes())
            .await
            .map_err(|e| format!("send: {e}"))?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf)
            .await
            .map_err(|e| format!("read: {e}"))?;
        let text = String::from_utf8_lossy(&buf);
        if !text.starts_with("HTTP/1.0 200") && !text.starts_with("HTTP/1.1 200") {
            return Err(format!(
                "answer: {}",
                text.lines().next().unwrap_or("(empty)")
            ));
        }
        let body = text
            .split("\r\n\r\n")
            .nth(1)
            .unwrap_or("")
            .trim()
            .to_string();
        Ok(body)
    };
    tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| format!("timeout after {timeout:?}"))?
}

/// Send `rate` requests a second to `target` for at most `duration`, updating `status_path`.
pub async fn run(target: SocketAddr, rate: u32, duration: Duration, status_path: PathBuf) {
    let rate = rate.clamp(1, 500);
    let status = Arc::new(Mutex::new(ClientStatus {
        target: target.to_string(),
        rate,
        ..Default::default()
    }));
    let writer = {
        let status = status.clone();
        let path = status_path.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(200)).await;
                let mut s = status.lock().expect("status lock").clone();
                s.updated_at_ms = crate::snapshot::now_ms();
                let tmp = path.with_extension("tmp");
                if std::fs::write(&tmp, serde_json::to_vec(&s).expect("serializable")).is_ok() {
                    let _ = std::fs::rename(&tmp, &path);
                }
            }
        })
    };
    let start = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_secs(1) / rate);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let in_flight = Arc::new(tokio::sync::Semaphore::new(64));
    while start.elapsed() < duration {
        tick.tick().await;
        let Ok(permit) = in_flight.clone().try_acquire_owned() else {
            let mut s = status.lock().expect("status lock");
            s.sent += 1;
            s.failed += 1;
            s.last_error = Some("too many requests in flight".into());
            continue;
        };
        status.lock().expect("status lock").sent += 1;
        let status = status.clone();
        let sent_at_ms = crate::snapshot::now_ms();
        tokio::spawn(async move {
            let result = one_request(target, Duration::from_secs(2)).await;
            let mut s = status.lock().expect("status lock");
            match result {
                Ok(name) => {
                    s.ok += 1;
                    let latest = s.last_sent_by_server.entry(name.clone()).or_default();
                    *latest = (*latest).max(sent_at_ms);
                    *s.by_server.entry(name).or_default() += 1;
                }
                Err(e) => {
                    s.failed += 1;
                    s.last_error = Some(e);
                    s.last_error_at_ms = crate::snapshot::now_ms();
                }
            }
            drop(permit);
        });
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    writer.abort();
}
