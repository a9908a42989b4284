//! Received bytes back to the model, read in place: netlink messages, their generic-netlink
//! header and attributes, and the IPVS service, destination, daemon, timeout and info records.

use super::*;

/// One received netlink message, sorted by what it means for the request it answers. A
/// payload borrows the receive buffer.
#[derive(Debug, Clone, Copy)]
pub enum Incoming<'a> {
    /// A reply carrying data.
    Payload { seq: u32, genl: GenlView<'a> },
    /// `NLMSG_ERROR` with code 0.
    Ack { seq: u32 },
    /// `NLMSG_ERROR` with an errno (positive here).
    Error { seq: u32, errno: i32 },
    /// `NLMSG_DONE`, the end of a dump; errno 0 unless the dump failed.
    Done { seq: u32, errno: i32 },
}

/// A received generic-netlink message: its header and its top-level attributes, still in the
/// receive buffer.
#[derive(Debug, Clone, Copy)]
pub struct GenlView<'a> {
    pub cmd: u8,
    pub version: u8,
    attr_bytes: &'a [u8],
}

impl<'a> GenlView<'a> {
    /// The top-level attributes, indexed.
    pub fn attrs(&self) -> Result<Attrs<'a>, IpvsError> {
        Attrs::parse(self.attr_bytes, "generic netlink message")
    }
}

/// More slots than any nest we read defines (IPVS destinations go to 15); a type above is
/// newer than this code and is skipped, as the kernel's own parsers skip unknown types.
const ATTR_SLOTS: usize = 16;
const NLA_HDRLEN: usize = 4;
const NLMSG_HDRLEN: usize = 16;
const GENL_HDRLEN: usize = 4;
/// `NLA_F_NESTED | NLA_F_NET_BYTEORDER`, flags carried in an attribute's type.
const NLA_TYPE_FLAGS: u16 = NLA_F_NESTED | (1 << 14);
const NLMSG_NOOP: u16 = 1;
const NLMSG_OVERRUN: u16 = 4;

pub(super) fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// The attributes of one nest, indexed by type in a single pass. Payloads are slices of the
/// received bytes: decoding a dump copies nothing until the model's values are built (a full
/// dump of 2,000 services x 20 real servers is ~1 million attributes, so this is the hot path).
#[derive(Clone, Copy, Default)]
pub struct Attrs<'a> {
    slots: [Option<&'a [u8]>; ATTR_SLOTS],
}

impl std::fmt::Debug for Attrs<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let present = self
            .slots
            .iter()
            .enumerate()
            .filter_map(|(ty, p)| p.map(|p| (ty, p.len())));
        f.debug_map().entries(present).finish()
    }
}

impl<'a> Attrs<'a> {
    /// Index the attributes in `bytes`; `what` names the nest in errors. An attribute whose
    /// length runs past the end, or is shorter than its own header, makes the whole nest bad
    /// (the kernel never sends one; a short read would). When a type repeats, the first wins.
    pub fn parse(bytes: &'a [u8], what: &str) -> Result<Attrs<'a>, IpvsError> {
        let mut slots = [None; ATTR_SLOTS];
        let mut rest = bytes;
        // fewer than a header's bytes left is alignment padding
        while rest.len() >= NLA_HDRLEN {
            let len = usize::from(u16::from_ne_bytes([rest[0], rest[1]]));
            let ty = u16::from_ne_bytes([rest[2], rest[3]]) & !NLA_TYPE_FLAGS;
            if len < NLA_HDRLEN || len > rest.len() {
                return Err(IpvsError::Decode(format!(
                    "{what}: attribute type {ty} says {len} bytes, {} are left",
                    rest.len()
                )));
            }
            if let Some(slot) = slots.get_mut(usize::from(ty)) {
                slot.get_or_insert(&rest[NLA_HDRLEN..len]);
            }
            rest = &rest[align4(len).min(rest.len())..];
        }
        Ok(Attrs { slots })
    }

    /// The payload of the attribute of type `ty`, if present.
    pub fn get(&self, ty: u16) -> Option<&'a [u8]> {
        self.slots.get(usize::from(ty)).copied().flatten()
    }

