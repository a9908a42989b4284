//! PING_CHECK: one ICMP / ICMPv6 echo, up when its reply comes back within connect_timeout.
//!
//! As keepalived: an unprivileged ping socket (`SOCK_DGRAM`, the kernel sets the echo id and
//! hands this socket only the replies carrying it) per attempt. Where the kernel allows no
//! ping socket to this group (`net.ipv4.ping_group_range`), a raw ICMP socket instead (the
//! daemon is root), which sees every ICMP packet: a reply must then match id, sequence and
//! source. Others' replies and other ICMP types are skipped until the timeout.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};

use super::tcp::io_message;
use super::{CheckResult, fmt_dur};

/// An echo to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PingProbe {
    pub addr: IpAddr,
    pub timeout: Duration,
}

const ECHO_REQUEST_V4: u8 = 8;
const ECHO_REPLY_V4: u8 = 0;
const ECHO_REQUEST_V6: u8 = 128;
const ECHO_REPLY_V6: u8 = 129;
const PAYLOAD: &[u8] = b"lvsdeck health check - lvsdeck health check - lvsdeck...";

/// One sequence counter for every ping check, as keepalived's.
static SEQUENCE: AtomicU16 = AtomicU16::new(0);

/// An echo request (ICMP header and payload). The v4 checksum is filled (a raw socket sends
/// it as it is); ICMPv6's is the kernel's.
pub fn echo_request(v6: bool, id: u16, seq: u16) -> Vec<u8> {
    let kind = if v6 { ECHO_REQUEST_V6 } else { ECHO_REQUEST_V4 };
    let mut m = vec![kind, 0, 0, 0];
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend_from_slice(PAYLOAD);
    if !v6 {
        let sum = internet_checksum(&m);
        m[2..4].copy_from_slice(&sum.to_be_bytes());
    }
    m
}

pub(crate) fn internet_checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = data
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Whether `packet` is the reply to our echo: an echo reply with our sequence (and our id
/// when `id` is given: a raw socket, where the kernel does not sort replies). A raw IPv4
/// socket's packets start with the IP header.
pub fn is_our_reply(
    packet: &[u8],
    v6: bool,
    with_ip_header: bool,
    id: Option<u16>,
    seq: u16,
) -> bool {
    let icmp = if with_ip_header {
        let Some(first) = packet.first() else {
            return false;
        };
        let len = usize::from(first & 0x0f) * 4;
        packet.get(len..).unwrap_or(&[])
    } else {
        packet
    };
    if icmp.len() < 8 {
        return false;
    }
    let reply = if v6 { ECHO_REPLY_V6 } else { ECHO_REPLY_V4 };
    icmp[0] == reply
        && u16::from_be_bytes([icmp[6], icmp[7]]) == seq
        && id.is_none_or(|id| u16::from_be_bytes([icmp[4], icmp[5]]) == id)
}

/// One PING_CHECK attempt started at `start`.
pub async fn check(p: &PingProbe, start: Instant) -> CheckResult {
    match tokio::time::timeout(p.timeout, echo(p)).await {
        Ok(Ok(())) => CheckResult::ok("echo reply", start.elapsed()),
        Ok(Err(msg)) => CheckResult::fail(msg, start.elapsed()),
        Err(_) => CheckResult::fail(
            format!("no echo reply in {}", fmt_dur(p.timeout)),
            start.elapsed(),
        ),
    }
}

async fn echo(p: &PingProbe) -> Result<(), String> {
    let v6 = p.addr.is_ipv6();
    let (domain, proto) = if v6 {
        (Domain::IPV6, Protocol::ICMPV6)
    } else {
        (Domain::IPV4, Protocol::ICMPV4)
    };
    let (socket, raw) = match Socket::new(domain, Type::DGRAM, Some(proto)) {
        Ok(s) => (s, false),
        Err(e) if matches!(e.raw_os_error(), Some(libc::EACCES | libc::EPERM)) => {
            let s = Socket::new(domain, Type::RAW, Some(proto))
                .map_err(|e| format!("cannot open an ICMP socket: {}", io_message(&e)))?;
            (s, true)
        }
        Err(e) => return Err(format!("cannot open an ICMP socket: {}", io_message(&e))),
    };
    socket
        .set_nonblocking(true)
        .map_err(|e| format!("ICMP socket: {}", io_message(&e)))?;
    let target: socket2::SockAddr = SocketAddr::new(p.addr, 0).into();
    socket
        .connect(&target)
        .map_err(|e| format!("cannot reach {}: {}", p.addr, io_message(&e)))?;
    let seq = SEQUENCE.fetch_add(1, Ordering::Relaxed);
    // A ping socket's id is its port, set by the kernel; a raw one's is ours to choose.
    let id = raw.then(|| (std::process::id() as u16) ^ (socket.as_raw_fd() as u16));
    let fd = crate::vrrp::io::register(socket)
        .map_err(|e| format!("ICMP socket: {}", io_message(&e)))?;
    let request = echo_request(v6, id.unwrap_or(0), seq);
    loop {
        let mut guard = fd.writable().await.map_err(|e| io_message(&e))?;
        match guard.try_io(|s| s.get_ref().send(&request)) {
            Ok(Ok(_)) => break,
            Ok(Err(e)) => return Err(format!("sending the echo: {}", io_message(&e))),
            Err(_would_block) => continue,
        }
    }
    let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 1500];
    loop {
        let mut guard = fd.readable().await.map_err(|e| io_message(&e))?;
        let n = match guard.try_io(|s| s.get_ref().recv(&mut buf)) {
            Ok(Ok(n)) => n,
            Ok(Err(e)) => return Err(format!("waiting for the reply: {}", recv_message(&e))),
            Err(_would_block) => continue,
        };
        // SAFETY: recv initialised the first n bytes.
        let got: &[u8] = unsafe { std::slice::from_raw_parts(buf.as_ptr().cast(), n) };
        if is_our_reply(got, v6, raw && !v6, id, seq) {
            return Ok(());
        }
    }
}

fn recv_message(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::ECONNREFUSED) => "destination unreachable".into(),
        _ => io_message(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_requests_and_replies_are_matched_by_type_sequence_and_id() {
        let req = echo_request(false, 0x1234, 7);
        assert_eq!((req[0], &req[4..8]), (8, &[0x12, 0x34, 0, 7][..]));
        assert_eq!(internet_checksum(&req), 0, "a valid checksum sums to zero");
        let mut reply = req.clone();
        reply[0] = 0;
        assert!(is_our_reply(&reply, false, false, None, 7));
        assert!(
            !is_our_reply(&reply, false, false, None, 8),
            "another sequence"
        );
        assert!(is_our_reply(&reply, false, false, Some(0x1234), 7));
        assert!(
            !is_our_reply(&reply, false, false, Some(0x9999), 7),
            "another id (raw socket)"
        );
        assert!(
            !is_our_reply(&req, false, false, None, 7),
            "our own request looped back"
        );
        let mut with_ip = vec![0x45; 20];
        with_ip.extend_from_slice(&reply);
        assert!(is_our_reply(&with_ip, false, true, Some(0x1234), 7));
        assert!(
            !is_our_reply(&[0, 0, 0], false, false, None, 0),
            "truncated"
        );
        let mut v6 = echo_request(true, 0, 3);
        assert_eq!(v6[0], 128);
        v6[0] = 129;
        assert!(is_our_reply(&v6, true, false, None, 3));
    }
}
