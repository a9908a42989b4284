//! Hand-back of connections under way after a graceful hand-over (`handover_grace`).
//!
//! When the clients' ARP entries move to the new master, the packets of a connection opened a
//! moment before through the old master reach the new one, whose IPVS has no entry for it yet
//! (the kernel's sync daemon sends a partly filled message every 2 s at best): its own stack
//! would answer RST. For the grace period the new master sends such packets (TCP to a VIP,
//! not a SYN, not taken by IPVS) to the old master, which keeps the VIPs and its connection
//! entries that long and forwards them as before. The rule runs after IPVS in the input hook
//! (IPVS takes packets at priority 98), so connections the new master knows are not touched,
//! and `dup` lowers the TTL, which bounds any loop.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tracing::{info, warn};

/// How long an `nft` call may take before it is given up (a take-over waits for the load).
pub const LOAD_LIMIT: Duration = Duration::from_secs(5);

/// After IPVS's LOCAL_IN hook (NF_IP_PRI_NAT_SRC - 2 = 98).
const PRIORITY: i32 = 99;

/// The nftables table of one instance: a virtual router id is unique per interface (index)
/// and family.
pub fn table_name(v6: bool, ifindex: u32, vrid: u8) -> String {
    format!(
        "lvsdeck_handback_{}_{ifindex}_{vrid}",
        if v6 { "v6" } else { "v4" }
    )
}

/// The nft script that sends packets to `vips` of connections IPVS does not know to
/// `old_master` through `device`; `None` when there is nothing of `old_master`'s family.
pub fn ruleset(table: &str, vips: &[IpAddr], old_master: IpAddr, device: &str) -> Option<String> {
    let family = family(old_master.is_ipv6());
    let addrs: Vec<String> = vips
        .iter()
        .filter(|v| v.is_ipv6() == old_master.is_ipv6())
        .map(IpAddr::to_string)
        .collect();
    if addrs.is_empty() || device.is_empty() || device.contains(['"', '\n']) {
        return None;
    }
    Some(format!(
        "table {family} {table} {{\n\tchain input {{\n\t\ttype filter hook input priority {PRIORITY}; policy accept;\n\
         \t\t{family} daddr {{ {} }} tcp flags & syn == 0 counter dup to {old_master} device \"{device}\" drop\n\t}}\n}}\n",
        addrs.join(", ")
    ))
}

/// nftables' family, which is also the address match's keyword.
fn family(v6: bool) -> &'static str {
    if v6 { "ip6" } else { "ip" }
}

/// Run `nft -f -` with `script`.
pub async fn load(script: &str) -> Result<(), String> {
    let mut child = nft(&["-f", "-"])?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(script.as_bytes())
            .await
            .map_err(|e| format!("writing to nft: {e}"))?;
    }
    finish(child).await.map(drop)
}

/// How many packets the table's rule handed back (its counter).
pub async fn packets(v6: bool, table: &str) -> Result<u64, String> {
    let listing = finish(nft(&["list", "table", family(v6), table])?).await?;
    Ok(counted_packets(&listing))
}

/// The sum of the `counter packets N` of a listing.
pub fn counted_packets(listing: &str) -> u64 {
    let words: Vec<&str> = listing.split_whitespace().collect();
    words
        .windows(3)
        .filter(|w| w[0] == "counter" && w[1] == "packets")
        .filter_map(|w| w[2].parse::<u64>().ok())
        .sum()
}

/// `nft delete table FAMILY NAME`; an absent table is not an error.
pub async fn delete(v6: bool, table: &str) -> Result<(), String> {
    match finish(nft(&["delete", "table", family(v6), table])?).await {
        Err(e) if e.contains("No such file or directory") => Ok(()),
        other => other.map(drop),
    }
}

/// `nft ARGS`, started with its standard streams piped.
fn nft(args: &[&str]) -> Result<tokio::process::Child, String> {
    tokio::process::Command::new("nft")
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot run nft: {e}"))
}

