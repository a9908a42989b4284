//! The kernel's IPVS generic-netlink family (`"IPVS"`, `include/uapi/linux/ip_vs.h`) over neli.
//!
//! Three layers, the first two pure and tested byte for byte:
//! - message builders ([`op_message`], [`request`] and the `*_attr` helpers): model values to
//!   neli messages, in the byte orders the kernel wants (addresses as the 16-byte
//!   `nf_inet_addr` union, ports big-endian, everything else native);
//! - decoders ([`messages`], [`Attrs`], [`parse_service`], [`parse_dest`], ...): received bytes
//!   back to the model, read in place (neli's decoder copied every attribute, which made a large
//!   dump slower than ipvsadm's), preferring the 64-bit statistics over the 32-bit ones;
//! - [`Netlink`]: a blocking generic-netlink socket that resolves the family by name and runs
//!   one request at a time (send, then read until the ACK, the DONE or an error).

use std::io::Cursor;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::time::Duration;

use neli::consts::nl::NlmF;
use neli::consts::socket::{Msg, NlFamily};
use neli::genl::{AttrTypeBuilder, Genlmsghdr, GenlmsghdrBuilder, Nlattr, NlattrBuilder};
use neli::nl::{NlPayload, Nlmsghdr, NlmsghdrBuilder};
use neli::socket::NlSocket;
use neli::types::{Buffer, GenlBuffer};
use neli::utils::Groups;
use neli::{Size, ToBytes};

use super::{
    Af, Dest, DestEntry, DestKey, Fwd, Info, IpvsError, Op, Service, ServiceEntry, ServiceKey,
    Stats, SvcFlags, SyncDaemon, SyncState, Timeouts, TunType, proto_from_number, proto_number,
};

mod backend;
mod decode;
pub use decode::*;

/// Numbers from `include/uapi/linux/ip_vs.h` and `linux/genetlink.h`.
pub mod uapi {
    pub const IPVS_GENL_NAME: &str = "IPVS";
    pub const IPVS_GENL_VERSION: u8 = 1;

    pub const IPVS_CMD_NEW_SERVICE: u8 = 1;
    pub const IPVS_CMD_SET_SERVICE: u8 = 2;
    pub const IPVS_CMD_DEL_SERVICE: u8 = 3;
    pub const IPVS_CMD_GET_SERVICE: u8 = 4;
    pub const IPVS_CMD_NEW_DEST: u8 = 5;
    pub const IPVS_CMD_SET_DEST: u8 = 6;
    pub const IPVS_CMD_DEL_DEST: u8 = 7;
    pub const IPVS_CMD_GET_DEST: u8 = 8;
    pub const IPVS_CMD_NEW_DAEMON: u8 = 9;
    pub const IPVS_CMD_DEL_DAEMON: u8 = 10;
    pub const IPVS_CMD_GET_DAEMON: u8 = 11;
    pub const IPVS_CMD_SET_CONFIG: u8 = 12;
    pub const IPVS_CMD_GET_CONFIG: u8 = 13;
    pub const IPVS_CMD_SET_INFO: u8 = 14;
    pub const IPVS_CMD_GET_INFO: u8 = 15;
    pub const IPVS_CMD_ZERO: u8 = 16;
    pub const IPVS_CMD_FLUSH: u8 = 17;

    pub const IPVS_CMD_ATTR_SERVICE: u16 = 1;
    pub const IPVS_CMD_ATTR_DEST: u16 = 2;
    pub const IPVS_CMD_ATTR_DAEMON: u16 = 3;
    pub const IPVS_CMD_ATTR_TIMEOUT_TCP: u16 = 4;
    pub const IPVS_CMD_ATTR_TIMEOUT_TCP_FIN: u16 = 5;
    pub const IPVS_CMD_ATTR_TIMEOUT_UDP: u16 = 6;

    pub const IPVS_SVC_ATTR_AF: u16 = 1;
    pub const IPVS_SVC_ATTR_PROTOCOL: u16 = 2;
    pub const IPVS_SVC_ATTR_ADDR: u16 = 3;
    pub const IPVS_SVC_ATTR_PORT: u16 = 4;
    pub const IPVS_SVC_ATTR_FWMARK: u16 = 5;
    pub const IPVS_SVC_ATTR_SCHED_NAME: u16 = 6;
    pub const IPVS_SVC_ATTR_FLAGS: u16 = 7;
    pub const IPVS_SVC_ATTR_TIMEOUT: u16 = 8;
    pub const IPVS_SVC_ATTR_NETMASK: u16 = 9;
    pub const IPVS_SVC_ATTR_STATS: u16 = 10;
    pub const IPVS_SVC_ATTR_PE_NAME: u16 = 11;
    pub const IPVS_SVC_ATTR_STATS64: u16 = 12;

