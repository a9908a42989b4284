//! VRRP virtual MAC interfaces (keepalived's `use_vmac`): a private macvlan over the
//! instance's interface with MAC 00:00:5e:00:01:VRID (IPv6 :02:), up from start, holding the
//! VIPs; adverts go out (and are heard) on it unless `vmac_xmit_base`. A switch then sees one
//! MAC for the VIPs whichever director is master: no ARP cache to update on a failover.
//!
//! The kernel settings keepalived makes for it are made here too, and put back at stop:
//! the base interface stops answering ARP for addresses it does not hold (`arp_ignore=1`,
//! `arp_filter=1`, else it would answer for the VIPs with its own MAC), and the VMAC hears
//! adverts although it has no address of its own (`rp_filter` 0, `accept_local`).

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv6Addr};
use std::path::PathBuf;

use futures::TryStreamExt;
use rtnetlink::LinkMacVlan;
use rtnetlink::packet_route::link::{
    InfoData, InfoKind, InfoMacVlan, LinkAttribute, LinkInfo as NlLinkInfo, LinkMessage,
    MacVlanMode,
};
use tracing::{info, warn};

use super::vip::{LinkInfo, Rtnl, VipError, errno, nl_error};
use crate::config::model::{IpNet, Vmac};

/// The RFC's virtual router MAC (RFC 3768 §7.3, RFC 5798 §7.3).
pub fn virtual_mac(vrid: u8, v6: bool) -> [u8; 6] {
    [0, 0, 0x5e, 0, if v6 { 2 } else { 1 }, vrid]
}

/// keepalived's default name, `<prefix>.<VRID>`; when another instance has it, IPv4 tries
/// `<prefix>1.`, `<prefix>2.`, …, IPv6 `<prefix>6.` first, then the others.
pub fn default_name(prefix: &str, vrid: u8, v6: bool, taken: impl Fn(&str) -> bool) -> String {
    let first = format!("{prefix}.{vrid}");
    let v6_second = v6.then_some(6);
    std::iter::once(first.clone())
        .chain(
            v6_second
                .into_iter()
                .chain((1..100).filter(move |n| !(v6 && *n == 6)))
                .map(|n| format!("{prefix}{n}.{vrid}")),
        )
        .find(|name| name.len() <= 15 && !taken(name))
        .unwrap_or(first)
}

