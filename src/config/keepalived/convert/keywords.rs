//! Which keywords each block of keepalived.conf has, and what lvsdeck does with the keepalived
//! keywords it does not implement: ignored with a warning when they touch nothing on the data
//! path (mail, SNMP, logging, process tuning), refused when keepalived would change the data
//! path or the election with them and lvsdeck cannot do the same. Anything else is a keyword
//! keepalived itself does not know: a warning, and the line is skipped, as keepalived does.

pub use super::blocks::Ctx;
use crate::config::model::CheckKind;

/// What lvsdeck does with a keepalived keyword it does not implement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// A warning; the keyword (and its block) change nothing lvsdeck does.
    Ignored,
    /// An error: keepalived would act on it, and a silent difference is worse than none.
    /// The message, with `{}` for the keyword.
    Refused(&'static str),
}

struct Entry {
    ctx: &'static [Ctx],
    keywords: &'static [&'static str],
    effect: Effect,
    why: &'static str,
}

/// Keywords keepalived reads in `ctx` and lvsdeck leaves aside, with no effect on the data path.
const fn ignored(
    ctx: &'static [Ctx],
    keywords: &'static [&'static str],
    why: &'static str,
) -> Entry {
    Entry {
        ctx,
        keywords,
        effect: Effect::Ignored,
        why,
    }
}

/// Keywords lvsdeck refuses in `ctx`: `message` with `{}` for the keyword, and why.
const fn refused(
    ctx: &'static [Ctx],
    keywords: &'static [&'static str],
    message: &'static str,
    why: &'static str,
) -> Entry {
    Entry {
        ctx,
        keywords,
        effect: Effect::Refused(message),
        why,
    }
}

const ANY_CHECK: &[Ctx] = &[
    Ctx::Check(CheckKind::Tcp),
    Ctx::Check(CheckKind::Http),
    Ctx::Check(CheckKind::Https),
    Ctx::Check(CheckKind::Misc),
    Ctx::Check(CheckKind::Ping),
    Ctx::Check(CheckKind::Udp),
    Ctx::Check(CheckKind::Smtp),
];
const HTTP_CHECKS: &[Ctx] = &[Ctx::Check(CheckKind::Http), Ctx::Check(CheckKind::Https)];
const NOT_SUPPORTED: &str = "`{}` is not supported";
const TRACKERS: &str =
    "lvsdeck tracks interfaces, vrrp_scripts and track_files; a vrrp_script can test a process";
const MAIL: &str = "lvsdeck sends no mail; use notify scripts";