    pub const IPVS_DEST_ATTR_ADDR: u16 = 1;
    pub const IPVS_DEST_ATTR_PORT: u16 = 2;
    pub const IPVS_DEST_ATTR_FWD_METHOD: u16 = 3;
    pub const IPVS_DEST_ATTR_WEIGHT: u16 = 4;
    pub const IPVS_DEST_ATTR_U_THRESH: u16 = 5;
    pub const IPVS_DEST_ATTR_L_THRESH: u16 = 6;
    pub const IPVS_DEST_ATTR_ACTIVE_CONNS: u16 = 7;
    pub const IPVS_DEST_ATTR_INACT_CONNS: u16 = 8;
    pub const IPVS_DEST_ATTR_PERSIST_CONNS: u16 = 9;
    pub const IPVS_DEST_ATTR_STATS: u16 = 10;
    pub const IPVS_DEST_ATTR_ADDR_FAMILY: u16 = 11;
    pub const IPVS_DEST_ATTR_STATS64: u16 = 12;
    pub const IPVS_DEST_ATTR_TUN_TYPE: u16 = 13;
    pub const IPVS_DEST_ATTR_TUN_PORT: u16 = 14;
    pub const IPVS_DEST_ATTR_TUN_FLAGS: u16 = 15;

    pub const IPVS_DAEMON_ATTR_STATE: u16 = 1;
    pub const IPVS_DAEMON_ATTR_MCAST_IFN: u16 = 2;
    pub const IPVS_DAEMON_ATTR_SYNC_ID: u16 = 3;
    pub const IPVS_DAEMON_ATTR_SYNC_MAXLEN: u16 = 4;
    pub const IPVS_DAEMON_ATTR_MCAST_GROUP: u16 = 5;
    pub const IPVS_DAEMON_ATTR_MCAST_GROUP6: u16 = 6;
    pub const IPVS_DAEMON_ATTR_MCAST_PORT: u16 = 7;
    pub const IPVS_DAEMON_ATTR_MCAST_TTL: u16 = 8;

    pub const IPVS_STATS_ATTR_CONNS: u16 = 1;
    pub const IPVS_STATS_ATTR_INPKTS: u16 = 2;
    pub const IPVS_STATS_ATTR_OUTPKTS: u16 = 3;
    pub const IPVS_STATS_ATTR_INBYTES: u16 = 4;
    pub const IPVS_STATS_ATTR_OUTBYTES: u16 = 5;
    pub const IPVS_STATS_ATTR_CPS: u16 = 6;
    pub const IPVS_STATS_ATTR_INPPS: u16 = 7;
    pub const IPVS_STATS_ATTR_OUTPPS: u16 = 8;
    pub const IPVS_STATS_ATTR_INBPS: u16 = 9;
    pub const IPVS_STATS_ATTR_OUTBPS: u16 = 10;
    pub const IPVS_STATS_ATTR_PAD: u16 = 11;

    pub const IPVS_INFO_ATTR_VERSION: u16 = 1;
    pub const IPVS_INFO_ATTR_CONN_TAB_SIZE: u16 = 2;

    /// `IP_VS_SCHEDNAME_MAXLEN` / `IP_VS_IFNAME_MAXLEN`, with the terminating NUL.
    pub const IP_VS_SCHEDNAME_MAXLEN: usize = 16;
    pub const IP_VS_IFNAME_MAXLEN: usize = 16;

    /// The generic-netlink controller.
    pub const GENL_ID_CTRL: u16 = 0x10;
    pub const CTRL_CMD_NEWFAMILY: u8 = 1;
    pub const CTRL_CMD_GETFAMILY: u8 = 3;
    pub const CTRL_ATTR_FAMILY_ID: u16 = 1;
    pub const CTRL_ATTR_FAMILY_NAME: u16 = 2;

