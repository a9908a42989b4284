//! The doctor's one socket shell: an AF_PACKET socket on one interface that sends whole
//! frames and collects the frames that answer them, and a raw IP socket for IP-in-IP.

use std::io;
use std::mem::{size_of, zeroed};
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use crate::vrrp::io::PacketSocket;

const ETH_P_ALL: u16 = 0x0003;

/// The source ports of the doctor's SYN probes; the TCP filter keeps answers to them only.
pub const PROBE_PORTS: std::ops::Range<u16> = 40000..60000;

/// Which frames a [`Tap`] sees: the kernel filters (classic BPF), so that a busy director's
/// data path is never copied to the doctor and its few answers are not lost in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frames {
    ArpReplies,
    /// IPv4 TCP to a port in [`PROBE_PORTS`].
    ProbeAnswers,
    /// VRRP over IPv4 (plain or inside AH) or IPv6.
    Vrrp,
}

const ACCEPT: u32 = 0xffff;

fn op(code: u16, jt: u8, jf: u8, k: u32) -> libc::sock_filter {
    libc::sock_filter { code, jt, jf, k }
}

impl Frames {
    /// The filter program (jumps are relative to the next instruction).
    fn program(self) -> Vec<libc::sock_filter> {
        const LDH: u16 = 0x28; // A = half-word at [k]
        const LDB: u16 = 0x30; // A = byte at [k]
        const LDH_IND: u16 = 0x48; // A = half-word at [X + k]
        const LDX_IHL: u16 = 0xb1; // X = 4 * ([k] & 0xf): the IPv4 header's length
        const JEQ: u16 = 0x15;
        const JGE: u16 = 0x35;
        const RET: u16 = 0x06;
        match self {
            Frames::ArpReplies => vec![
                op(LDH, 0, 0, 12),
                op(JEQ, 0, 3, 0x0806),
                op(LDH, 0, 0, 20),
                op(JEQ, 0, 1, 2),
                op(RET, 0, 0, ACCEPT),
                op(RET, 0, 0, 0),
            ],
            Frames::ProbeAnswers => vec![
                op(LDH, 0, 0, 12),
                op(JEQ, 0, 7, 0x0800),
                op(LDB, 0, 0, 23),
                op(JEQ, 0, 5, 6),
                op(LDX_IHL, 0, 0, 14),
                op(LDH_IND, 0, 0, 16),
                op(JGE, 0, 2, u32::from(PROBE_PORTS.start)),
                op(JGE, 1, 0, u32::from(PROBE_PORTS.end)),
                op(RET, 0, 0, ACCEPT),
                op(RET, 0, 0, 0),
            ],
            // IPv4 protocol 112 or 51 (VRRP inside AH), IPv6 next header 112.
            Frames::Vrrp => vec![
                op(LDH, 0, 0, 12),
                op(JEQ, 0, 3, 0x0800),
                op(LDB, 0, 0, 23),
                op(JEQ, 4, 0, 112),
                op(JEQ, 3, 4, 51),
                op(JEQ, 0, 3, 0x86dd),
                op(LDB, 0, 0, 20),
                op(JEQ, 0, 1, 112),
                op(RET, 0, 0, ACCEPT),
                op(RET, 0, 0, 0),
            ],
        }
    }
}

/// The frames of one interface that `frames` selects, and the way to send one.
pub struct Tap {
    fd: OwnedFd,
    tx: PacketSocket,
}

impl Tap {
    pub fn open(ifindex: u32, frames: Frames) -> io::Result<Tap> {
        // Protocol 0: no frame is queued before the filter is on and the bind names the
        // interface (a socket opened with ETH_P_ALL would take every interface's meanwhile).
        // SAFETY: plain socket(2); the result is checked before it is wrapped.
        let fd = unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
                0,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh descriptor we own.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let program = frames.program();
        let fprog = libc::sock_fprog {
            len: program.len() as u16,
            filter: program.as_ptr() as *mut libc::sock_filter,
        };
        // SAFETY: the program outlives the call; the kernel copies it.
        let rc = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_ATTACH_FILTER,
                (&fprog as *const libc::sock_fprog).cast(),
                size_of::<libc::sock_fprog>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
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

    /// Have the interface accept frames to a multicast MAC (VRRP's group) while the tap is
    /// open: a NIC that filters multicast drops a group no socket has joined.
    pub fn join_multicast(&self, ifindex: u32, mac: [u8; 6]) -> io::Result<()> {
        let mut address = [0u8; 8];
        address[..6].copy_from_slice(&mac);
        let mreq = libc::packet_mreq {
            mr_ifindex: ifindex as i32,
            mr_type: libc::PACKET_MR_MULTICAST as u16,
            mr_alen: 6,
            mr_address: address,
        };
        // SAFETY: setsockopt(2) with a packet_mreq that lives through the call.
        let rc = unsafe {
            libc::setsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_ADD_MEMBERSHIP,
                (&mreq as *const libc::packet_mreq).cast(),
                size_of::<libc::packet_mreq>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
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
