//! VIPs and links over rtnetlink: add / remove a virtual address (with label, and `nodad` for
//! IPv6 so it is usable at once), find an interface's index, MAC and own addresses, and watch
//! links go up and down (track_interface) and addresses come and go (VIP repair).

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use futures::TryStreamExt;
use futures::channel::mpsc::UnboundedReceiver;
use futures::stream::StreamExt;
use rtnetlink::packet_core::NetlinkPayload;
use rtnetlink::packet_route::RouteNetlinkMessage;
use rtnetlink::packet_route::address::{
    AddressAttribute, AddressFlags, AddressMessage, AddressScope,
};
use rtnetlink::packet_route::link::{LinkAttribute, LinkFlags, LinkMessage};
use rtnetlink::{Handle, MulticastGroup};

use crate::config::model::IpNet;

/// What the engine needs to know about an interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkInfo {
    pub index: u32,
    pub name: String,
    pub mac: Option<[u8; 6]>,
    /// Administratively up and with carrier (IFF_UP and IFF_LOWER_UP/RUNNING).
    pub up: bool,
}

/// How an address is added: keepalived's `label`, `brd` and `scope`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VipOptions {
    pub label: Option<String>,
    pub broadcast: Option<Ipv4Addr>,
    pub scope: Option<u8>,
}

impl VipOptions {
    pub fn of(v: &crate::config::model::VirtualIp) -> Self {
        Self {
            label: v.label.clone(),
            broadcast: v.broadcast,
            scope: v.scope,
        }
    }
}

/// An address configured on an interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfAddr {
    pub net: IpNet,
    pub label: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum VipError {
    #[error("interface `{0}` not found")]
    NoSuchLink(String),
    #[error("rtnetlink: {0}")]
    Netlink(String),
    /// A step around netlink (a setting under /proc/sys, an interface in the way).
    #[error("{0}")]
    Setup(String),
    #[error("rtnetlink socket: {0}")]
    Io(#[from] io::Error),
}

pub(super) fn nl_error(e: rtnetlink::Error) -> VipError {
    VipError::Netlink(e.to_string())
}

/// errno of a netlink error reply, if it is one.
pub(super) fn errno(e: &rtnetlink::Error) -> Option<i32> {
    match e {
        rtnetlink::Error::NetlinkError(m) => Some(-m.raw_code()),
        _ => None,
    }
}

/// A route-netlink connection; its driver task runs on the current tokio runtime.
#[derive(Clone)]
pub struct Rtnl {
    pub(super) handle: Handle,
}

impl Rtnl {
    pub fn connect() -> Result<Self, VipError> {
        let (conn, handle, _) = rtnetlink::new_connection()?;
        tokio::spawn(conn);
        Ok(Self { handle })
    }

    pub async fn link_by_name(&self, name: &str) -> Result<LinkInfo, VipError> {
        let mut links = self
            .handle
            .link()
            .get()
            .match_name(name.to_string())
            .execute();
        match links.try_next().await {
            Ok(Some(msg)) => Ok(link_info(&msg)),
            Ok(None) => Err(VipError::NoSuchLink(name.into())),
            Err(e) if errno(&e) == Some(libc::ENODEV) => Err(VipError::NoSuchLink(name.into())),
            Err(e) => Err(nl_error(e)),
        }
    }

    pub async fn addresses(&self, index: u32) -> Result<Vec<IfAddr>, VipError> {
        let mut out = Vec::new();
        let mut stream = self
            .handle
            .address()
            .get()
            .set_link_index_filter(index)
            .execute();
        while let Some(msg) = stream.try_next().await.map_err(nl_error)? {
            if let Some(a) = if_addr(&msg) {
                out.push(a);
            }
        }
        Ok(out)
    }

    /// The first IPv4 address of the interface that is not one of `vips`: the advert source.
    pub async fn primary_v4(
        &self,
        index: u32,
        vips: &[IpAddr],
    ) -> Result<Option<Ipv4Addr>, VipError> {
        Ok(self
            .addresses(index)
            .await?
            .into_iter()
            .find_map(|a| match a.net.addr {
                IpAddr::V4(v4) if !vips.contains(&a.net.addr) => Some(v4),
                _ => None,
            }))
    }

    /// The interface's link-local IPv6 address: VRRPv3's source for IPv6 (RFC 9568 §5.1.2.1).
    pub async fn link_local_v6(&self, index: u32) -> Result<Option<Ipv6Addr>, VipError> {
        Ok(self
            .addresses(index)
            .await?
            .into_iter()
            .find_map(|a| match a.net.addr {
                IpAddr::V6(v6) if v6.is_unicast_link_local() => Some(v6),
                _ => None,
            }))
    }

    /// Add a VIP; already present is fine (a restart over our own address).
    pub async fn add_vip(&self, index: u32, net: IpNet, opts: &VipOptions) -> Result<(), VipError> {
        let mut req = self.handle.address().add(index, net.addr, net.prefix);
        let msg = req.message_mut();
        // rtnetlink's request carries a broadcast address for IPv4 prefixes under /31;
        // keepalived sets none unless the file says `brd` (seen by tests/keepalived_diff_vm.rs).
        msg.attributes
            .retain(|a| !matches!(a, AddressAttribute::Broadcast(_)));
        if let Some(brd) = opts.broadcast {
            msg.attributes.push(AddressAttribute::Broadcast(brd));
        }
        if let Some(label) = &opts.label {
            msg.attributes.push(AddressAttribute::Label(label.clone()));
        }
        if let Some(scope) = opts.scope {
            msg.header.scope = AddressScope::from(scope);
        }
        if net.addr.is_ipv6() {
            // No duplicate address detection: the VIP must answer at once after a failover.
            msg.attributes
                .push(AddressAttribute::Flags(AddressFlags::Nodad));
        }
        match req.execute().await {
            Ok(()) => Ok(()),
            Err(e) if errno(&e) == Some(libc::EEXIST) => Ok(()),
            Err(e) => Err(nl_error(e)),
        }
    }

    /// Remove a VIP; already absent is fine.
    pub async fn del_vip(&self, index: u32, net: IpNet) -> Result<(), VipError> {
        let mut stream = self
            .handle
            .address()
            .get()
            .set_link_index_filter(index)
            .set_address_filter(net.addr)
            .execute();
        while let Some(msg) = stream.try_next().await.map_err(nl_error)? {
            match self.handle.address().del(msg).execute().await {
                Ok(()) => {}
                Err(e) if matches!(errno(&e), Some(libc::EADDRNOTAVAIL) | Some(libc::ENOENT)) => {}
                Err(e) => return Err(nl_error(e)),
            }
        }
        Ok(())
    }

    /// Whether `addr` is configured on interface `index`.
    pub async fn has_address(&self, index: u32, addr: IpAddr) -> Result<bool, VipError> {
        Ok(self
            .addresses(index)
            .await?
            .iter()
            .any(|a| a.net.addr == addr))
    }
}

fn link_info(msg: &LinkMessage) -> LinkInfo {
    let mut name = String::new();
    let mut mac = None;
    for attr in &msg.attributes {
        match attr {
            LinkAttribute::IfName(n) => name = n.clone(),
            LinkAttribute::Address(a) if a.len() == 6 => mac = a.as_slice().try_into().ok(),
            _ => {}
        }
    }
    let flags = msg.header.flags;
    LinkInfo {
        index: msg.header.index,
        name,
        mac,
        up: flags.contains(LinkFlags::Up)
            && (flags.contains(LinkFlags::LowerUp) || flags.contains(LinkFlags::Running)),
    }
}

fn if_addr(msg: &AddressMessage) -> Option<IfAddr> {
    let mut addr = None;
    let mut local = None;
    let mut label = None;
    for attr in &msg.attributes {
        match attr {
            AddressAttribute::Address(a) => addr = Some(*a),
            AddressAttribute::Local(a) => local = Some(*a),
            AddressAttribute::Label(l) => label = Some(l.clone()),
            _ => {}
        }
    }
    // For IPv4 IFA_LOCAL is the interface's own address (IFA_ADDRESS may be the peer's).
    let addr = local.or(addr)?;
    Some(IfAddr {
        net: IpNet {
            addr,
            prefix: msg.header.prefix_len,
        },
        label,
    })
}

/// What the kernel says changed: a link's state, or an address added or removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetEvent {
    Link(LinkInfo),
    /// An address appeared on or left the interface `index` (the kernel is asked which:
    /// notifications can be stale).
    Address {
        index: u32,
        addr: IpAddr,
    },
}