    pub const NLMSG_ERROR: u16 = 2;
    pub const NLMSG_DONE: u16 = 3;
    /// Flag bit of a nested attribute's type (`NLA_F_NESTED`).
    pub const NLA_F_NESTED: u16 = 1 << 15;
}

use uapi::*;

/// A netlink attribute with a raw type, as neli carries it.
pub type Attr = Nlattr<u16, Buffer>;
/// A generic-netlink message with raw command and attribute types.
pub type GenlMsg = Genlmsghdr<u8, u16>;
/// A whole netlink request.
pub type Request = Nlmsghdr<u16, GenlMsg>;

fn enc_err(what: &str, e: impl std::fmt::Display) -> IpvsError {
    IpvsError::Invalid(format!("cannot encode {what}: {e}"))
}

/// One attribute with a fixed payload.
pub fn attr<P: Size + ToBytes>(ty: u16, payload: P) -> Result<Attr, IpvsError> {
    let nla_type = AttrTypeBuilder::default()
        .nla_type(ty)
        .build()
        .map_err(|e| enc_err("attribute type", e))?;
    NlattrBuilder::default()
        .nla_type(nla_type)
        .nla_payload(payload)
        .build()
        .map_err(|e| enc_err("attribute", e))
}

/// A nested attribute holding `children` (neli marks it `NLA_F_NESTED`).
pub fn nest(ty: u16, children: &[Attr]) -> Result<Attr, IpvsError> {
    let mut outer = attr(ty, Vec::<u8>::new())?;
    for c in children {
        outer = outer.nest(c).map_err(|e| enc_err("nested attribute", e))?;
    }
    Ok(outer)
}

/// A NUL-terminated string attribute, refused if the kernel's buffer (`max` with the NUL)
/// cannot hold it.
fn str_attr(ty: u16, s: &str, max: usize, what: &str) -> Result<Attr, IpvsError> {
    if s.is_empty() || s.len() >= max || s.contains('\0') {
        return Err(IpvsError::Invalid(format!(
            "{what} `{s}` must be 1 to {} bytes",
            max - 1
        )));
    }
    attr(ty, s)
}

/// The kernel's `union nf_inet_addr`: 16 bytes, an IPv4 address in the first four.
pub fn inet_addr_bytes(addr: &IpAddr) -> [u8; 16] {
    let mut b = [0u8; 16];
    match addr {
        IpAddr::V4(a) => b[..4].copy_from_slice(&a.octets()),
        IpAddr::V6(a) => b = a.octets(),
    }
    b
}

/// The netmask attribute: an IPv4 mask in network order, an IPv6 prefix length as a native
/// integer (the kernel reads four bytes and compares them with 1..=128).
fn netmask_bytes(af: Af, netmask: u32) -> [u8; 4] {
    match af {
        Af::Inet => netmask.to_be_bytes(),
        Af::Inet6 => netmask.to_ne_bytes(),
    }
}

/// `IPVS_CMD_ATTR_SERVICE` identifying `key` only (for delete, get, dests, zero).
pub fn service_key_attr(key: &ServiceKey) -> Result<Attr, IpvsError> {
    nest(IPVS_CMD_ATTR_SERVICE, &service_key_attrs(key)?)
}

fn service_key_attrs(key: &ServiceKey) -> Result<Vec<Attr>, IpvsError> {
    let mut v = vec![attr(IPVS_SVC_ATTR_AF, key.af().raw())?];
    match key {
        ServiceKey::Fwmark { mark, .. } => {
            if *mark == 0 {
                return Err(IpvsError::Invalid(
                    "firewall mark 0 cannot name a service".into(),
                ));
            }
            v.push(attr(IPVS_SVC_ATTR_FWMARK, *mark)?);
        }
        ServiceKey::Addr { proto, addr, port } => {
            v.push(attr(IPVS_SVC_ATTR_PROTOCOL, proto_number(*proto))?);
            v.push(attr(IPVS_SVC_ATTR_ADDR, inet_addr_bytes(addr))?);
            v.push(attr(IPVS_SVC_ATTR_PORT, port.to_be_bytes())?);
        }
    }
    Ok(v)
}

