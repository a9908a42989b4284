use std::collections::BTreeMap;

use super::*;

/// A host made of files and one default-route interface.
#[derive(Default)]
struct Fake {
    files: BTreeMap<String, String>,
    routes: BTreeMap<Ipv4Addr, String>,
    default_iface: Option<String>,
}

impl Fake {
    fn with(mut self, path: &str, value: &str) -> Self {
        self.files.insert(path.into(), value.into());
        self
    }

    /// A healthy DR director with IPVS loaded.
    fn healthy() -> Self {
        Fake::default()
            .with("/proc/net/ip_vs", IP_VS)
            .with("/proc/sys/net/ipv4/vs/expire_nodest_conn", "1\n")
            .with("/sys/module/ip_vs/parameters/conn_tab_bits", "12\n")
    }
}

impl HostView for Fake {
    fn read(&self, path: &str) -> Option<String> {
        self.files.get(path).cloned()
    }

    fn list(&self, dir: &str) -> Vec<String> {
        self.files
            .keys()
            .filter(|k| k.starts_with(&format!("{dir}/")))
            .cloned()
            .collect()
    }

    fn route_iface(&self, dst: Ipv4Addr) -> Option<String> {
        self.routes
            .get(&dst)
            .cloned()
            .or_else(|| self.default_iface.clone())
    }
}

const IP_VS: &str = "IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port Forward Weight ActiveConn InActConn
TCP  0A0A0A64:0050 wlc
  -> 0A0A0A49:0050      Route   1      3          40
  -> 0A0A0A48:0050      Route   1      2          10
";

fn seed() -> Config {
    crate::lab::director_model(false).expect("the lab's configuration")
}

fn checks(config: &Config, host: &Fake) -> Report {
    let mut report = Report::default();
    check(config, host, &mut report);
    report
}

fn names(report: &Report) -> Vec<&str> {
    report.findings.iter().map(|f| f.check.as_str()).collect()
}

#[test]
fn healthy_dr_director_has_no_finding() {
    let report = checks(&seed(), &Fake::healthy());
    assert!(report.findings.is_empty(), "{:#?}", report.findings);
    assert!(report.passed.iter().any(|p| p.contains("ip_vs is loaded")));
}

#[test]
fn missing_ip_vs_is_named_and_stops_the_ipvs_checks() {
    let report = checks(&seed(), &Fake::default());
    assert_eq!(names(&report), ["ipvs-missing"]);
    assert!(report.findings[0].fix.contains("modprobe ip_vs"));
    assert!(report.skipped.iter().any(|s| s.contains("not loaded")));
}

#[test]
fn expire_nodest_conn_zero_is_a_finding() {
    let host = Fake::healthy().with("/proc/sys/net/ipv4/vs/expire_nodest_conn", "0\n");
    let report = checks(&seed(), &host);
    assert_eq!(names(&report), ["expire-nodest-conn"]);
    assert!(report.findings[0].fix.contains("expire_nodest_conn=1"));
}

#[test]
fn connections_are_summed_from_the_table() {
    assert_eq!(connections(IP_VS), 55);
    assert_eq!(connections(""), 0);
}

#[test]
fn a_table_too_small_for_its_connections_is_a_finding() {
    let host = Fake::healthy().with("/sys/module/ip_vs/parameters/conn_tab_bits", "1\n");
    let report = checks(&seed(), &host);
    assert_eq!(names(&report), ["conn-tab-bits"]);
    assert!(report.findings[0].seen.contains("2 buckets"));
    assert!(report.findings[0].fix.contains("conn_tab_bits=8"));
    assert_eq!(needed_bits(16 * 1024 * 1024), 20);
}

#[test]
fn the_articles_sysctl_line_for_conn_tab_bits_is_named_with_its_line() {
    let host = Fake::healthy().with(
        "/etc/sysctl.d/lvs.conf",
        "# LVS\nnet.ipv4.ip_forward = 1\nnet.ipv4.vs.conn_tab_bits=20\n",
    );
    let report = checks(&seed(), &host);
    assert_eq!(names(&report), ["conn-tab-bits-sysctl"]);
    let f = &report.findings[0];
    assert_eq!(f.probed, "/etc/sysctl.d/lvs.conf:3");
    assert!(
        f.fix.contains("options ip_vs conn_tab_bits=20"),
        "{}",
        f.fix
    );
}

#[test]
fn redirects_matter_only_where_nat_forwards() {
    let host = Fake {
        default_iface: Some("eth0".into()),
        ..Fake::healthy()
    }
    .with("/proc/sys/net/ipv4/conf/all/send_redirects", "1")
    .with("/proc/sys/net/ipv4/conf/eth0/send_redirects", "1");
    // The seed is DR: no redirect is ever sent for its traffic.
    assert!(checks(&seed(), &host).findings.is_empty());
    let mut nat = seed();
    nat.virtual_server[0].lvs_method = ForwardMethod::Nat;
    let report = checks(&nat, &host);
    assert_eq!(names(&report), ["send-redirects"]);
    assert!(report.findings[0].fix.contains("eth0.send_redirects=0"));
    // Both must be 0: the kernel ORs them.
    let host = host.with("/proc/sys/net/ipv4/conf/all/send_redirects", "0");
    assert_eq!(names(&checks(&nat, &host)), ["send-redirects"]);
    let host = host.with("/proc/sys/net/ipv4/conf/eth0/send_redirects", "0");
    assert!(checks(&nat, &host).findings.is_empty());
}

#[test]
fn strict_rp_filter_matters_when_the_way_back_is_another_interface() {
    let host = Fake {
        default_iface: Some("eth1".into()),
        ..Fake::healthy()
    }
    .with("/proc/sys/net/ipv4/conf/all/rp_filter", "0")
    .with("/proc/sys/net/ipv4/conf/eth0/rp_filter", "1");
    let report = checks(&seed(), &host);
    assert_eq!(names(&report), ["rp-filter"]);
    assert!(
        report.findings[0]
            .seen
            .contains("default route leaves by eth1")
    );
    // Loose, or the same interface both ways: fine.
    let loose = Fake {
        default_iface: Some("eth1".into()),
        ..Fake::healthy()
    }
    .with("/proc/sys/net/ipv4/conf/eth0/rp_filter", "2");
    assert!(checks(&seed(), &loose).findings.is_empty());
    let same = Fake {
        default_iface: Some("eth0".into()),
        ..Fake::healthy()
    }
    .with("/proc/sys/net/ipv4/conf/eth0/rp_filter", "1");
    assert!(checks(&seed(), &same).findings.is_empty());
}

#[test]
fn maglev_needs_sloppy_tcp() {
    let host = Fake::healthy().with("/proc/sys/net/ipv4/vs/sloppy_tcp", "0");
    assert!(
        checks(&seed(), &host).findings.is_empty(),
        "wlc: not needed"
    );
    let mut mh = seed();
    mh.virtual_server[0].lvs_sched = "mh".into();
    let report = checks(&mh, &host);
    assert_eq!(names(&report), ["ipvs-sloppy-tcp"]);
    let host = host.with("/proc/sys/net/ipv4/vs/sloppy_tcp", "1");
    assert!(checks(&mh, &host).findings.is_empty());
}