    fn need(&self, ty: u16, what: &str) -> Result<&'a [u8], IpvsError> {
        self.get(ty)
            .ok_or_else(|| IpvsError::Decode(format!("{what} is missing")))
    }

    /// The attributes nested in the attribute of type `ty`, which must be present.
    pub fn nested(&self, ty: u16, what: &str) -> Result<Attrs<'a>, IpvsError> {
        Attrs::parse(self.need(ty, what)?, what)
    }
}

/// The messages of a received datagram, decoded in place.
pub fn messages(bytes: &[u8]) -> Messages<'_> {
    Messages {
        rest: bytes,
        failed: false,
    }
}

/// Iterator returned by [`messages`]; it stops after the first malformed message.
#[derive(Debug)]
pub struct Messages<'a> {
    rest: &'a [u8],
    failed: bool,
}

impl<'a> Messages<'a> {
    fn fail(&mut self, detail: String) -> Option<Result<Incoming<'a>, IpvsError>> {
        self.failed = true;
        Some(Err(IpvsError::Decode(format!("netlink message: {detail}"))))
    }
}

impl<'a> Iterator for Messages<'a> {
    type Item = Result<Incoming<'a>, IpvsError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.failed || self.rest.is_empty() {
                return None;
            }
            let rest = self.rest;
            if rest.len() < NLMSG_HDRLEN {
                return self.fail(format!(
                    "{} bytes left, a header needs {NLMSG_HDRLEN}",
                    rest.len()
                ));
            }
            let len = u32::from_ne_bytes(rest[0..4].try_into().expect("4 bytes")) as usize;
            let ty = u16::from_ne_bytes([rest[4], rest[5]]);
            let seq = u32::from_ne_bytes(rest[8..12].try_into().expect("4 bytes"));
            if len < NLMSG_HDRLEN || len > rest.len() {
                return self.fail(format!(
                    "type {ty} says {len} bytes, {} are left",
                    rest.len()
                ));
            }
            let body = &rest[NLMSG_HDRLEN..len];
            self.rest = &rest[align4(len).min(rest.len())..];
            // the kernel's error code is negative; a short DONE (old kernels) means success
            let errno = || {
                body.get(..4)
                    .map(|b| -i32::from_ne_bytes(b.try_into().expect("4 bytes")))
            };
            let inc = match ty {
                NLMSG_NOOP => continue,
                NLMSG_ERROR => match errno() {
                    Some(0) => Incoming::Ack { seq },
                    Some(errno) => Incoming::Error { seq, errno },
                    None => return self.fail("an error message without its code".into()),
                },
                NLMSG_DONE => Incoming::Done {
                    seq,
                    errno: errno().unwrap_or(0),
                },
                NLMSG_OVERRUN => return self.fail("the kernel reports a data overrun".into()),
                _ => {
                    if body.len() < GENL_HDRLEN {
                        return self.fail(format!(
                            "type {ty} has {} bytes, too few for a generic netlink header",
                            body.len()
                        ));
                    }
                    Incoming::Payload {
                        seq,
                        genl: GenlView {
                            cmd: body[0],
                            version: body[1],
                            attr_bytes: &body[GENL_HDRLEN..],
                        },
                    }
                }
            };
            return Some(Ok(inc));
        }
    }
}

/// Split a received datagram into its messages.
pub fn parse_messages(bytes: &[u8]) -> Result<Vec<Incoming<'_>>, IpvsError> {
    messages(bytes).collect()
}

pub(super) fn fixed<const N: usize>(b: &[u8], what: &str) -> Result<[u8; N], IpvsError> {
    b.get(..N)
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| IpvsError::Decode(format!("{what} has {} bytes, not {N}", b.len())))
}

