//! The blocks of keepalived.conf and the keywords lvsdeck reads in each.

use crate::config::model::CheckKind;

/// A block of keepalived.conf, for the keywords it accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ctx {
    Root,
    Global,
    Script,
    TrackFile,
    Instance,
    Auth,
    SyncGroup,
    VirtualServer,
    RealServer,
    Check(CheckKind),
    Url,
}

impl Ctx {
    /// The name the block is written with, for "it belongs in ...".
    pub fn name(self) -> &'static str {
        match self {
            Ctx::Root => "the top level",
            Ctx::Global => "global_defs",
            Ctx::Script => "vrrp_script",
            Ctx::TrackFile => "track_file",
            Ctx::Instance => "vrrp_instance",
            Ctx::Auth => "authentication",
            Ctx::SyncGroup => "vrrp_sync_group",
            Ctx::VirtualServer => "virtual_server",
            Ctx::RealServer => "real_server",
            Ctx::Check(CheckKind::Tcp) => "TCP_CHECK",
            Ctx::Check(CheckKind::Http) => "HTTP_GET",
            Ctx::Check(CheckKind::Https) => "SSL_GET",
            Ctx::Check(CheckKind::Misc) => "MISC_CHECK",
            Ctx::Check(CheckKind::Ping) => "PING_CHECK",
            Ctx::Check(CheckKind::Udp) => "UDP_CHECK",
            Ctx::Check(CheckKind::Smtp) => "SMTP_CHECK",
            Ctx::Check(CheckKind::Dns) => "DNS_CHECK",
            Ctx::Check(CheckKind::File) => "FILE_CHECK",
            Ctx::Url => "url",
        }
    }

    /// The keywords lvsdeck reads in this block.
    pub fn known(self) -> Vec<&'static str> {
        let parts: &[&[&str]] = match self {
            Ctx::Check(CheckKind::Tcp) => &[CHECK_COMMON, CHECK_CONNECT],
            Ctx::Check(CheckKind::Http) => &[CHECK_COMMON, CHECK_CONNECT, CHECK_HTTP],
            Ctx::Check(CheckKind::Https) => {
                &[CHECK_COMMON, CHECK_CONNECT, CHECK_HTTP, &["enable_sni"]]
            }
            Ctx::Check(CheckKind::Misc) => &[CHECK_COMMON, CHECK_MISC],
            Ctx::Check(CheckKind::Ping) => &[CHECK_COMMON, CHECK_CONNECT],
            Ctx::Check(CheckKind::Udp) => &[
                CHECK_COMMON,
                CHECK_CONNECT,
                &[
                    "payload",
                    "require_reply",
                    "min_reply_length",
                    "max_reply_length",
                ],
            ],
            Ctx::Check(CheckKind::Smtp) => &[CHECK_COMMON, CHECK_CONNECT, &["helo_name", "host"]],
            Ctx::Check(CheckKind::Dns) => &[CHECK_COMMON, CHECK_CONNECT, &["type", "name"]],
            // keepalived's FILE_CHECK has these two keywords only.
            Ctx::Check(CheckKind::File) => &[&["track_file", "weight"]],
            _ => &[self.own()],
        };
        parts.concat()
    }

    /// The keywords of a block other than a check.
    fn own(self) -> &'static [&'static str] {
        match self {
            Ctx::Root => &[
                "global_defs",
                "vrrp_script",
                "track_file",
                "vrrp_track_file",
                "vrrp_instance",
                "vrrp_sync_group",
                "virtual_server_group",
                "virtual_server",
                "static_ipaddress",
                "static_routes",
                "static_rules",
            ],
            Ctx::Global => &[
                "router_id",
                "enable_script_security",
                "script_user",
                "vrrp_version",
                "vrrp_garp_master_delay",
                "vrrp_garp_master_repeat",
                "vrrp_garp_master_refresh",
                "vrrp_garp_master_refresh_repeat",
                "vrrp_garp_lower_prio_delay",
                "vrrp_garp_lower_prio_repeat",
                "vrrp_garp_interval",
                "vrrp_gna_interval",
                "vrrp_skip_check_adv_addr",
                "vrrp_strict",
                "vrrp_mcast_group4",
                "vrrp_mcast_group6",
                "vrrp_no_swap",
                "checker_no_swap",
                "default_interface",
                "lvs_sync_daemon",
                "lvs_timeouts",
                "vmac_prefix",
            ],
            Ctx::Script => &[
                "script", "interval", "timeout", "weight", "rise", "fall", "user",
            ],
            Ctx::TrackFile => &["file", "weight", "init_file"],
            Ctx::Instance => &[
                "state",
                "interface",
                "virtual_router_id",
                "priority",
                "advert_int",
                "version",
                "authentication",
                "virtual_ipaddress",
                "virtual_ipaddress_excluded",
                "unicast_src_ip",
                "mcast_src_ip",
                "unicast_peer",
                "mcast_dst_ip",
                "nopreempt",
                "preempt",
                "preempt_delay",
                "accept",
                "no_accept",
                "skip_check_adv_addr",
                "strict_mode",
                "track_interface",
                "track_script",
                "track_file",
                "notify_master",
                "notify_backup",
                "notify_fault",
                "notify_stop",
                "notify",
                "garp_master_delay",
                "garp_master_repeat",
                "garp_master_refresh",
                "garp_master_refresh_repeat",
                "garp_lower_prio_delay",
                "garp_lower_prio_repeat",
                "lvs_sync_daemon_interface",
                "use_vmac",
                "vmac_xmit_base",
                "virtual_routes",
                "virtual_rules",
            ],
            Ctx::Auth => &["auth_type", "auth_pass"],
            Ctx::SyncGroup => &[
                "group",
                "notify_master",
                "notify_backup",
                "notify_fault",
                "notify_stop",
                "notify",
            ],
            Ctx::VirtualServer => &[
                "delay_loop",
                "lb_algo",
                "lvs_sched",
                "lb_kind",
                "lvs_method",
                "protocol",
                "ip_family",
                "persistence_timeout",
                "persistence_granularity",
                "ops",
                "quorum",
                "hysteresis",
                "quorum_up",
                "quorum_down",
                "sorry_server",
                "sorry_server_inhibit",
                "sorry_server_lvs_method",
                "alpha",
                "omega",
                "inhibit_on_failure",
                "virtualhost",
                "weight",
                "retry",
                "delay_before_retry",
                "warmup",
                "connect_timeout",
                "sh-port",
                "sh-fallback",
                "mh-port",
                "mh-fallback",
                "flag-1",
                "flag-2",
                "flag-3",
                "real_server",
            ],
            Ctx::RealServer => &[
                "weight",
                "lvs_method",
                "inhibit_on_failure",
                "uthreshold",
                "lthreshold",
                "delay_loop",
                "retry",
                "delay_before_retry",
                "warmup",
                "connect_timeout",
                "virtualhost",
                "notify_up",
                "notify_down",
                "TCP_CHECK",
                "HTTP_GET",
                "SSL_GET",
                "MISC_CHECK",
                "PING_CHECK",
                "UDP_CHECK",
                "SMTP_CHECK",
                "DNS_CHECK",
                "FILE_CHECK",
            ],
            Ctx::Check(_) => &[],
            Ctx::Url => &[
                "path",
                "digest",
                "status_code",
                "regex",
                "regex_no_match",
                "virtualhost",
            ],
        }
    }
}

/// keepalived's keywords of every checker.
const CHECK_COMMON: &[&str] = &["retry", "delay_before_retry", "warmup", "delay_loop"];
/// Those of the checkers that connect (all but MISC_CHECK).
const CHECK_CONNECT: &[&str] = &[
    "connect_ip",
    "connect_port",
    "bindto",
    "bind_port",
    "connect_timeout",
];
/// HTTP_GET and SSL_GET; `nb_get_retry` is read there only.
const CHECK_HTTP: &[&str] = &["nb_get_retry", "url", "virtualhost"];
const CHECK_MISC: &[&str] = &["misc_path", "misc_timeout", "misc_dynamic", "user"];