/// What the kernel says of an existing interface: is it a private macvlan, on which link.
fn macvlan_of(msg: &LinkMessage) -> Option<(u32, bool)> {
    let mut parent = None;
    let mut private = false;
    let mut is_macvlan = false;
    for attr in &msg.attributes {
        match attr {
            LinkAttribute::Link(p) => parent = Some(*p),
            LinkAttribute::LinkInfo(infos) => {
                for i in infos {
                    match i {
                        NlLinkInfo::Kind(InfoKind::MacVlan) => is_macvlan = true,
                        NlLinkInfo::Data(InfoData::MacVlan(data)) => {
                            private |= data
                                .iter()
                                .any(|d| matches!(d, InfoMacVlan::Mode(MacVlanMode::Private)));
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    is_macvlan.then_some((parent?, private))
}

/// The VMACs this director made and the kernel settings it changed for them.
pub struct Vmacs {
    rtnl: Rtnl,
    /// Name → index of each VMAC in use.
    links: BTreeMap<String, u32>,
    /// Each setting changed, with the value it had: written back at stop.
    saved: BTreeMap<PathBuf, String>,
}

impl Vmacs {
    pub fn new(rtnl: Rtnl) -> Self {
        Self {
            rtnl,
            links: BTreeMap::new(),
            saved: BTreeMap::new(),
        }
    }

    /// The VMAC of an instance on `base`, made (or taken over, if a private macvlan of that
    /// name is already on `base`) and up. `src`: an IPv6 instance's advert source, put on the
    /// VMAC (no DAD) when adverts go out there.
    pub async fn ensure(
        &mut self,
        name: &str,
        base: &LinkInfo,
        vmac: &Vmac,
        vrid: u8,
        v6: bool,
        src: Option<Ipv6Addr>,
    ) -> Result<LinkInfo, VipError> {
        let mac = vmac.mac.unwrap_or_else(|| virtual_mac(vrid, v6));
        let handle = self.rtnl.handle.clone();
        let existing = match handle
            .link()
            .get()
            .match_name(name.to_string())
            .execute()
            .try_next()
            .await
        {
            Ok(msg) => msg,
            Err(e) if errno(&e) == Some(libc::ENODEV) => None,
            Err(e) => return Err(nl_error(e)),
        };
        if let Some(msg) = &existing {
            match macvlan_of(msg) {
                Some((parent, true)) if parent == base.index => {}
                Some(_) => {
                    // A macvlan of that name elsewhere or in another mode: made anew, as
                    // keepalived does.
                    warn!(
                        vmac = name,
                        "a macvlan of this name is not a private one on {}: made anew", base.name
                    );
                    handle
                        .link()
                        .del(msg.header.index)
                        .execute()
                        .await
                        .map_err(nl_error)?;
                }
                None => {
                    return Err(VipError::Setup(format!(
                        "use_vmac: interface `{name}` exists and is not a macvlan; name the VMAC \
                         otherwise (use_vmac NAME)"
                    )));
                }
            }
        }
        let reuse = existing
            .as_ref()
            .is_some_and(|m| macvlan_of(m).is_some_and(|(p, private)| private && p == base.index));
        if !reuse {
            handle
                .link()
                .add(
                    LinkMacVlan::new(name, base.index, MacVlanMode::Private)
                        .address(mac.to_vec())
                        .build(),
                )
                .execute()
                .await
                .map_err(nl_error)?;
            info!(vmac = name, base = %base.name, "VMAC interface made");
        }
        let link = self.rtnl.link_by_name(name).await?;
        // Ours from here: a step that fails below takes it away again.
        self.links.insert(name.to_string(), link.index);
        match self.bring_up(name, base, link, mac, v6, src).await {
            Ok(link) => Ok(link),
            Err(e) => {
                self.delete(name).await;
                Err(e)
            }
        }
    }

    /// Its MAC, kernel settings and report filter, then up, with an IPv6 advert source.
    async fn bring_up(
        &mut self,
        name: &str,
        base: &LinkInfo,
        link: LinkInfo,
        mac: [u8; 6],
        v6: bool,
        src: Option<Ipv6Addr>,
    ) -> Result<LinkInfo, VipError> {
        let handle = self.rtnl.handle.clone();
        if link.mac != Some(mac) {
            handle
                .link()
                .set(
                    rtnetlink::LinkUnspec::new_with_index(link.index)
                        .address(mac.to_vec())
                        .build(),
                )
                .execute()
                .await
                .map_err(nl_error)?;
        }
        self.configure(name, &base.name, v6)?;
        // Before it is up and joins the VRRP group: a backup's report from the virtual MAC
        // would teach the switch to send the master's traffic to the backup.
        super::handback::load(&quiet_ruleset(name, &base.name))
            .await
            .map_err(|e| {
                VipError::Setup(format!(
                    "use_vmac: {e}; nft keeps the VMAC's multicast reports off the wire"
                ))
            })?;
        handle
            .link()
            .set(
                rtnetlink::LinkUnspec::new_with_index(link.index)
                    .up()
                    .build(),
            )
            .execute()
            .await
            .map_err(nl_error)?;
        if let Some(src) = src {
            self.rtnl
                .add_vip(
                    link.index,
                    IpNet {
                        addr: IpAddr::V6(src),
                        prefix: 64,
                    },
                    &Default::default(),
                )
                .await?;
        }
        let mut link = self.rtnl.link_by_name(name).await?;
        link.mac = Some(mac);
        Ok(link)
    }

    /// keepalived's settings for a VMAC and its base (see the module's comment).
    fn configure(&mut self, vmac: &str, base: &str, v6: bool) -> Result<(), VipError> {
        let v4 =
            |dev: &str, key: &str| PathBuf::from(format!("/proc/sys/net/ipv4/conf/{dev}/{key}"));
        let v6p =
            |dev: &str, key: &str| PathBuf::from(format!("/proc/sys/net/ipv6/conf/{dev}/{key}"));
        if v6 {
            // No address of the kernel's own making (every director's VMAC has the same MAC,
            // so the same EUI-64 link-local: a DAD conflict).
            self.set_if_present(v6p(vmac, "addr_gen_mode"), "1")?;
            return Ok(());
        }
        self.set(v4(vmac, "arp_ignore"), "1")?;
        self.set(v4(vmac, "accept_local"), "1")?;
        self.set(v4(vmac, "rp_filter"), "0")?;
        self.set(v4(vmac, "promote_secondaries"), "1")?;
        self.set_if_present(v6p(vmac, "disable_ipv6"), "1")?;
        self.set(v4(base, "arp_ignore"), "1")?;
        self.set(v4(base, "arp_filter"), "1")?;
        // The effective rp_filter is the higher of `all` and the interface's: with `all` on,
        // the VMAC (no address, no route back) would drop every advert. As keepalived: raise
        // each interface to `all`'s value, then turn `all` off.
        let all = v4("all", "rp_filter");
        let all_value: u8 = read(&all)?.trim().parse().unwrap_or(0);
        if all_value > 0 {
            let dir = std::fs::read_dir("/proc/sys/net/ipv4/conf")?;
            for entry in dir.flatten() {
                let dev = entry.file_name().to_string_lossy().into_owned();
                if dev == "all" || dev == vmac {
                    continue;
                }
                let path = v4(&dev, "rp_filter");
                let own: u8 = read(&path)?.trim().parse().unwrap_or(0);
                if own < all_value {
                    self.set(path, &all_value.to_string())?;
                }
            }
            self.set(all, "0")?;
        }
        Ok(())
    }

    fn set(&mut self, path: PathBuf, value: &str) -> Result<(), VipError> {
        let old = read(&path)?;
        if old.trim() != value {
            std::fs::write(&path, value).map_err(|e| sysctl_error(&path, e))?;
            self.saved.entry(path).or_insert(old);
        }
        Ok(())
    }

    fn set_if_present(&mut self, path: PathBuf, value: &str) -> Result<(), VipError> {
        if path.exists() {
            self.set(path, value)?;
        }
        Ok(())
    }

    /// Delete the VMACs no instance uses any more (after a reload).
    pub async fn keep_only(&mut self, used: &[String]) {
        let gone: Vec<String> = self
            .links
            .keys()
            .filter(|n| !used.contains(n))
            .cloned()
            .collect();
        for name in gone {
            self.delete(&name).await;
        }
    }

    async fn delete(&mut self, name: &str) {
        let Some(index) = self.links.remove(name) else {
            return;
        };
        if let Err(e) = super::handback::load(&unquiet_ruleset(name)).await {
            warn!(vmac = name, "{e}");
        }
        match self.rtnl.handle.link().del(index).execute().await {
            Ok(()) => info!(vmac = name, "VMAC interface deleted"),
            Err(e) if errno(&e) == Some(libc::ENODEV) => {}
            Err(e) => warn!(vmac = name, "VMAC interface not deleted: {e}"),
        }
    }

    /// At stop: the VMACs go, and every setting changed for them is put back.
    pub async fn remove_all(&mut self) {
        self.keep_only(&[]).await;
        for (path, old) in std::mem::take(&mut self.saved).into_iter().rev() {
            // The VMAC's own settings went with it.
            if path.exists()
                && let Err(e) = std::fs::write(&path, old.trim())
            {
                warn!("{} not put back to {}: {e}", path.display(), old.trim());
            }
        }
    }
}

/// The nftables table that silences one VMAC.
fn quiet_table(vmac: &str) -> String {
    let safe: String = vmac
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("lvsdeck_vmac_{safe}")
}

/// Moves the IGMP / MLD reports the kernel sends for the VMAC's groups to the base
/// interface (as keepalived does): only the master may send from the virtual MAC, or a
/// switch would send the VIPs' traffic to a backup; the reports still reach snooping
/// switches, from the base's own MAC. Made anew if a killed run left it.
pub fn quiet_ruleset(vmac: &str, base: &str) -> String {
    let table = quiet_table(vmac);
    let mut lines = Vec::new();
    // `dup` needs the address family of the table it is in: one table for each.
    for (family, report) in [
        ("ip", "ip protocol igmp"),
        (
            "ip6",
            "icmpv6 type { mld-listener-report, mld2-listener-report }",
        ),
    ] {
        lines.extend([
            format!("table {family} {table}"),
            format!("delete table {family} {table}"),
            format!("table {family} {table} {{"),
            "\tchain out {".into(),
            "\t\ttype filter hook output priority 0; policy accept;".into(),
            format!(
                "\t\toifname \"{vmac}\" {report} counter dup to {family} daddr device \"{base}\" drop"
            ),
            "\t}".into(),
            "}".into(),
        ]);
    }
    lines.push(String::new());
    lines.join("\n")
}

/// Removes both tables of [`quiet_ruleset`].
fn unquiet_ruleset(vmac: &str) -> String {
    let table = quiet_table(vmac);
    format!("delete table ip {table}\ndelete table ip6 {table}\n")
}

fn read(path: &std::path::Path) -> Result<String, VipError> {
    std::fs::read_to_string(path).map_err(|e| sysctl_error(path, e))
}

fn sysctl_error(path: &std::path::Path, e: std::io::Error) -> VipError {
    VipError::Setup(format!("use_vmac: {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vmac_names_and_macs_follow_keepalived() {
        assert_eq!(virtual_mac(51, false), [0, 0, 0x5e, 0, 1, 51]);
        assert_eq!(virtual_mac(7, true), [0, 0, 0x5e, 0, 2, 7]);
        assert_eq!(default_name("vrrp", 51, false, |_| false), "vrrp.51");
        assert_eq!(
            default_name("vrrp", 51, true, |n| n == "vrrp.51"),
            "vrrp6.51"
        );
        assert_eq!(
            default_name("vrrp", 51, true, |n| n == "vrrp.51" || n == "vrrp6.51"),
            "vrrp1.51"
        );
        assert_eq!(
            default_name("vrrp", 51, false, |n| n == "vrrp.51"),
            "vrrp1.51"
        );
    }
}
