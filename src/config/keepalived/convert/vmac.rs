//! `use_vmac [NAME] [MAC]` and `vmac_xmit_base`, read as keepalived 2.2.7 reads them: a bad
//! name or MAC is warned about and the default used, `vmac_xmit_base` is forced by unicast
//! peers and cleared by strict mode.

use super::Conv;
use crate::config::keepalived::parse::{Node, Word};
use crate::config::model::{Vmac, VrrpInstance};

/// Why `name` cannot name an interface (the kernel's rules, as keepalived checks them).
pub fn bad_interface_name(name: &str) -> Option<&'static str> {
    if name.is_empty() || name == "." || name == ".." {
        Some("is not an interface name")
    } else if name.len() > 15 {
        Some("is longer than an interface name may be (15 bytes)")
    } else if name.contains(['/', ':']) || name.chars().any(char::is_whitespace) {
        Some("has a character an interface name may not have")
    } else {
        None
    }
}

/// A MAC of 6 octets, or 5 (the VRID is the sixth: the bool says so); why not otherwise.
pub fn parse_vmac_mac(text: &str) -> Result<([u8; 6], bool), &'static str> {
    let octets: Vec<u8> = text
        .split(':')
        .map(|o| match o.len() {
            1 | 2 => u8::from_str_radix(o, 16).ok(),
            _ => None,
        })
        .collect::<Option<_>>()
        .ok_or("is not a MAC address")?;
    let short = match octets.len() {
        5 => true,
        6 => false,
        _ => return Err("is not a MAC address of 5 or 6 octets"),
    };
    let mut mac = [0; 6];
    mac[..octets.len()].copy_from_slice(&octets);
    if mac[0] & 1 == 1 {
        return Err("is a multicast MAC");
    }
    if mac[..4] == [0, 0, 0x5e, 0] && matches!(mac[4], 1 | 2) {
        return Err("is a VRRP virtual MAC, which use_vmac sets itself");
    }
    Ok((mac, short))
}

impl Conv<'_> {
    /// One `use_vmac` line: its name and MAC, in any order (a word with `:` is the MAC).
    pub(super) fn use_vmac(&mut self, n: &Node, prev: Option<Vmac>) -> (Vmac, bool) {
        let mut vmac = prev.unwrap_or_default();
        let mut short = false;
        for w in &n.args {
            if w.text.contains(':') {
                match parse_vmac_mac(&w.text) {
                    Ok((mac, s)) => (vmac.mac, short) = (Some(mac), s),
                    Err(why) => self.warn(
                        w,
                        format!(
                            "use_vmac: `{}` {why}; the RFC's virtual MAC is used, as keepalived \
                             does",
                            w.text
                        ),
                        "give a unicast MAC such as 02:00:00:00:00:01, or none",
                    ),
                }
            } else if let Some(why) = bad_interface_name(&w.text) {
                self.warn(
                    w,
                    format!(
                        "use_vmac: `{}` {why}; the default name is used, as keepalived does",
                        w.text
                    ),
                    "give a name of at most 15 characters without / : or spaces",
                );
            } else {
                vmac.name = Some(w.text.clone());
            }
        }
        (vmac, short)
    }

    /// What keepalived settles once the instance is read: `vmac_xmit_base` only with
    /// `use_vmac`, forced by unicast peers, not in strict mode, where a MAC of one's own is
    /// not allowed either.
    pub(super) fn vmac_settled(
        &mut self,
        at: &Word,
        xmit_base_at: Option<&Word>,
        inst: &mut VrrpInstance,
    ) {
        let strict = inst.strict(&self.config.global);
        let unicast = !inst.unicast_peer.is_empty();
        let Some(vmac) = inst.use_vmac.as_mut() else {
            if let Some(w) = xmit_base_at {
                self.warn(
                    w,
                    "vmac_xmit_base without use_vmac is ignored, as keepalived does",
                    "remove it, or add use_vmac",
                );
            }
            return;
        };
        vmac.xmit_base = xmit_base_at.is_some();
        if strict {
            if let Some(w) = xmit_base_at {
                vmac.xmit_base = false;
                self.warn(
                    w,
                    "vmac_xmit_base is ignored in strict mode (vrrp_strict, strict_mode), as \
                     keepalived does: adverts go out on the VMAC",
                    "remove it",
                );
            }
            if vmac.mac.take().is_some() {
                self.warn(
                    at,
                    "use_vmac: a MAC of one's own is not allowed in strict mode; the RFC's \
                     virtual MAC is used, as keepalived does",
                    "remove the MAC from use_vmac",
                );
            }
        }
        if unicast && !vmac.xmit_base {
            vmac.xmit_base = true;
            self.warn(
                at,
                "use_vmac with unicast_peer: adverts go out on the instance's interface \
                 (vmac_xmit_base), as keepalived forces",
                "add vmac_xmit_base to say so",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vmac_macs_and_names_are_checked_as_keepalived_does() {
        assert_eq!(
            parse_vmac_mac("02:11:22:33:44:55"),
            Ok(([2, 0x11, 0x22, 0x33, 0x44, 0x55], false))
        );
        assert_eq!(
            parse_vmac_mac("2:a:b:c:d"),
            Ok(([2, 0xa, 0xb, 0xc, 0xd, 0], true))
        );
        assert!(parse_vmac_mac("01:00:5e:00:00:12").is_err());
        assert!(parse_vmac_mac("00:00:5e:00:01:33").is_err());
        assert!(parse_vmac_mac("00:00:5e:00:02").is_err());
        assert!(parse_vmac_mac("02:zz:00:00:00:01").is_err());
        assert!(parse_vmac_mac("02:00:00:00").is_err());
        assert_eq!(bad_interface_name("vrrp.51"), None);
        assert!(bad_interface_name("sixteen-chars-xx").is_some());
        assert!(bad_interface_name("a/b").is_some());
        assert!(bad_interface_name("..").is_some());
    }
}