/// `IPVS_CMD_ATTR_SERVICE` with every option (for new / set).
pub fn service_attr(svc: &Service) -> Result<Attr, IpvsError> {
    let mut v = service_key_attrs(&svc.key)?;
    v.push(str_attr(
        IPVS_SVC_ATTR_SCHED_NAME,
        &svc.sched,
        IP_VS_SCHEDNAME_MAXLEN,
        "scheduler name",
    )?);
    if let Some(pe) = &svc.pe_name {
        v.push(str_attr(
            IPVS_SVC_ATTR_PE_NAME,
            pe,
            IP_VS_SCHEDNAME_MAXLEN,
            "persistence engine name",
        )?);
    }
    // struct ip_vs_flags { __u32 flags; __u32 mask; }: set every flag bit to ours.
    let flags = svc.flags.significant().0;
    let mut fl = [0u8; 8];
    fl[..4].copy_from_slice(&flags.to_ne_bytes());
    fl[4..].copy_from_slice(&u32::MAX.to_ne_bytes());
    v.push(attr(IPVS_SVC_ATTR_FLAGS, fl)?);
    v.push(attr(IPVS_SVC_ATTR_TIMEOUT, svc.timeout)?);
    let af = svc.key.af();
    if af == Af::Inet6 && !(1..=128).contains(&svc.netmask) {
        return Err(IpvsError::Invalid(format!(
            "IPv6 persistence netmask /{} must be 1 to 128",
            svc.netmask
        )));
    }
    v.push(attr(IPVS_SVC_ATTR_NETMASK, netmask_bytes(af, svc.netmask))?);
    nest(IPVS_CMD_ATTR_SERVICE, &v)
}

/// `IPVS_CMD_ATTR_DEST` identifying a real server (for delete).
pub fn dest_key_attr(key: &DestKey) -> Result<Attr, IpvsError> {
    nest(IPVS_CMD_ATTR_DEST, &dest_key_attrs(key)?)
}

fn dest_key_attrs(key: &DestKey) -> Result<Vec<Attr>, IpvsError> {
    Ok(vec![
        attr(IPVS_DEST_ATTR_ADDR, inet_addr_bytes(&key.addr))?,
        attr(IPVS_DEST_ATTR_PORT, key.port.to_be_bytes())?,
        attr(IPVS_DEST_ATTR_ADDR_FAMILY, Af::of(&key.addr).raw())?,
    ])
}

/// `IPVS_CMD_ATTR_DEST` with every option (for new / set). The tunnel attributes go with
/// tunnelled servers only, as kernels before 5.2 do not know them.
pub fn dest_attr(dest: &Dest) -> Result<Attr, IpvsError> {
    if dest.weight > i32::MAX as u32 {
        return Err(IpvsError::Invalid(format!(
            "weight {} is above the kernel's maximum {}",
            dest.weight,
            i32::MAX
        )));
    }
    let mut v = dest_key_attrs(&dest.key())?;
    v.push(attr(IPVS_DEST_ATTR_FWD_METHOD, dest.fwd.raw())?);
    v.push(attr(IPVS_DEST_ATTR_WEIGHT, dest.weight)?);
    if dest.fwd == Fwd::Tunnel {
        v.push(attr(IPVS_DEST_ATTR_TUN_TYPE, dest.tun_type.raw())?);
        v.push(attr(IPVS_DEST_ATTR_TUN_PORT, dest.tun_port.to_be_bytes())?);
        v.push(attr(IPVS_DEST_ATTR_TUN_FLAGS, dest.tun_flags)?);
    }
    v.push(attr(IPVS_DEST_ATTR_U_THRESH, dest.u_thresh)?);
    v.push(attr(IPVS_DEST_ATTR_L_THRESH, dest.l_thresh)?);
    nest(IPVS_CMD_ATTR_DEST, &v)
}

/// `IPVS_CMD_ATTR_DAEMON` to start a sync daemon.
pub fn daemon_attr(d: &SyncDaemon) -> Result<Attr, IpvsError> {
    let mut v = vec![
        attr(IPVS_DAEMON_ATTR_STATE, d.state.raw())?,
        str_attr(
            IPVS_DAEMON_ATTR_MCAST_IFN,
            &d.mcast_ifn,
            IP_VS_IFNAME_MAXLEN,
            "sync daemon interface",
        )?,
        attr(IPVS_DAEMON_ATTR_SYNC_ID, d.syncid)?,
    ];
    if let Some(len) = d.sync_maxlen {
        v.push(attr(IPVS_DAEMON_ATTR_SYNC_MAXLEN, len)?);
    }
    match d.mcast_group {
        Some(IpAddr::V4(g)) => v.push(attr(IPVS_DAEMON_ATTR_MCAST_GROUP, g.octets())?),
        Some(IpAddr::V6(g)) => v.push(attr(IPVS_DAEMON_ATTR_MCAST_GROUP6, g.octets())?),
        None => {}
    }
    if let Some(port) = d.mcast_port {
        v.push(attr(IPVS_DAEMON_ATTR_MCAST_PORT, port)?);
    }
    if let Some(ttl) = d.mcast_ttl {
        v.push(attr(IPVS_DAEMON_ATTR_MCAST_TTL, ttl)?);
    }
    nest(IPVS_CMD_ATTR_DAEMON, &v)
}

