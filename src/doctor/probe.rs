//! The doctor's one socket shell: an AF_PACKET socket on one interface that sends whole
//! frames and collects the frames that answer them, and a raw IP socket for IP-in-IP.

use std::io;
use std::mem::{size_of, zeroed};
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use crate::vrrp::io::PacketSocket;

const ETH_P_ALL: u16 = 0x0003;

/// Every frame of one interface, both ways, and the way to send one.
pub struct Tap {
    fd: OwnedFd,
    tx: PacketSocket,
}

impl Tap {
    pub fn open(ifindex: u32) -> io::Result<Tap> {
        // SAFETY: plain socket(2); the result is checked before it is wrapped.
        let fd = unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
                i32::from(ETH_P_ALL.to_be()),
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh descriptor we own.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: sockaddr_ll zeroed then filled; bind(2) with its size.
        let mut sll: libc::sockaddr_ll = unsafe { zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = ETH_P_ALL.to_be();
        sll.sll_ifindex = ifindex as i32;
        let rc = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&sll as *const libc::sockaddr_ll).cast(),
                size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Tap {
            fd,
            tx: PacketSocket::open(ifindex)?,
        })
    }

    pub fn send(&self, frame: &[u8]) -> io::Result<()> {
        self.tx.send(frame)
    }

    /// Frames received (not sent by us) for `wait`, kept where `keep` says so.
    pub fn collect<T>(&self, wait: Duration, mut keep: impl FnMut(&[u8]) -> Option<T>) -> Vec<T> {
        let deadline = Instant::now() + wait;
        let mut out = Vec::new();
        let mut buf = vec![0u8; 2048];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return out;
            }
            let mut pfd = libc::pollfd {
                fd: self.fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one pollfd, valid for the call.
            let ready = unsafe { libc::poll(&mut pfd, 1, left.as_millis().max(1) as i32) };
            if ready <= 0 {
                continue;
            }
            // SAFETY: sockaddr_ll is written by recvfrom; buf is ours.
            let mut sll: libc::sockaddr_ll = unsafe { zeroed() };
            let mut len = size_of::<libc::sockaddr_ll>() as libc::socklen_t;
            let n = unsafe {
                libc::recvfrom(
                    self.fd.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    0,
                    (&mut sll as *mut libc::sockaddr_ll).cast(),
                    &mut len,
                )
            };
            if n <= 0 || sll.sll_pkttype == libc::PACKET_OUTGOING {
                continue;
            }
            if let Some(t) = keep(&buf[..n as usize]) {
                out.push(t);
            }
        }
    }
}

/// Send an IPv4 packet built whole (header included) where the routing table sends its
/// destination: the kernel picks the next hop and its MAC.
pub fn send_routed(packet: &[u8], dst: Ipv4Addr) -> io::Result<()> {
    let sock = socket2::Socket::new(
        socket2::Domain::IPV4,
        socket2::Type::RAW,
        Some(socket2::Protocol::from(libc::IPPROTO_RAW)),
    )?;
    sock.send_to(packet, &std::net::SocketAddr::new(dst.into(), 0).into())?;
    Ok(())
}
