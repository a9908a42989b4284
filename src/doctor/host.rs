//! What the doctor reads of this host: its interfaces and addresses (getifaddrs), an
//! interface's MAC (sysfs), the source address the kernel would pick for a destination.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};

use super::wire::Mac;

/// One address on one interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalAddr {
    pub ifname: String,
    pub addr: IpAddr,
}

/// Every address of this host's interfaces (its network namespace).
pub fn addresses() -> Vec<LocalAddr> {
    let mut out = Vec::new();
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `head` with a list we walk read-only and free below.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return out;
    }
    let mut cur = head;
    while !cur.is_null() {
        // SAFETY: cur is a node of the list getifaddrs returned.
        let ifa = unsafe { &*cur };
        cur = ifa.ifa_next;
        if ifa.ifa_addr.is_null() {
            continue;
        }
        // SAFETY: ifa_name is a NUL-terminated string owned by the list.
        let name = unsafe { std::ffi::CStr::from_ptr(ifa.ifa_name) }
            .to_string_lossy()
            .into_owned();
        // SAFETY: the family says which sockaddr this is.
        let addr = match i32::from(unsafe { (*ifa.ifa_addr).sa_family }) {
            libc::AF_INET => {
                let sin = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in) };
                IpAddr::V4(Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)))
            }
            libc::AF_INET6 => {
                let sin6 = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in6) };
                IpAddr::V6(sin6.sin6_addr.s6_addr.into())
            }
            _ => continue,
        };
        out.push(LocalAddr { ifname: name, addr });
    }
    // SAFETY: head came from getifaddrs.
    unsafe { libc::freeifaddrs(head) };
    out
}

/// Whether this host holds `addr` on any interface.
pub fn holds(addr: IpAddr) -> bool {
    addresses().iter().any(|a| a.addr == addr)
}

/// The MAC of an interface, from sysfs.
pub fn mac_of(ifname: &str) -> Option<Mac> {
    let text = std::fs::read_to_string(format!("/sys/class/net/{ifname}/address")).ok()?;
    super::wire::parse_mac(text.trim())
}

pub fn ifindex(ifname: &str) -> Option<u32> {
    let c = std::ffi::CString::new(ifname).ok()?;
    // SAFETY: if_nametoindex reads a NUL-terminated string.
    match unsafe { libc::if_nametoindex(c.as_ptr()) } {
        0 => None,
        i => Some(i),
    }
}

/// The source address and interface the kernel would use to reach `dst` (a connected UDP
/// socket sends nothing but asks the routing table), if there is a route.
pub fn route_to(dst: Ipv4Addr) -> Option<(Ipv4Addr, String)> {
    let sock = UdpSocket::bind("0.0.0.0:0").ok()?;
    sock.connect(SocketAddr::new(IpAddr::V4(dst), 9)).ok()?;
    let IpAddr::V4(src) = sock.local_addr().ok()?.ip() else {
        return None;
    };
    let ifname = addresses()
        .into_iter()
        .find(|a| a.addr == IpAddr::V4(src))?
        .ifname;
    Some((src, ifname))
}

/// A sysctl's value, trimmed; None when the key does not exist here.
pub fn sysctl(key: &str) -> Option<String> {
    let path = format!("/proc/sys/{}", key.replace('.', "/"));
    std::fs::read_to_string(path)
        .ok()
        .map(|v| v.trim().to_string())
}
