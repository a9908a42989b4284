use super::*;
use crate::doctor::{Finding, Report};
use crate::engine::snapshot::{Override, ScriptView};

const NOW: u64 = 1_800_000_000_000;

/// The sample with everything a series can come from filled in.
fn full() -> Snapshot {
    let mut s = Snapshot::sample(NOW);
    s.vrrp[0].dropped_by.insert("auth_mismatch".into(), 2);
    s.vrrp[0].priority_override = Some(Override {
        value: 50,
        by: "root".into(),
        at_ms: NOW - 1000,
    });
    s.vrrp_packets_dropped.insert("bad_ttl".into(), 3);
    s.bfd.push(crate::snapshot::BfdView::sample(
        "to_lvs2",
        "192.168.10.72",
        NOW,
    ));
    s.bfd_packets_dropped.insert("no_session".into(), 4);
    s.bgp = Some(crate::snapshot::BgpView {
        reachable: true,
        sessions: vec![crate::snapshot::BgpSessionView {
            name: "lvsdeck_r1".into(),
            established: true,
            ..Default::default()
        }],
        routes: vec![crate::snapshot::BgpRouteView {
            prefix: "192.168.10.100/32".into(),
            announced: true,
            ..Default::default()
        }],
        ..Default::default()
    });
    s.vrrp_scripts.push(ScriptView {
        name: "chk_nginx".into(),
        up: Some(true),
    });
    s.ipvs.apply_latency.observe(0.003);
    s.ipvs.apply_latency.observe(0.2);
    s.ipvs.drift_repairs = 1;
    let r = &mut s.ipvs.services[0].reals[1];
    r.drain = Some(Override {
        value: (),
        by: "root".into(),
        at_ms: NOW - 5000,
    });
    r.weight_override = Some(Override {
        value: 5,
        by: "root".into(),
        at_ms: NOW - 5000,
    });
    s.doctor = Some(Report {
        taken_at_ms: NOW - 60_000,
        findings: vec![Finding {
            check: "rs-arp-leak".into(),
            host: "real server 192.168.10.73 (02:77:00:00:00:73)".into(),
            probed: String::new(),
            seen: String::new(),
            why: String::new(),
            fix: String::new(),
        }],
        passed: vec![],
        skipped: vec![],
    });
    s
}

fn has(text: &str, line: &str) {
    assert!(
        text.lines().any(|l| l == line),
        "no line `{line}` in:\n{text}"
    );
}

const VI: &str = "vrrp_instance=\"VI_1\",interface=\"ens33\",vrid=\"51\"";
const REAL: &str = "service=\"TCP  192.168.10.100:80\",protocol=\"TCP\",address=\"192.168.10.100:80\",real=\"192.168.10.73:80\"";

#[test]
fn vrrp_series_are_one_per_instance_with_counters_ending_in_total() {
    let text = render(&full(), NOW);
    has(&text, "# TYPE lvsdeck_vrrp_state gauge");
    has(&text, &format!("lvsdeck_vrrp_state{{{VI}}} 2"));
    has(&text, "# TYPE lvsdeck_vrrp_adverts_sent counter");
    has(
        &text,
        &format!("lvsdeck_vrrp_became_master_total{{{VI}}} 2"),
    );
    has(
        &text,
        &format!("lvsdeck_vrrp_released_master_total{{{VI}}} 1"),
    );
    has(&text, &format!("lvsdeck_vrrp_priority_override{{{VI}}} 50"));
    has(
        &text,
        &format!("lvsdeck_vrrp_adverts_dropped_total{{{VI},reason=\"auth_mismatch\"}} 2"),
    );
    has(
        &text,
        "lvsdeck_vrrp_packets_dropped_total{reason=\"bad_ttl\"} 3",
    );
    has(&text, "lvsdeck_vrrp_script_up{script=\"chk_nginx\"} 1");
    has(
        &text,
        &format!("lvsdeck_vrrp_tracker_weight{{{VI},tracker=\"script:chk_httpd\"}} -5"),
    );
    assert!(text.ends_with("# EOF\n"));
}

#[test]
fn bfd_series_are_one_per_session() {
    let text = render(&full(), NOW);
    let l = "session=\"to_lvs2\",peer=\"192.168.10.72\"";
    has(&text, &format!("lvsdeck_bfd_session_state{{{l}}} 3"));
    has(&text, &format!("lvsdeck_bfd_session_up{{{l}}} 1"));
    has(
        &text,
        &format!("lvsdeck_bfd_detection_time_seconds{{{l}}} 0.15"),
    );
    has(
        &text,
        &format!("lvsdeck_bfd_tx_interval_seconds{{{l}}} 0.04"),
    );
    has(&text, &format!("lvsdeck_bfd_session_down_total{{{l}}} 2"));
    has(
        &text,
        &format!("lvsdeck_bfd_packets_sent_total{{{l}}} 90000"),
    );
    has(
        &text,
        "lvsdeck_bfd_unmatched_packets_dropped_total{reason=\"no_session\"} 4",
    );
}