pub(super) fn u8_of(b: &[u8], what: &str) -> Result<u8, IpvsError> {
    Ok(fixed::<1>(b, what)?[0])
}
pub(super) fn u16_of(b: &[u8], what: &str) -> Result<u16, IpvsError> {
    Ok(u16::from_ne_bytes(fixed(b, what)?))
}
pub(super) fn be16_of(b: &[u8], what: &str) -> Result<u16, IpvsError> {
    Ok(u16::from_be_bytes(fixed(b, what)?))
}
pub(super) fn u32_of(b: &[u8], what: &str) -> Result<u32, IpvsError> {
    Ok(u32::from_ne_bytes(fixed(b, what)?))
}
/// A counter: 64 bits in the STATS64 nest, 32 or 64 in the old one.
pub(super) fn counter_of(b: &[u8], what: &str) -> Result<u64, IpvsError> {
    match b.len() {
        4 => Ok(u64::from(u32_of(b, what)?)),
        8 => Ok(u64::from_ne_bytes(fixed(b, what)?)),
        n => Err(IpvsError::Decode(format!("{what} has {n} bytes"))),
    }
}
pub(super) fn string_of(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}
pub(super) fn addr_of(b: &[u8], af: Af, what: &str) -> Result<IpAddr, IpvsError> {
    Ok(match af {
        Af::Inet => IpAddr::V4(Ipv4Addr::from(fixed::<4>(b, what)?)),
        Af::Inet6 => IpAddr::V6(Ipv6Addr::from(fixed::<16>(b, what)?)),
    })
}
pub(super) fn af_of(b: &[u8]) -> Result<Af, IpvsError> {
    let raw = u16_of(b, "address family")?;
    Af::from_raw(raw).ok_or_else(|| IpvsError::Decode(format!("unknown address family {raw}")))
}

/// Statistics from a `*_STATS` or `*_STATS64` nest.
pub fn parse_stats(payload: &[u8]) -> Result<Stats, IpvsError> {
    let mut s = Stats::default();
    let attrs = Attrs::parse(payload, "statistics")?;
    for (ty, b) in (0..ATTR_SLOTS as u16).filter_map(|ty| Some((ty, attrs.get(ty)?))) {
        let slot = match ty {
            IPVS_STATS_ATTR_CONNS => &mut s.conns,
            IPVS_STATS_ATTR_INPKTS => &mut s.inpkts,
            IPVS_STATS_ATTR_OUTPKTS => &mut s.outpkts,
            IPVS_STATS_ATTR_INBYTES => &mut s.inbytes,
            IPVS_STATS_ATTR_OUTBYTES => &mut s.outbytes,
            IPVS_STATS_ATTR_CPS => &mut s.cps,
            IPVS_STATS_ATTR_INPPS => &mut s.inpps,
            IPVS_STATS_ATTR_OUTPPS => &mut s.outpps,
            IPVS_STATS_ATTR_INBPS => &mut s.inbps,
            IPVS_STATS_ATTR_OUTBPS => &mut s.outbps,
            _ => continue, // IPVS_STATS_ATTR_PAD and anything newer
        };
        *slot = counter_of(b, "statistics counter")?;
    }
    Ok(s)
}

pub(super) fn stats_of(attrs: &Attrs<'_>, t64: u16, t32: u16) -> Result<Stats, IpvsError> {
    match (attrs.get(t64), attrs.get(t32)) {
        (Some(b), _) | (None, Some(b)) => parse_stats(b),
        (None, None) => Ok(Stats::default()),
    }
}

