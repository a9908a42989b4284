//! VRRP's sockets: raw IP protocol 112 for adverts (IPv4 and IPv6, multicast or unicast) and
//! AF_PACKET for gratuitous ARP / unsolicited NA. Bytes in, bytes out: the codec and the state
//! machine live elsewhere.

use std::io;
use std::mem::{size_of, zeroed};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use socket2::{Domain, InterfaceIndexOrAddress, Protocol, Socket, Type};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

use crate::config::model::{Global, VrrpInstance};

/// IANA protocol number of VRRP.
pub const IPPROTO_VRRP: i32 = 112;
/// VRRP's IPv4 multicast group (RFC 9568 §5.1.1.2).
pub const VRRP_MCAST_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
/// VRRP's IPv6 multicast group (RFC 9568 §5.1.2.2).
pub const VRRP_MCAST_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);

/// One received advert: for IPv4 the whole IP packet (the kernel keeps the header on raw
/// sockets), for IPv6 the VRRP message with the hop limit and destination from ancillary data.
#[derive(Debug, Clone)]
pub struct Received {
    pub bytes: Vec<u8>,
    pub src: IpAddr,
    /// IPv6 only: the destination and hop limit; IPv4 carries them in `bytes`.
    pub dst: Option<IpAddr>,
    pub hop_limit: Option<u8>,
}

/// A raw VRRP socket bound to one interface and one address family.
pub struct VrrpSocket {
    fd: AsyncFd<Socket>,
    v6: bool,
}

fn setsockopt_int(fd: i32, level: i32, name: i32, value: i32) -> io::Result<()> {
    // SAFETY: a plain int option on a socket we own.
    let r = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&value as *const i32).cast(),
            size_of::<i32>() as libc::socklen_t,
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

impl VrrpSocket {
    /// An IPv4 socket on `ifname` for IP protocol `protocol` (VRRP, or AH): we write whole IP
    /// headers (TTL 255, TOS 0xc0, as keepalived), and with `multicast` join 224.0.0.18 by
    /// interface index (ip_mreqn), not by address.
    pub fn open_v4(ifname: &str, ifindex: u32, multicast: bool, protocol: u8) -> io::Result<Self> {
        let s = Socket::new(
            Domain::IPV4,
            Type::RAW,
            Some(Protocol::from(i32::from(protocol))),
        )?;
        s.set_header_included_v4(true)?;
        s.bind_device(Some(ifname.as_bytes()))?;
        if multicast {
            s.join_multicast_v4_n(&VRRP_MCAST_V4, &InterfaceIndexOrAddress::Index(ifindex))?;
            s.set_multicast_loop_v4(false)?;
        }
        s.set_nonblocking(true)?;
        Ok(Self {
            fd: register(s)?,
            v6: false,
        })
    }

    /// Also receive adverts sent to `group` on interface `ifindex` (an instance whose
    /// `vrrp_mcast_group4/6` or `mcast_dst_ip` is not the standard group).
    pub fn join(&self, group: IpAddr, ifindex: u32) -> io::Result<()> {
        let s = self.fd.get_ref();
        match group {
            IpAddr::V4(g) => s.join_multicast_v4_n(&g, &InterfaceIndexOrAddress::Index(ifindex)),
            IpAddr::V6(g) => s.join_multicast_v6(&g, ifindex),
        }
    }

    /// An IPv6 socket on `ifname`, bound to `src` (normally the link-local address) so the
    /// checksum's pseudo-header source is known; hop limit 255 out, and reported on receipt.
    pub fn open_v6(ifname: &str, ifindex: u32, src: Ipv6Addr, multicast: bool) -> io::Result<Self> {
        let s = Socket::new(Domain::IPV6, Type::RAW, Some(Protocol::from(IPPROTO_VRRP)))?;
        s.bind_device(Some(ifname.as_bytes()))?;
        let scope = if src.is_unicast_link_local() {
            ifindex
        } else {
            0
        };
        s.bind(&SocketAddr::V6(SocketAddrV6::new(src, 0, 0, scope)).into())?;
        s.set_multicast_hops_v6(255)?;
        s.set_unicast_hops_v6(255)?;
        setsockopt_int(
            s.as_raw_fd(),
            libc::IPPROTO_IPV6,
            libc::IPV6_RECVHOPLIMIT,
            1,
        )?;
        setsockopt_int(s.as_raw_fd(), libc::IPPROTO_IPV6, libc::IPV6_RECVPKTINFO, 1)?;
        if multicast {
            s.join_multicast_v6(&VRRP_MCAST_V6, ifindex)?;
            s.set_multicast_loop_v6(false)?;
            s.set_multicast_if_v6(ifindex)?;
        }
        s.set_nonblocking(true)?;
        Ok(Self {
            fd: register(s)?,
            v6: true,
        })
    }

    pub fn is_v6(&self) -> bool {
        self.v6
    }

    /// Send one advert. IPv4: `bytes` is the whole IP packet; IPv6: the VRRP message.
    pub async fn send(&self, bytes: &[u8], dst: IpAddr) -> io::Result<()> {
        let addr: socket2::SockAddr = SocketAddr::new(dst, 0).into();
        loop {
            let mut guard = self.fd.writable().await?;
            match guard.try_io(|inner| inner.get_ref().send_to(bytes, &addr)) {
                Ok(result) => return result.map(|_| ()),
                Err(_would_block) => continue,
            }
        }
    }