const TABLE: &[Entry] = &[
    // --- refused: keepalived changes the data path or the election with these ---
    refused(
        &[Ctx::Root],
        &["net_namespace", "net_namespace_ipvs"],
        NOT_SUPPORTED,
        "lvsdeck works in the namespace it starts in; start it with `ip netns exec NAME`",
    ),
    refused(
        &[Ctx::Root],
        &["vrrp_track_process"],
        NOT_SUPPORTED,
        TRACKERS,
    ),
    refused(
        &[Ctx::Instance],
        &["track_process"],
        NOT_SUPPORTED,
        TRACKERS,
    ),
    refused(
        &[Ctx::SyncGroup],
        &["track_file", "track_process", "track_bfd"],
        NOT_SUPPORTED,
        "track them in each member vrrp_instance instead",
    ),
    refused(
        &[Ctx::SyncGroup],
        &["track_interface", "track_script"],
        NOT_SUPPORTED,
        "track them in each member vrrp_instance instead",
    ),
    refused(
        &[Ctx::Instance],
        &["use_vmac_addr"],
        NOT_SUPPORTED,
        "it gives addresses of the other family a VMAC of their own: put them in an \
              instance of their own with use_vmac",
    ),
    refused(
        &[Ctx::Instance],
        &["use_ipvlan", "vrf"],
        NOT_SUPPORTED,
        "lvsdeck sends adverts and adds VIPs on the instance's interface itself",
    ),
    refused(
        &[Ctx::Instance],
        &["old_unicast_checksum"],
        NOT_SUPPORTED,
        "lvsdeck computes the checksum of RFC 3768; peers older than keepalived 1.3.6 \
              would drop its adverts",
    ),
    refused(
        &[Ctx::VirtualServer],
        &["persistence_engine"],
        NOT_SUPPORTED,
        "lvsdeck sets no IPVS persistence engine",
    ),
    refused(
        &[Ctx::RealServer],
        &["BFD_CHECK"],
        "{} is not supported",
        "lvsdeck checks with TCP_CHECK, HTTP_GET, SSL_GET, MISC_CHECK, PING_CHECK, UDP_CHECK, \
              SMTP_CHECK, DNS_CHECK and FILE_CHECK; a MISC_CHECK script can do the rest",
    ),
    // --- ignored: nothing on the data path ---
    ignored(
        &[
            Ctx::Global,
            Ctx::Instance,
            Ctx::SyncGroup,
            Ctx::VirtualServer,
            Ctx::RealServer,
        ],
        &["smtp_alert"],
        MAIL,
    ),
    ignored(
        &[Ctx::Global],
        &[
            "notification_email",
            "notification_email_from",
            "smtp_server",
            "smtp_connect_timeout",
            "smtp_helo_name",
            "smtp_alert_vrrp",
            "smtp_alert_checker",
            "no_email_faults",
            "no_checker_emails",
        ],
        MAIL,
    ),
    ignored(
        &[Ctx::Global],
        &[
            "debug",
            "log_detail",
            "checker_log_all_failures",
            "log_unknown_vrids",
        ],
        "logging is set with RUST_LOG",
    ),
    ignored(&[Ctx::Instance], &["debug"], "logging is set with RUST_LOG"),
    ignored(
        ANY_CHECK,
        &["log_all_failures"],
        "logging is set with RUST_LOG; every check result is in the console's log",
    ),
    ignored(
        &[Ctx::Global],
        &[
            "process_names",
            "process_name",
            "vrrp_process_name",
            "checker_process_name",
            "lvs_process_name",
            "bfd_process_name",
            "vrrp_priority",
            "vrrp_rt_priority",
            "vrrp_cpu_affinity",
            "vrrp_rlimit_rttime",
            "vrrp_rlimit_rtime",
            "checker_priority",
            "checker_rt_priority",
            "checker_cpu_affinity",
            "checker_rlimit_rttime",
            "checker_rlimit_rtime",
            "bfd_priority",
            "bfd_no_swap",
            "bfd_rt_priority",
            "bfd_cpu_affinity",
            "bfd_rlimit_rttime",
            "bfd_rlimit_rtime",
            "max_auto_priority",
            "min_auto_priority_delay",
            "umask",
            "random_seed",
        ],
        "lvsdeck is one process; set its scheduling with systemd (Nice=, \
              CPUSchedulingPolicy=, CPUAffinity=)",
    ),
    ignored(
        &[Ctx::Root],
        &[
            "use_pid_dir",
            "instance",
            "child_wait_time",
            "namespace_with_ipsets",
        ],
        "lvsdeck is one process with no pid files of its own",
    ),
    ignored(
        &[Ctx::Global],
        &[
            "vrrp_netlink_cmd_rcv_bufs",
            "vrrp_netlink_cmd_rcv_bufs_force",
            "vrrp_netlink_monitor_rcv_bufs",
            "vrrp_netlink_monitor_rcv_bufs_force",
            "process_monitor_rcv_bufs",
            "process_monitor_rcv_bufs_force",
            "lvs_netlink_cmd_rcv_bufs",
            "lvs_netlink_cmd_rcv_bufs_force",
            "lvs_netlink_monitor_rcv_bufs",
            "lvs_netlink_monitor_rcv_bufs_force",
            "vrrp_rx_bufs_policy",
            "vrrp_rx_bufs_multiplier",
        ],
        "lvsdeck sizes its socket buffers itself",
    ),
    ignored(
        &[Ctx::Instance],
        &["kernel_rx_buf_size"],
        "lvsdeck sizes its socket buffers itself",
    ),
    ignored(
        &[Ctx::Global],
        &[
            "snmp_socket",
            "enable_traps",
            "enable_snmp_vrrp",
            "enable_snmp_keepalived",
            "enable_snmp_rfc",
            "enable_snmp_rfcv2",
            "enable_snmp_rfcv3",
            "enable_snmp_checker",
            "enable_dbus",
            "dbus_service_name",
        ],
        "lvsdeck has no SNMP or D-Bus interface; `lvsdeck status --json` and the metrics \
              endpoint give the same state",
    ),
    ignored(
        &[Ctx::VirtualServer, Ctx::RealServer],
        &["snmp_name"],
        "lvsdeck has no SNMP interface",
    ),
    ignored(
        &[Ctx::Global],
        &[
            "notify_fifo",
            "notify_fifo_script",
            "vrrp_notify_fifo",
            "vrrp_notify_fifo_script",
            "lvs_notify_fifo",
            "lvs_notify_fifo_script",
            "vrrp_notify_priority_changes",
            "fifo_write_vrrp_states_on_reload",
            "rs_init_notifies",
        ],
        "lvsdeck writes no notify FIFO; it runs the notify scripts on changes, and \
              `lvsdeck status --json` gives the state",
    ),
    ignored(
        &[Ctx::Instance, Ctx::SyncGroup],
        &[
            "notify_deleted",
            "notify_master_rx_lower_pri",
            "notify_priority_changes",
        ],
        "lvsdeck runs notify, notify_master, notify_backup, notify_fault and notify_stop",
    ),
    ignored(
        &[Ctx::Global],
        &[
            "reload_check_config",
            "reload_time_file",
            "reload_repeat",
            "reload_file",
            "include_check",
            "config_save_dir",
            "tmp_config_directory",
            "data_use_instance",
        ],
        "lvsdeck reloads on SIGHUP or `lvsdeck ctl reload`, and a file with errors \
              changes nothing",
    ),
    ignored(
        &[Ctx::Global],
        &[
            "startup_script",
            "startup_script_timeout",
            "shutdown_script",
            "shutdown_script_timeout",
        ],
        "lvsdeck runs no start or stop script: use ExecStartPre= / ExecStopPost= in its \
              systemd unit",
    ),
    ignored(
        &[Ctx::Global],
        &["lvs_flush", "lvs_flush_on_stop", "lvs_flush_onstop"],
        "lvsdeck never flushes the IPVS table: it changes only its own services",
    ),
    ignored(
        &[Ctx::Global],
        &[
            "vrrp_iptables",
            "vrrp_ipsets",
            "nftables",
            "nftables_priority",
            "nftables_ifindex",
            "nftables_counters",
            "nftables_ipvs",
            "nftables_ipvs_priority",
            "nftables_ipvs_start_fwmark",
        ],
        "lvsdeck adds no firewall rules for the VIPs",
    ),
    ignored(
        &[Ctx::Global],
        &[
            "dynamic_interfaces",
            "disable_local_igmp",
            "vrrp_startup_delay",
            "vrrp_check_unicast_src",
            "vrrp_down_timer_adverts",
            "vrrp_lower_prio_no_advert",
            "vrrp_higher_prio_send_advert",
            "vrrp_min_garp",
            "vrrp_garp_extra_if",
            "vrrp_vmac_garp_intvl",
            "vmac_addr_prefix",
        ],
        "lvsdeck follows RFC 3768 / 9568 here: interfaces must exist at start, a master \
              answers lower priorities with its adverts, GARPs follow vrrp_garp_master_*",
    ),
    ignored(
        &[Ctx::Instance],
        &[
            "unicast_fault_no_peer",
            "check_unicast_src",
            "track_src_ip",
            "unicast_ttl",
            "promote_secondaries",
            "linkbeat_use_polling",
            "down_timer_adverts",
            "garp_extra_if",
            "vmac_garp_intvl",
            "lower_prio_no_advert",
            "higher_prio_send_advert",
        ],
        "lvsdeck follows RFC 3768 / 9568 here: adverts from any source are considered, \
              a master answers lower priorities with its adverts",
    ),
    ignored(
        &[Ctx::Instance],
        &["native_ipv6"],
        "the address family follows the virtual addresses",
    ),
    ignored(
        &[Ctx::Instance],
        &["dont_track_primary"],
        "lvsdeck tracks only the interfaces listed in track_interface",
    ),
    ignored(
        &[Ctx::Script],
        &["init_fail"],
        "lvsdeck scripts start as failed until their first success",
    ),
    ignored(
        &[Ctx::SyncGroup],
        &["global_tracking", "sync_group_tracking_weight"],
        "lvsdeck applies each member's tracking weights to that member",
    ),
    ignored(
        &[Ctx::Root],
        &[
            "linkbeat_use_polling",
            "linkbeat_interfaces",
            "interface_up_down_delays",
        ],
        "lvsdeck follows link state through netlink, at once",
    ),
    ignored(
        &[Ctx::Root],
        &["garp_group", "track_group"],
        "lvsdeck paces gratuitous ARPs with vrrp_garp_interval and has no static addresses",
    ),
    ignored(
        &[Ctx::Root],
        &["SSL"],
        "lvsdeck's SSL_GET presents no client certificate",
    ),
    ignored(
        &[Ctx::VirtualServer],
        &["hashed"],
        "the kernel hashes every IPVS service",
    ),
    ignored(
        &[Ctx::VirtualServer],
        &["ha_suspend"],
        "lvsdeck checks real servers on backups too, so a failover starts with fresh health",
    ),
    ignored(
        &[Ctx::RealServer],
        &["alpha"],
        "lvsdeck has alpha per virtual_server only; write it there",
    ),
    ignored(
        ANY_CHECK,
        &["alpha"],
        "lvsdeck has alpha per virtual_server only; write it there",
    ),
    ignored(
        &[
            Ctx::Check(CheckKind::Tcp),
            Ctx::Check(CheckKind::Http),
            Ctx::Check(CheckKind::Https),
            Ctx::Check(CheckKind::Ping),
            Ctx::Check(CheckKind::Udp),
            Ctx::Check(CheckKind::Smtp),
        ],
        &["bind_if", "fwmark"],
        "lvsdeck's checks leave from the address bindto names, unmarked",
    ),
    ignored(
        HTTP_CHECKS,
        &["http_protocol", "fast_recovery"],
        "lvsdeck sends HTTP/1.0 requests and checks every delay_loop",
    ),
    ignored(
        &[Ctx::Check(CheckKind::Http)],
        &["enable_sni"],
        "SNI is part of TLS: it applies to SSL_GET only",
    ),
    ignored(
        &[Ctx::Url],
        &[
            "regex_options",
            "regex_min_offset",
            "regex_max_offset",
            "regex_stack",
        ],
        "lvsdeck matches `regex` anywhere in the body, with default options",
    ),
];