/// Waits (5 s at most) for nft to finish; its standard output, or what it said went wrong.
async fn finish(child: tokio::process::Child) -> Result<String, String> {
    let out = tokio::time::timeout(LOAD_LIMIT, child.wait_with_output())
        .await
        .map_err(|_| format!("nft did not finish in {LOAD_LIMIT:?}"))?
        .map_err(|e| format!("waiting for nft: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "nft: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// A take-over after a release with `handover_grace` adds the VIPs only once the hand-back
/// rule is in place: on a loaded host `nft` can take longer than the skew time, and a packet
/// of a connection under way that arrived before its rule was reset here (seen in the VM).
/// The old master keeps its VIPs until it hears this director, so the wait costs no packet.
pub async fn wait_loaded(
    instance: &str,
    loaded: tokio::sync::oneshot::Receiver<()>,
    limit: Duration,
    events: &mut Vec<(String, String)>,
) {
    let start = Instant::now();
    let waited = tokio::time::timeout(limit, loaded).await;
    let ms = start.elapsed().as_millis();
    let note = if waited.is_err() {
        warn!(
            instance,
            "taking over without the hand-back rule after {ms} ms"
        );
        format!(
            "took over without the hand-back rule after waiting {ms} ms: connections under way \
             may be reset"
        )
    } else if ms >= 10 {
        info!(instance, "take-over waited {ms} ms for the hand-back rule");
        format!("take-over waited {ms} ms for the hand-back rule")
    } else {
        return;
    };
    events.push((instance.to_string(), note));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_rule_matches_unknown_mid_stream_tcp_to_the_vips_after_ipvs() {
        let t = table_name(false, 2, 51);
        assert_eq!(t, "lvsdeck_handback_v4_2_51");
        let r = ruleset(
            &t,
            &[ip("10.10.10.100"), ip("10.10.10.101"), ip("2001:db8::1")],
            ip("10.10.10.71"),
            "eth0",
        )
        .unwrap();
        assert_eq!(
            r,
            "table ip lvsdeck_handback_v4_2_51 {\n\tchain input {\n\t\ttype filter hook input priority 99; policy accept;\n\
             \t\tip daddr { 10.10.10.100, 10.10.10.101 } tcp flags & syn == 0 counter dup to 10.10.10.71 device \"eth0\" drop\n\t}\n}\n"
        );
        let r6 = ruleset(
            &table_name(true, 3, 7),
            &[ip("2001:db8::1")],
            ip("fe80::1"),
            "eth1",
        )
        .unwrap();
        assert!(
            r6.starts_with("table ip6 lvsdeck_handback_v6_3_7 {"),
            "{r6}"
        );
        assert!(r6.contains("ip6 daddr { 2001:db8::1 } tcp flags & syn == 0 counter dup to fe80::1 device \"eth1\" drop"), "{r6}");
    }

    #[test]
    fn the_counter_is_read_from_a_listing() {
        let listing = "table ip lvsdeck_handback_v4_51 {\n\tchain input {\n\t\ttype filter hook input \
                       priority 99; policy accept;\n\t\tip daddr 10.10.10.100 tcp flags ! syn counter \
                       packets 7 bytes 420 dup to 10.10.10.71 device \"eth0\" drop\n\t}\n}\n";
        assert_eq!(counted_packets(listing), 7);
        assert_eq!(counted_packets("table ip t {\n}"), 0);
    }

    #[test]
    fn nothing_to_hand_back_gives_no_rule() {
        assert_eq!(
            ruleset("t", &[ip("2001:db8::1")], ip("10.0.0.1"), "eth0"),
            None
        );
        assert_eq!(ruleset("t", &[ip("10.0.0.100")], ip("10.0.0.1"), ""), None);
        assert_eq!(
            ruleset("t", &[ip("10.0.0.100")], ip("10.0.0.1"), "a\"b"),
            None
        );
    }
}