/// A request of `cmd` to the family `nl_type`. `flags` gets `NLM_F_REQUEST` added.
pub fn request(
    nl_type: u16,
    version: u8,
    cmd: u8,
    attrs: Vec<Attr>,
    flags: NlmF,
    seq: u32,
) -> Result<Request, IpvsError> {
    let genl = GenlmsghdrBuilder::<u8, u16>::default()
        .cmd(cmd)
        .version(version)
        .attrs(attrs.into_iter().collect::<GenlBuffer<u16, Buffer>>())
        .build()
        .map_err(|e| enc_err("generic netlink header", e))?;
    NlmsghdrBuilder::default()
        .nl_type(nl_type)
        .nl_flags(flags | NlmF::REQUEST)
        .nl_seq(seq)
        .nl_pid(0)
        .nl_payload(NlPayload::Payload(genl))
        .build()
        .map_err(|e| enc_err("netlink header", e))
}

/// The command and attributes that carry out `op`.
pub fn op_parts(op: &Op) -> Result<(u8, Vec<Attr>), IpvsError> {
    Ok(match op {
        Op::AddService(s) => (IPVS_CMD_NEW_SERVICE, vec![service_attr(s)?]),
        Op::EditService(s) => (IPVS_CMD_SET_SERVICE, vec![service_attr(s)?]),
        Op::DelService(k) => (IPVS_CMD_DEL_SERVICE, vec![service_key_attr(k)?]),
        Op::AddDest(k, d) => (IPVS_CMD_NEW_DEST, vec![service_key_attr(k)?, dest_attr(d)?]),
        Op::EditDest(k, d) => (IPVS_CMD_SET_DEST, vec![service_key_attr(k)?, dest_attr(d)?]),
        Op::DelDest(k, d) => (
            IPVS_CMD_DEL_DEST,
            vec![service_key_attr(k)?, dest_key_attr(d)?],
        ),
    })
}

/// The request for `op` to the IPVS family `family`, asking for an ACK.
pub fn op_message(family: u16, op: &Op, seq: u32) -> Result<Request, IpvsError> {
    let (cmd, attrs) = op_parts(op)?;
    request(family, IPVS_GENL_VERSION, cmd, attrs, NlmF::ACK, seq)
}

/// The bytes of a message as they go on the socket.
pub fn to_bytes(msg: &Request) -> Result<Vec<u8>, IpvsError> {
    let mut c = Cursor::new(Vec::with_capacity(msg.padded_size()));
    msg.to_bytes(&mut c).map_err(|e| enc_err("message", e))?;
    Ok(c.into_inner())
}

// ---------------------------------------------------------------------------------------------
// Decoding.

// ---------------------------------------------------------------------------------------------
// The socket.

/// How long to wait for the kernel's answer before giving up.
const RECV_TIMEOUT: Duration = Duration::from_secs(10);
/// Large enough for any dump datagram (the kernel sizes them after our buffer, up to 32 KiB).
const RECV_BUF: usize = 64 * 1024;

/// The error for a kernel without IPVS; `proc_present` says whether `/proc/net/ip_vs` exists.
pub fn not_available(proc_present: bool) -> IpvsError {
    let detail = if proc_present {
        "the generic netlink family \"IPVS\" was not found although /proc/net/ip_vs exists \
         (is this kernel's IPVS older than 2.6.29?)"
            .to_string()
    } else {
        "/proc/net/ip_vs is absent and the generic netlink family \"IPVS\" was not found: \
         this kernel has no ip_vs loaded"
            .to_string()
    };
    IpvsError::NotAvailable { detail }
}