/// Link and address changes, from the kernel's RTNLGRP_LINK and RTNLGRP_IPV4/6_IFADDR
/// notifications (no polling).
pub struct NetWatch {
    messages: UnboundedReceiver<(
        rtnetlink::packet_core::NetlinkMessage<RouteNetlinkMessage>,
        rtnetlink::sys::SocketAddr,
    )>,
}

impl NetWatch {
    pub fn open() -> Result<Self, VipError> {
        let (conn, _handle, messages) = rtnetlink::new_multicast_connection(&[
            MulticastGroup::Link,
            MulticastGroup::Ipv4Ifaddr,
            MulticastGroup::Ipv6Ifaddr,
        ])?;
        tokio::spawn(conn);
        Ok(Self { messages })
    }

    /// The next change; `None` when the socket closed.
    pub async fn next(&mut self) -> Option<NetEvent> {
        while let Some((msg, _)) = self.messages.next().await {
            let NetlinkPayload::InnerMessage(inner) = msg.payload else {
                continue;
            };
            match inner {
                RouteNetlinkMessage::NewLink(link) => {
                    return Some(NetEvent::Link(link_info(&link)));
                }
                RouteNetlinkMessage::DelLink(link) => {
                    let mut info = link_info(&link);
                    info.up = false;
                    return Some(NetEvent::Link(info));
                }
                RouteNetlinkMessage::NewAddress(a) => {
                    if let Some(ev) = address_event(&a) {
                        return Some(ev);
                    }
                }
                RouteNetlinkMessage::DelAddress(a) => {
                    if let Some(ev) = address_event(&a) {
                        return Some(ev);
                    }
                }
                _ => {}
            }
        }
        None
    }
}

fn address_event(msg: &AddressMessage) -> Option<NetEvent> {
    Some(NetEvent::Address {
        index: msg.header.index,
        addr: if_addr(msg)?.net.addr,
    })
}