/// What lvsdeck does with `keyword` in `ctx`, when it is a keepalived keyword lvsdeck does not
/// implement, and why.
pub fn unsupported(ctx: Ctx, keyword: &str) -> Option<(Effect, &'static str)> {
    TABLE
        .iter()
        .find(|e| e.ctx.contains(&ctx) && e.keywords.contains(&keyword))
        .map(|e| (e.effect, e.why))
}

/// Every keyword `ctx` accepts in some way, for did-you-mean suggestions.
pub fn candidates(ctx: Ctx) -> impl Iterator<Item = &'static str> {
    let listed = TABLE
        .iter()
        .filter(move |e| e.ctx.contains(&ctx))
        .flat_map(|e| e.keywords.iter().copied());
    ctx.known().into_iter().chain(listed)
}

/// The block a keyword belongs in, when it is not `ctx`.
pub fn home_of(ctx: Ctx, keyword: &str) -> Option<&'static str> {
    const ALL: &[Ctx] = &[
        Ctx::Root,
        Ctx::Global,
        Ctx::Script,
        Ctx::Instance,
        Ctx::SyncGroup,
        Ctx::VirtualServer,
        Ctx::RealServer,
        Ctx::Check(CheckKind::Tcp),
        Ctx::Url,
    ];
    ALL.iter()
        .find(|c| **c != ctx && c.known().contains(&keyword))
        .map(|c| c.name())
}