enum TxError {
    Errno(i32),
    Other(IpvsError),
}

impl From<IpvsError> for TxError {
    fn from(e: IpvsError) -> Self {
        TxError::Other(e)
    }
}

/// The kernel's IPVS, over a generic-netlink socket.
pub struct Netlink {
    sock: NlSocket,
    family: u16,
    seq: u32,
    buf: Vec<u8>,
}

impl std::fmt::Debug for Netlink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Netlink")
            .field("family", &self.family)
            .field("seq", &self.seq)
            .finish()
    }
}

impl Netlink {
    /// Open a generic-netlink socket and resolve the `"IPVS"` family.
    ///
    /// Errors: [`IpvsError::NotAvailable`] when the kernel has no IPVS (the message names
    /// `/proc/net/ip_vs` and the family, and says `modprobe ip_vs`); [`IpvsError::Io`] when no
    /// netlink socket can be had.
    pub fn open() -> Result<Netlink, IpvsError> {
        let io = |op: &str| {
            let op = op.to_string();
            move |source| IpvsError::Io { op, source }
        };
        let sock = NlSocket::connect(NlFamily::Generic, None, Groups::empty())
            .map_err(io("opening a generic netlink socket"))?;
        set_recv_timeout(&sock, RECV_TIMEOUT).map_err(io("setting the socket's timeout"))?;
        let mut nl = Netlink {
            sock,
            family: 0,
            seq: 1,
            buf: vec![0; RECV_BUF],
        };
        let name = attr(CTRL_ATTR_FAMILY_NAME, IPVS_GENL_NAME)?;
        let family_id = |g: &GenlView<'_>| {
            Ok(match g.attrs()?.get(CTRL_ATTR_FAMILY_ID) {
                Some(b) if g.cmd == CTRL_CMD_NEWFAMILY => Some(u16_of(b, "family id")?),
                _ => None,
            })
        };
        let ids = match nl.transact(
            GENL_ID_CTRL,
            2,
            CTRL_CMD_GETFAMILY,
            vec![name],
            false,
            family_id,
        ) {
            Ok(ids) => ids,
            Err(TxError::Errno(libc::ENOENT)) => {
                return Err(not_available(Path::new("/proc/net/ip_vs").exists()));
            }
            Err(TxError::Errno(e)) => {
                return Err(IpvsError::from_errno_str(
                    "resolve the generic netlink family \"IPVS\"",
                    e,
                    String::new(),
                ));
            }
            Err(TxError::Other(e)) => return Err(e),
        };
        let id = ids.into_iter().flatten().next();
        nl.family = id.ok_or_else(|| not_available(Path::new("/proc/net/ip_vs").exists()))?;
        Ok(nl)
    }

    /// The family's id, as the controller resolved it.
    pub fn family_id(&self) -> u16 {
        self.family
    }

    /// Send one request and decode its replies where they were received, up to the ACK
    /// (`dump == false`, the request asks for one) or the DONE (`dump == true`). A reply that
    /// does not decode fails the request, but only after the rest of its answer has been read,
    /// so that the next request starts on a quiet socket.
    fn transact<T>(
        &mut self,
        nl_type: u16,
        version: u8,
        cmd: u8,
        attrs: Vec<Attr>,
        dump: bool,
        mut decode: impl FnMut(&GenlView<'_>) -> Result<T, IpvsError>,
    ) -> Result<Vec<T>, TxError> {
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        let flags = if dump { NlmF::DUMP } else { NlmF::ACK };
        let bytes = to_bytes(&request(nl_type, version, cmd, attrs, flags, seq)?)?;
        self.sock
            .send(&bytes, Msg::empty())
            .map_err(|source| IpvsError::Io {
                op: "sending to the kernel".into(),
                source,
            })?;
        let mut replies = Vec::new();
        let mut bad_reply = None;
        let finish = |replies, bad_reply: Option<IpvsError>| match bad_reply {
            Some(e) => Err(TxError::Other(e)),
            None => Ok(replies),
        };
        loop {
            let received = self.sock.recv(&mut self.buf[..], Msg::empty());
            if matches!(&received, Err(e) if e.kind() == std::io::ErrorKind::Interrupted) {
                continue;
            }
            let (n, _) = received.map_err(|source| IpvsError::Io {
                op: if source.kind() == std::io::ErrorKind::WouldBlock {
                    format!(
                        "waiting {}s for the kernel's answer",
                        RECV_TIMEOUT.as_secs()
                    )
                } else {
                    "receiving from the kernel".into()
                },
                source,
            })?;
            for inc in messages(&self.buf[..n]) {
                match inc? {
                    Incoming::Payload { seq: s, genl } if s == seq && bad_reply.is_none() => {
                        match decode(&genl) {
                            Ok(v) => replies.push(v),
                            Err(e) => bad_reply = Some(e),
                        }
                    }
                    Incoming::Ack { seq: s } if s == seq => return finish(replies, bad_reply),
                    Incoming::Done { seq: s, errno } if s == seq => {
                        return if errno == 0 {
                            finish(replies, bad_reply)
                        } else {
                            Err(TxError::Errno(errno))
                        };
                    }
                    Incoming::Error { seq: s, errno } if s == seq => {
                        return Err(TxError::Errno(errno));
                    }
                    _ => {} // a late answer to an earlier request
                }
            }
        }
    }

    fn ipvs<T>(
        &mut self,
        what: &str,
        cmd: u8,
        attrs: Vec<Attr>,
        dump: bool,
        decode: impl FnMut(&GenlView<'_>) -> Result<T, IpvsError>,
    ) -> Result<Vec<T>, IpvsError> {
        self.transact(self.family, IPVS_GENL_VERSION, cmd, attrs, dump, decode)
            .map_err(|e| match e {
                TxError::Errno(errno) => IpvsError::from_errno_str(what, errno, String::new()),
                TxError::Other(e) => e,
            })
    }

    fn single<T>(
        &mut self,
        what: &str,
        cmd: u8,
        decode: impl FnMut(&GenlView<'_>) -> Result<T, IpvsError>,
    ) -> Result<T, IpvsError> {
        self.ipvs(what, cmd, Vec::new(), false, decode)?
            .into_iter()
            .next()
            .ok_or_else(|| IpvsError::Decode(format!("no reply to {what}")))
    }

    /// IPVS version and connection table size.
    pub fn info(&mut self) -> Result<Info, IpvsError> {
        self.single("get info", IPVS_CMD_GET_INFO, parse_info)
    }

    /// Every service (without its real servers).
    pub fn services(&mut self) -> Result<Vec<ServiceEntry>, IpvsError> {
        self.ipvs(
            "list services",
            IPVS_CMD_GET_SERVICE,
            Vec::new(),
            true,
            parse_service_msg,
        )
    }

    /// One service, or `None` if there is none with that key.
    pub fn service(&mut self, key: &ServiceKey) -> Result<Option<ServiceEntry>, IpvsError> {
        let what = format!("get service {key}");
        match self.transact(
            self.family,
            IPVS_GENL_VERSION,
            IPVS_CMD_GET_SERVICE,
            vec![service_key_attr(key)?],
            false,
            parse_service_msg,
        ) {
            Ok(r) => Ok(r.into_iter().next()),
            Err(TxError::Errno(libc::ESRCH)) => Ok(None),
            Err(TxError::Errno(e)) => Err(IpvsError::from_errno_str(&what, e, String::new())),
            Err(TxError::Other(e)) => Err(e),
        }
    }

    /// The real servers of a service (none if the service does not exist).
    pub fn dests(&mut self, key: &ServiceKey) -> Result<Vec<DestEntry>, IpvsError> {
        let what = format!("list real servers of {key}");
        let af = key.af();
        let attrs = vec![service_key_attr(key)?];
        self.ipvs(&what, IPVS_CMD_GET_DEST, attrs, true, |g| {
            parse_dest_msg(g, af)
        })
    }

    fn run(&mut self, op: &Op) -> Result<(), IpvsError> {
        let (cmd, attrs) = op_parts(op)?;
        match self.transact(
            self.family,
            IPVS_GENL_VERSION,
            cmd,
            attrs,
            false,
            |_| Ok(()),
        ) {
            Ok(_) => Ok(()),
            Err(TxError::Errno(e)) => Err(IpvsError::from_errno(op, e)),
            Err(TxError::Other(e)) => Err(e),
        }
    }

    pub fn add_service(&mut self, svc: &Service) -> Result<(), IpvsError> {
        self.run(&Op::AddService(svc.clone()))
    }
    pub fn edit_service(&mut self, svc: &Service) -> Result<(), IpvsError> {
        self.run(&Op::EditService(svc.clone()))
    }
    pub fn del_service(&mut self, key: &ServiceKey) -> Result<(), IpvsError> {
        self.run(&Op::DelService(*key))
    }
    pub fn add_dest(&mut self, key: &ServiceKey, dest: &Dest) -> Result<(), IpvsError> {
        self.run(&Op::AddDest(*key, *dest))
    }
    pub fn edit_dest(&mut self, key: &ServiceKey, dest: &Dest) -> Result<(), IpvsError> {
        self.run(&Op::EditDest(*key, *dest))
    }
    pub fn del_dest(&mut self, key: &ServiceKey, dest: &DestKey) -> Result<(), IpvsError> {
        self.run(&Op::DelDest(*key, *dest))
    }

    /// Zero the counters of one service (and its real servers), or of everything.
    pub fn zero(&mut self, key: Option<&ServiceKey>) -> Result<(), IpvsError> {
        let attrs = key.map(service_key_attr).transpose()?.into_iter().collect();
        let what = match key {
            Some(k) => format!("zero counters of {k}"),
            None => "zero all counters".to_string(),
        };
        self.ipvs(&what, IPVS_CMD_ZERO, attrs, false, |_| Ok(()))
            .map(drop)
    }

    /// Remove every service. The engine never does this; tests and `lvsdeck` tools may.
    pub fn flush(&mut self) -> Result<(), IpvsError> {
        self.ipvs("flush", IPVS_CMD_FLUSH, Vec::new(), false, |_| Ok(()))
            .map(drop)
    }

    /// TCP, TCP FIN and UDP connection timeouts.
    pub fn timeouts(&mut self) -> Result<Timeouts, IpvsError> {
        self.single("get timeouts", IPVS_CMD_GET_CONFIG, parse_timeouts)
    }

    /// Set the timeouts; a 0 leaves that one unchanged.
    pub fn set_timeouts(&mut self, t: &Timeouts) -> Result<(), IpvsError> {
        let attrs = vec![
            attr(IPVS_CMD_ATTR_TIMEOUT_TCP, t.tcp)?,
            attr(IPVS_CMD_ATTR_TIMEOUT_TCP_FIN, t.tcp_fin)?,
            attr(IPVS_CMD_ATTR_TIMEOUT_UDP, t.udp)?,
        ];
        self.ipvs(
            "set timeouts",
            IPVS_CMD_SET_CONFIG,
            attrs,
            false,
            |_| Ok(()),
        )
        .map(drop)
    }

    /// Start a sync daemon.
    pub fn new_daemon(&mut self, d: &SyncDaemon) -> Result<(), IpvsError> {
        let what = format!(
            "start the {} sync daemon on {} (syncid {})",
            d.state, d.mcast_ifn, d.syncid
        );
        let attrs = vec![daemon_attr(d)?];
        self.ipvs(&what, IPVS_CMD_NEW_DAEMON, attrs, false, |_| Ok(()))
            .map(drop)
    }

    /// Stop the sync daemon of that role.
    pub fn del_daemon(&mut self, state: SyncState) -> Result<(), IpvsError> {
        let a = nest(
            IPVS_CMD_ATTR_DAEMON,
            &[attr(IPVS_DAEMON_ATTR_STATE, state.raw())?],
        )?;
        self.ipvs(
            &format!("stop the {state} sync daemon"),
            IPVS_CMD_DEL_DAEMON,
            vec![a],
            false,
            |_| Ok(()),
        )
        .map(drop)
    }

    /// The running sync daemons (master, backup, both or none).
    pub fn daemons(&mut self) -> Result<Vec<SyncDaemon>, IpvsError> {
        self.ipvs(
            "list sync daemons",
            IPVS_CMD_GET_DAEMON,
            Vec::new(),
            true,
            parse_daemon_msg,
        )
    }
}

fn set_recv_timeout(sock: &NlSocket, t: Duration) -> std::io::Result<()> {
    let tv = libc::timeval {
        tv_sec: t.as_secs() as libc::time_t,
        tv_usec: t.subsec_micros() as libc::suseconds_t,
    };
    // SAFETY: setsockopt reads `size_of::<timeval>()` bytes from a valid timeval.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            &tv as *const libc::timeval as *const libc::c_void,
            std::mem::size_of::<libc::timeval>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests;