#[test]
fn real_server_series_carry_their_service() {
    let text = render(&full(), NOW);
    has(&text, &format!("lvsdeck_real_up{{{REAL}}} 1"));
    has(&text, &format!("lvsdeck_real_drained{{{REAL}}} 1"));
    has(&text, &format!("lvsdeck_real_weight_override{{{REAL}}} 5"));
    has(
        &text,
        &format!("lvsdeck_real_current_connections{{{REAL},state=\"active\"}} 206"),
    );
    has(
        &text,
        &format!("lvsdeck_real_connections_total{{{REAL}}} 8240"),
    );
    has(
        &text,
        &format!("lvsdeck_real_incoming_bytes_total{{{REAL}}} 7416000"),
    );
    has(&text, &format!("lvsdeck_real_check_success{{{REAL}}} 1"));
    has(
        &text,
        &format!("lvsdeck_real_health_changed_timestamp_seconds{{{REAL}}} 1799992800.0"),
    );
}

#[test]
fn the_apply_histogram_is_cumulative_up_to_inf() {
    let text = render(&full(), NOW);
    has(&text, "lvsdeck_ipvs_apply_duration_seconds_count 2");
    has(
        &text,
        "lvsdeck_ipvs_apply_duration_seconds_bucket{le=\"0.0025\"} 0",
    );
    has(
        &text,
        "lvsdeck_ipvs_apply_duration_seconds_bucket{le=\"0.005\"} 1",
    );
    has(
        &text,
        "lvsdeck_ipvs_apply_duration_seconds_bucket{le=\"0.25\"} 2",
    );
    has(
        &text,
        "lvsdeck_ipvs_apply_duration_seconds_bucket{le=\"+Inf\"} 2",
    );
    has(&text, "lvsdeck_doctor_findings 1");
}

/// docs/metrics.md lists every family, and nothing that is not one.
#[test]
fn every_family_is_documented() {
    let text = render(&full(), NOW);
    let families: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    let mut unique = families.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(
        unique.len(),
        families.len(),
        "a family name twice: {families:?}"
    );
    let doc = include_str!("../../../docs/metrics.md");
    let documented: Vec<&str> = doc
        .lines()
        .filter_map(|l| l.strip_prefix("| `lvsdeck_"))
        .filter_map(|l| l.split('`').next())
        .collect();
    for f in &families {
        let bare = f.strip_prefix("lvsdeck_").unwrap();
        let shown = bare.to_string();
        assert!(
            documented
                .iter()
                .any(|d| { *d == shown || d.strip_suffix("_total") == Some(bare) }),
            "{f} is not in docs/metrics.md"
        );
    }
    for d in &documented {
        let name = format!("lvsdeck_{}", d.strip_suffix("_total").unwrap_or(d));
        assert!(
            families.contains(&name.as_str()),
            "docs/metrics.md lists {d}, which is not exported"
        );
    }
}

#[test]
fn only_get_metrics_is_served() {
    let ok = respond(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", || "m\n".into());
    assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
    assert!(ok.contains("Content-Type: text/plain; version=0.0.4"));
    assert!(ok.ends_with("\r\n\r\nm\n"));
    let head = respond(b"HEAD /metrics HTTP/1.1\r\n\r\n", || "m\n".into());
    assert!(head.contains("Content-Length: 2\r\n") && head.ends_with("\r\n\r\n"));
    let partial = respond(b"GET /metrics HTTP/1.1\r\nHost:", || "m\n".into());
    assert!(partial.starts_with("HTTP/1.1 400"), "{partial}");
    assert!(respond(b"", String::new).starts_with("HTTP/1.1 400"));
    assert!(respond(b"GET /x HTTP/1.1\r\n\r\n", String::new).starts_with("HTTP/1.1 404"));
    assert!(respond(b"POST /metrics HTTP/1.1\r\n\r\n", String::new).starts_with("HTTP/1.1 405"));
    assert!(respond(b"\x01\x02 junk\r\n\r\n", String::new).starts_with("HTTP/1.1 400"));
}

#[test]
fn classic_text_names_counter_families_with_total_and_has_no_eof() {
    let open = render(&full(), NOW);
    let classic = to_classic(&open);
    has(
        &classic,
        "# HELP lvsdeck_vrrp_adverts_sent_total Adverts sent.",
    );
    has(&classic, "# TYPE lvsdeck_vrrp_adverts_sent_total counter");
    has(&classic, "# TYPE lvsdeck_vrrp_state gauge");
    has(
        &classic,
        "# TYPE lvsdeck_ipvs_apply_duration_seconds histogram",
    );
    assert!(!classic.contains("# EOF"));
    // Samples are the same in both.
    let samples = |t: &str| t.lines().filter(|l| !l.starts_with('#')).count();
    assert_eq!(samples(&open), samples(&classic));
}

#[test]
fn the_format_follows_the_accept_header() {
    let open = "# HELP a_b x\n# TYPE a_b counter\na_b_total 1\n# EOF\n";
    let prometheus = b"GET /metrics HTTP/1.1\r\nAccept: application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5\r\n\r\n";
    let answer = respond(prometheus, || open.into());
    assert!(answer.contains("Content-Type: application/openmetrics-text"));
    assert!(answer.ends_with("# EOF\n"));
    let curl = respond(b"GET /metrics HTTP/1.1\r\nAccept: */*\r\n\r\n", || {
        open.into()
    });
    assert!(
        curl.contains("Content-Type: text/plain; version=0.0.4"),
        "{curl}"
    );
    assert!(
        curl.ends_with("# TYPE a_b_total counter\na_b_total 1\n"),
        "{curl}"
    );
}