    /// Receive one packet.
    pub async fn recv(&self) -> io::Result<Received> {
        loop {
            let mut guard = self.fd.readable().await?;
            match guard.try_io(|inner| recvmsg(inner.get_ref().as_raw_fd(), self.v6)) {
                Ok(result) => return result,
                Err(_would_block) => continue,
            }
        }
    }
}

pub(crate) fn register(s: Socket) -> io::Result<AsyncFd<Socket>> {
    // SAFETY: the socket owns its descriptor, and nothing replaces or closes it while the
    // AsyncFd holds it.
    unsafe { AsyncFd::register_with_interest(s, Interest::READABLE | Interest::WRITABLE) }
        .map_err(|e| e.into())
}

/// recvmsg(2) with room for IPv6 hop-limit and packet-info ancillary data.
fn recvmsg(fd: i32, v6: bool) -> io::Result<Received> {
    let mut buf = [0u8; 2048];
    let mut control = [0u8; 256];
    // SAFETY: zeroed sockaddr_storage and msghdr are valid initial values.
    let mut from: libc::sockaddr_storage = unsafe { zeroed() };
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    let mut msg: libc::msghdr = unsafe { zeroed() };
    msg.msg_name = (&mut from as *mut libc::sockaddr_storage).cast();
    msg.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = control.len();
    // SAFETY: every pointer in msg refers to a live local buffer of the stated size.
    let n = unsafe { libc::recvmsg(fd, &mut msg, 0) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let src = sockaddr_ip(&from).ok_or_else(|| io::Error::other("packet from a non-IP address"))?;
    let mut dst = None;
    let mut hop_limit = None;
    if v6 {
        // SAFETY: walking the control buffer the kernel filled, with the libc CMSG helpers.
        unsafe {
            let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
            while !cmsg.is_null() {
                let data = libc::CMSG_DATA(cmsg);
                match ((*cmsg).cmsg_level, (*cmsg).cmsg_type) {
                    (libc::IPPROTO_IPV6, libc::IPV6_HOPLIMIT) => {
                        hop_limit = Some(std::ptr::read_unaligned(data.cast::<i32>()) as u8);
                    }
                    (libc::IPPROTO_IPV6, libc::IPV6_PKTINFO) => {
                        let info = std::ptr::read_unaligned(data.cast::<libc::in6_pktinfo>());
                        dst = Some(IpAddr::V6(Ipv6Addr::from(info.ipi6_addr.s6_addr)));
                    }
                    _ => {}
                }
                cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
            }
        }
    }
    Ok(Received {
        bytes: buf[..n as usize].to_vec(),
        src,
        dst,
        hop_limit,
    })
}

fn sockaddr_ip(s: &libc::sockaddr_storage) -> Option<IpAddr> {
    match i32::from(s.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says this storage holds a sockaddr_in.
            let sin = unsafe { &*(s as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            Some(IpAddr::V4(Ipv4Addr::from(u32::from_be(
                sin.sin_addr.s_addr,
            ))))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says this storage holds a sockaddr_in6.
            let sin6 =
                unsafe { &*(s as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            Some(IpAddr::V6(Ipv6Addr::from(sin6.sin6_addr.s6_addr)))
        }
        _ => None,
    }
}

/// An AF_PACKET socket for sending whole Ethernet frames (GARP / NA) on one interface.
pub struct PacketSocket {
    fd: OwnedFd,
    ifindex: u32,
}

impl PacketSocket {
    pub fn open(ifindex: u32) -> io::Result<Self> {
        // SAFETY: plain socket(2); the result is checked before it is wrapped.
        let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh descriptor we own.
        Ok(Self {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
            ifindex,
        })
    }

    /// Send a frame as built (destination MAC in its first six bytes).
    pub fn send(&self, frame: &[u8]) -> io::Result<()> {
        if frame.len() < 14 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "frame shorter than an Ethernet header",
            ));
        }
        // SAFETY: sockaddr_ll zeroed then filled; lengths passed match the buffers.
        let mut sll: libc::sockaddr_ll = unsafe { zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_ifindex = self.ifindex as i32;
        sll.sll_halen = 6;
        sll.sll_protocol = u16::from_be_bytes([frame[12], frame[13]]).to_be();
        sll.sll_addr[..6].copy_from_slice(&frame[..6]);
        let n = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                frame.as_ptr().cast(),
                frame.len(),
                0,
                (&sll as *const libc::sockaddr_ll).cast(),
                size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if n < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }
}
/// The multicast group of the VRRP standard (224.0.0.18, ff02::12).
pub fn standard_group(v6: bool) -> IpAddr {
    if v6 {
        IpAddr::V6(VRRP_MCAST_V6)
    } else {
        IpAddr::V4(VRRP_MCAST_V4)
    }
}

/// Where an instance's multicast adverts go (and are heard): its `mcast_dst_ip`, else the
/// global `vrrp_mcast_group4/6`, else the standard group.
pub fn advert_group(cfg: &VrrpInstance, global: &Global, v6: bool) -> IpAddr {
    let global_group = if v6 {
        global.vrrp_mcast_group6.map(IpAddr::V6)
    } else {
        global.vrrp_mcast_group4.map(IpAddr::V4)
    };
    cfg.mcast_dst_ip
        .filter(|g| g.is_ipv6() == v6)
        .or(global_group)
        .unwrap_or_else(|| standard_group(v6))
}