/// A service from the attributes nested in `IPVS_CMD_ATTR_SERVICE`.
pub fn parse_service(attrs: &Attrs<'_>) -> Result<ServiceEntry, IpvsError> {
    let af = af_of(attrs.need(IPVS_SVC_ATTR_AF, "service address family")?)?;
    let mark = match attrs.get(IPVS_SVC_ATTR_FWMARK) {
        Some(b) => u32_of(b, "firewall mark")?,
        None => 0,
    };
    let key = if mark != 0 {
        ServiceKey::Fwmark { af, mark }
    } else {
        let raw = u16_of(
            attrs.need(IPVS_SVC_ATTR_PROTOCOL, "service protocol")?,
            "protocol",
        )?;
        let proto = proto_from_number(raw)
            .ok_or_else(|| IpvsError::Decode(format!("unknown service protocol {raw}")))?;
        ServiceKey::Addr {
            proto,
            addr: addr_of(
                attrs.need(IPVS_SVC_ATTR_ADDR, "service address")?,
                af,
                "service address",
            )?,
            port: be16_of(
                attrs.need(IPVS_SVC_ATTR_PORT, "service port")?,
                "service port",
            )?,
        }
    };
    let flags = match attrs.get(IPVS_SVC_ATTR_FLAGS) {
        Some(b) => u32::from_ne_bytes(fixed::<4>(b, "service flags")?),
        None => 0,
    };
    let netmask = match attrs.get(IPVS_SVC_ATTR_NETMASK) {
        Some(b) => {
            let raw = fixed::<4>(b, "netmask")?;
            match af {
                Af::Inet => u32::from_be_bytes(raw),
                Af::Inet6 => u32::from_ne_bytes(raw),
            }
        }
        None => crate::ipvs::host_netmask(af),
    };
    let service = Service {
        key,
        sched: string_of(attrs.need(IPVS_SVC_ATTR_SCHED_NAME, "scheduler name")?),
        flags: SvcFlags(flags).significant(),
        timeout: match attrs.get(IPVS_SVC_ATTR_TIMEOUT) {
            Some(b) => u32_of(b, "timeout")?,
            None => 0,
        },
        netmask,
        pe_name: attrs.get(IPVS_SVC_ATTR_PE_NAME).map(string_of),
    };
    let stats = stats_of(attrs, IPVS_SVC_ATTR_STATS64, IPVS_SVC_ATTR_STATS)?;
    Ok(ServiceEntry { service, stats })
}

/// A real server from the attributes nested in `IPVS_CMD_ATTR_DEST`. `svc_af` is the family
/// assumed when the kernel is too old to say (`IPVS_DEST_ATTR_ADDR_FAMILY`, 3.18).
pub fn parse_dest(attrs: &Attrs<'_>, svc_af: Af) -> Result<DestEntry, IpvsError> {
    let af = match attrs.get(IPVS_DEST_ATTR_ADDR_FAMILY) {
        Some(b) => af_of(b)?,
        None => svc_af,
    };
    let opt_u32 = |ty, what| -> Result<u32, IpvsError> {
        attrs.get(ty).map(|b| u32_of(b, what)).unwrap_or(Ok(0))
    };
    let fwd_raw = opt_u32(IPVS_DEST_ATTR_FWD_METHOD, "forwarding method")?;
    let tun_raw = match attrs.get(IPVS_DEST_ATTR_TUN_TYPE) {
        Some(b) => u8_of(b, "tunnel type")?,
        None => 0,
    };
    let dest = Dest {
        addr: addr_of(
            attrs.need(IPVS_DEST_ATTR_ADDR, "real server address")?,
            af,
            "real server address",
        )?,
        port: be16_of(
            attrs.need(IPVS_DEST_ATTR_PORT, "real server port")?,
            "real server port",
        )?,
        fwd: Fwd::from_raw(fwd_raw)
            .ok_or_else(|| IpvsError::Decode(format!("unknown forwarding method {fwd_raw}")))?,
        weight: opt_u32(IPVS_DEST_ATTR_WEIGHT, "weight")?,
        u_thresh: opt_u32(IPVS_DEST_ATTR_U_THRESH, "upper threshold")?,
        l_thresh: opt_u32(IPVS_DEST_ATTR_L_THRESH, "lower threshold")?,
        tun_type: TunType::from_raw(tun_raw)
            .ok_or_else(|| IpvsError::Decode(format!("unknown tunnel type {tun_raw}")))?,
        tun_port: match attrs.get(IPVS_DEST_ATTR_TUN_PORT) {
            Some(b) => be16_of(b, "tunnel port")?,
            None => 0,
        },
        tun_flags: match attrs.get(IPVS_DEST_ATTR_TUN_FLAGS) {
            Some(b) => u16_of(b, "tunnel flags")?,
            None => 0,
        },
    };
    Ok(DestEntry {
        dest,
        active_conns: opt_u32(IPVS_DEST_ATTR_ACTIVE_CONNS, "active connections")?,
        inact_conns: opt_u32(IPVS_DEST_ATTR_INACT_CONNS, "inactive connections")?,
        persist_conns: opt_u32(IPVS_DEST_ATTR_PERSIST_CONNS, "persistent connections")?,
        stats: stats_of(attrs, IPVS_DEST_ATTR_STATS64, IPVS_DEST_ATTR_STATS)?,
    })
}