/// A word as it can be read in a message: the characters an editor does not show
/// (U+00A0, the U+FFFD a byte that is not UTF-8 became, control characters) are spelt out.
pub fn visible(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        match c {
            '\u{a0}' => out.push_str("<U+00A0>"),
            '\u{fffd}' => out.push_str("<not UTF-8>"),
            c if c.is_control() => out.push_str(&format!("<U+{:04X}>", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// Why a word that looks right is not read as written, when it carries a hidden character.
pub fn hidden_char_hint(text: &str) -> Option<&'static str> {
    if text.contains('\u{a0}') {
        Some(
            "it contains a no-break space (U+00A0), often pasted from a web page: keepalived \
             does not read it as a space, nor does lvsdeck; replace it with a plain space",
        )
    } else if text.contains('\u{fffd}') {
        Some(
            "it contains a byte that is not UTF-8 (often a Latin-1 no-break space, 0xA0): \
             keepalived does not read it as a space, nor does lvsdeck; replace it with a plain \
             space",
        )
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_keyword_has_one_fate_per_block() {
        for ctx in [
            Ctx::Root,
            Ctx::Global,
            Ctx::Script,
            Ctx::Instance,
            Ctx::Auth,
            Ctx::SyncGroup,
            Ctx::VirtualServer,
            Ctx::RealServer,
            Ctx::Check(CheckKind::Tcp),
            Ctx::Check(CheckKind::Http),
            Ctx::Check(CheckKind::Https),
            Ctx::Check(CheckKind::Misc),
            Ctx::Check(CheckKind::Ping),
            Ctx::Check(CheckKind::Udp),
            Ctx::Check(CheckKind::Smtp),
            Ctx::Url,
        ] {
            let all: Vec<&str> = candidates(ctx).collect();
            for (i, k) in all.iter().enumerate() {
                assert!(!all[..i].contains(k), "{k} twice in {ctx:?}");
            }
        }
    }

    #[test]
    fn hidden_characters_are_spelt_out() {
        assert_eq!(visible("\u{a0}priority"), "<U+00A0>priority");
        assert_eq!(visible("a\u{fffd}"), "a<not UTF-8>");
        assert!(
            hidden_char_hint("x\u{a0}")
                .unwrap()
                .contains("no-break space")
        );
        assert_eq!(hidden_char_hint("priority"), None);
    }

    #[test]
    fn refused_and_ignored_keywords_say_why() {
        assert!(matches!(
            unsupported(Ctx::Instance, "use_vmac_addr"),
            Some((Effect::Refused(_), _))
        ));
        assert!(matches!(
            unsupported(Ctx::Global, "enable_snmp_vrrp"),
            Some((Effect::Ignored, _))
        ));
        // Known in one block, not in another.
        assert_eq!(unsupported(Ctx::Global, "use_vmac_addr"), None);
        assert_eq!(
            home_of(Ctx::Root, "enable_script_security"),
            Some("global_defs")
        );
    }
}