/// A sync daemon from the attributes nested in `IPVS_CMD_ATTR_DAEMON`.
pub fn parse_daemon(attrs: &Attrs<'_>) -> Result<SyncDaemon, IpvsError> {
    let raw = u32_of(
        attrs.need(IPVS_DAEMON_ATTR_STATE, "daemon state")?,
        "daemon state",
    )?;
    let state = SyncState::from_raw(raw)
        .ok_or_else(|| IpvsError::Decode(format!("unknown sync daemon state {raw}")))?;
    let mcast_group = match (
        attrs.get(IPVS_DAEMON_ATTR_MCAST_GROUP),
        attrs.get(IPVS_DAEMON_ATTR_MCAST_GROUP6),
    ) {
        (Some(b), _) => Some(addr_of(b, Af::Inet, "multicast group")?),
        (None, Some(b)) => Some(addr_of(b, Af::Inet6, "multicast group")?),
        (None, None) => None,
    };
    Ok(SyncDaemon {
        state,
        mcast_ifn: string_of(attrs.need(IPVS_DAEMON_ATTR_MCAST_IFN, "daemon interface")?),
        syncid: u32_of(attrs.need(IPVS_DAEMON_ATTR_SYNC_ID, "sync id")?, "sync id")?,
        sync_maxlen: attrs
            .get(IPVS_DAEMON_ATTR_SYNC_MAXLEN)
            .map(|b| u16_of(b, "sync maxlen"))
            .transpose()?,
        mcast_group,
        mcast_port: attrs
            .get(IPVS_DAEMON_ATTR_MCAST_PORT)
            .map(|b| u16_of(b, "multicast port"))
            .transpose()?,
        mcast_ttl: attrs
            .get(IPVS_DAEMON_ATTR_MCAST_TTL)
            .map(|b| u8_of(b, "multicast ttl"))
            .transpose()?,
    })
}

/// A service from one `IPVS_CMD_NEW_SERVICE` reply.
pub fn parse_service_msg(genl: &GenlView<'_>) -> Result<ServiceEntry, IpvsError> {
    parse_service(&genl.attrs()?.nested(IPVS_CMD_ATTR_SERVICE, "service")?)
}

/// A real server from one `IPVS_CMD_NEW_DEST` reply.
pub fn parse_dest_msg(genl: &GenlView<'_>, svc_af: Af) -> Result<DestEntry, IpvsError> {
    parse_dest(
        &genl.attrs()?.nested(IPVS_CMD_ATTR_DEST, "real server")?,
        svc_af,
    )
}

/// A sync daemon from one `IPVS_CMD_NEW_DAEMON` reply.
pub fn parse_daemon_msg(genl: &GenlView<'_>) -> Result<SyncDaemon, IpvsError> {
    parse_daemon(&genl.attrs()?.nested(IPVS_CMD_ATTR_DAEMON, "sync daemon")?)
}

/// Timeouts from an `IPVS_CMD_SET_CONFIG` reply (a value the kernel leaves out reads 0).
pub fn parse_timeouts(genl: &GenlView<'_>) -> Result<Timeouts, IpvsError> {
    let a = genl.attrs()?;
    let get = |ty, what| a.get(ty).map(|b| u32_of(b, what)).unwrap_or(Ok(0));
    Ok(Timeouts {
        tcp: get(IPVS_CMD_ATTR_TIMEOUT_TCP, "tcp timeout")?,
        tcp_fin: get(IPVS_CMD_ATTR_TIMEOUT_TCP_FIN, "tcp fin timeout")?,
        udp: get(IPVS_CMD_ATTR_TIMEOUT_UDP, "udp timeout")?,
    })
}

/// General information from an `IPVS_CMD_SET_INFO` reply.
pub fn parse_info(genl: &GenlView<'_>) -> Result<Info, IpvsError> {
    let a = genl.attrs()?;
    Ok(Info {
        version: u32_of(a.need(IPVS_INFO_ATTR_VERSION, "IPVS version")?, "version")?,
        conn_tab_size: u32_of(
            a.need(IPVS_INFO_ATTR_CONN_TAB_SIZE, "connection table size")?,
            "connection table size",
        )?,
    })
}
