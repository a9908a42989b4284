//! Prometheus metrics, off unless `global.metrics_listen` names an address. Each scrape
//! encodes the latest Snapshot with prometheus-client (OpenMetrics text); the families, their
//! labels and meanings are listed in docs/metrics.md, which a test keeps in step.
//!
//! Conventions: the `lvsdeck_` prefix, base units in the name (`_seconds`, `_bytes`),
//! counters end in `_total`, a state is one gauge per instance with a number (no label that
//! would start a new series at each change), and every real-server series carries its
//! virtual service in the labels.

use std::fmt;
use std::net::SocketAddr;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::snapshot::{Histogram, RealView, ServiceView, Snapshot, Totals, VrrpView};
use crate::snapshot::RealHealth;

type Labels = Vec<(&'static str, String)>;

/// A histogram already counted (the director observes; this only encodes).
#[derive(Debug)]
struct Observed<'a>(&'a Histogram);

impl EncodeMetric for Observed<'_> {
    fn encode(&self, mut encoder: MetricEncoder) -> fmt::Result {
        // prometheus-client wants each bucket's own count; the snapshot keeps them cumulative.
        let mut below = 0;
        let mut buckets: Vec<(f64, u64)> = Histogram::BOUNDS_S
            .iter()
            .zip(&self.0.buckets)
            .map(|(&bound, &cumulative)| {
                let own = cumulative.saturating_sub(below);
                below = cumulative;
                (bound, own)
            })
            .collect();
        buckets.push((f64::INFINITY, self.0.count.saturating_sub(below)));
        encoder.encode_histogram::<NoLabelSet>(self.0.sum_s, self.0.count, &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

/// One family: its descriptor, then one sample per label set.
fn family<M: EncodeMetric>(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    kind: MetricType,
    series: impl IntoIterator<Item = (Labels, M)>,
) -> fmt::Result {
    let mut metric = enc.encode_descriptor(name, help, None, kind)?;
    for (labels, value) in series {
        value.encode(metric.encode_family(&labels)?)?;
    }
    Ok(())
}

fn gauges<T, V: prometheus_client::encoding::EncodeGaugeValue + fmt::Debug + Send + Sync>(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    items: impl IntoIterator<Item = T>,
    f: impl Fn(T) -> Option<(Labels, V)>,
) -> fmt::Result {
    family(
        enc,
        name,
        help,
        MetricType::Gauge,
        items
            .into_iter()
            .filter_map(f)
            .map(|(l, v)| (l, ConstGauge::new(v))),
    )
}

/// A counter family; `name` without `_total`, which the encoder adds.
fn counters<T>(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    items: impl IntoIterator<Item = T>,
    f: impl Fn(T) -> Option<(Labels, u64)>,
) -> fmt::Result {
    family(
        enc,
        name,
        help,
        MetricType::Counter,
        items
            .into_iter()
            .filter_map(f)
            .map(|(l, v)| (l, ConstCounter::new(v))),
    )
}

fn instance(v: &VrrpView) -> Labels {
    vec![
        ("vrrp_instance", v.name.clone()),
        ("interface", v.interface.clone()),
        ("vrid", v.vrid.to_string()),
    ]
}

fn service(s: &ServiceView) -> Labels {
    vec![
        ("service", s.key.clone()),
        ("protocol", s.protocol.clone()),
        ("address", s.address.clone()),
    ]
}

fn real(s: &ServiceView, r: &RealView) -> Labels {
    let mut l = service(s);
    l.push(("real", format!("{}:{}", r.address, r.port)));
    l
}

fn seconds(ms: u64) -> f64 {
    ms as f64 / 1000.0
}

/// The Snapshot of one scrape, encoded.
#[derive(Debug)]
struct Scrape {
    snapshot: Snapshot,
    now_ms: u64,
}

impl Collector for Scrape {
    fn encode(&self, mut enc: DescriptorEncoder) -> fmt::Result {
        let s = &self.snapshot;
        daemon(&mut enc, s, self.now_ms)?;
        vrrp(&mut enc, s)?;
        bfd::bfd(&mut enc, s)?;
        bgp::bgp(&mut enc, s)?;
        ipvs(&mut enc, s)
    }
}

fn daemon(enc: &mut DescriptorEncoder, s: &Snapshot, now_ms: u64) -> fmt::Result {
    let build = vec![("version", env!("CARGO_PKG_VERSION").to_string())];
    gauges(
        enc,
        "lvsdeck_build_info",
        "The running lvsdeck's version.",
        [build],
        |l| Some((l, 1)),
    )?;
    gauges(
        enc,
        "lvsdeck_snapshot_age_seconds",
        "How old the state behind this scrape is.",
        [s.taken_at_ms],
        |at| Some((vec![], seconds(now_ms.saturating_sub(at)))),
    )?;
    gauges(
        enc,
        "lvsdeck_start_time_seconds",
        "When the daemon started (Unix time).",
        [s.host.started_at_ms],
        |at| Some((vec![], seconds(at))),
    )?;
    let doctor = s.doctor.as_ref();
    gauges(
        enc,
        "lvsdeck_doctor_findings",
        "Findings of the doctor's last run (lvsdeck doctor, run by the daemon).",
        doctor,
        |r| Some((vec![], r.findings.len() as i64)),
    )?;
    // Findings of one check on one host (several instances, say) are one series.
    let mut found: std::collections::BTreeMap<(String, String), i64> = Default::default();
    for f in doctor.into_iter().flat_map(|r| &r.findings) {
        *found.entry((f.check.clone(), f.host.clone())).or_default() += 1;
    }
    gauges(
        enc,
        "lvsdeck_doctor_finding",
        "Findings of the doctor's last run by check and host (usually 1).",
        found,
        |((check, host), n)| Some((vec![("check", check), ("host", host)], n)),
    )?;
    gauges(
        enc,
        "lvsdeck_doctor_last_run_timestamp_seconds",
        "When the doctor last ran (Unix time).",
        doctor,
        |r| Some((vec![], seconds(r.taken_at_ms))),
    )
}

fn vrrp(enc: &mut DescriptorEncoder, s: &Snapshot) -> fmt::Result {
    let v = &s.vrrp;
    gauges(
        enc,
        "lvsdeck_vrrp_state",
        "VRRP state: 0 init, 1 backup, 2 master, 3 fault.",
        v,
        |v| {
            let n = match v.state.as_str() {
                "BACKUP" => 1,
                "MASTER" => 2,
                "FAULT" => 3,
                _ => 0,
            };
            Some((instance(v), n))
        },
    )?;
    gauges(
        enc,
        "lvsdeck_vrrp_holds_vips",
        "1 while this director holds the instance's VIPs.",
        v,
        |v| Some((instance(v), i64::from(v.holds_vips))),
    )?;
    gauges(
        enc,
        "lvsdeck_vrrp_priority",
        "Priority advertised now (after tracking and overrides).",
        v,
        |v| Some((instance(v), i64::from(v.effective_priority))),
    )?;
    gauges(
        enc,
        "lvsdeck_vrrp_base_priority",
        "Configured priority.",
        v,
        |v| Some((instance(v), i64::from(v.base_priority))),
    )?;
    gauges(
        enc,
        "lvsdeck_vrrp_priority_override",
        "An operator's priority override (ctl priority), while set.",
        v,
        |v| Some((instance(v), i64::from(v.priority_override.as_ref()?.value))),
    )?;
    gauges(
        enc,
        "lvsdeck_vrrp_last_transition_timestamp_seconds",
        "When the instance last changed state (Unix time).",
        v,
        |v| Some((instance(v), seconds(v.last_transition.as_ref()?.at_ms))),
    )?;
    type Count = fn(&VrrpView) -> u64;
    let per_instance: [(&str, &str, Count); 10] = [
        ("lvsdeck_vrrp_adverts_sent", "Adverts sent.", |v| {
            v.adverts_out
        }),
        (
            "lvsdeck_vrrp_adverts_received",
            "Adverts received and accepted.",
            |v| v.adverts_in,
        ),
        (
            "lvsdeck_vrrp_priority_zero_sent",
            "Priority-0 adverts sent (releasing mastership).",
            |v| v.priority_zero_out,
        ),
        (
            "lvsdeck_vrrp_priority_zero_received",
            "Priority-0 adverts received.",
            |v| v.priority_zero_in,
        ),
        (
            "lvsdeck_vrrp_became_master",
            "Transitions to MASTER.",
            |v| v.became_master,
        ),
        (
            "lvsdeck_vrrp_released_master",
            "Transitions out of MASTER.",
            |v| v.released_master,
        ),
        (
            "lvsdeck_vrrp_handovers",
            "Graceful hand-overs started.",
            |v| v.handovers,
        ),
        (
            "lvsdeck_vrrp_split_brains",
            "Adverts from another master while master (split brains seen).",
            |v| v.split_brain,
        ),
        (
            "lvsdeck_vrrp_address_list_mismatches",
            "Adverts whose address list differs from ours (counted, not dropped).",
            |v| v.address_list_mismatch,
        ),
        (
            "lvsdeck_vrrp_vip_repairs",
            "VIPs put back on the master or taken off a backup after someone else changed them.",
            |v| v.vip_repairs,
        ),
    ];
    for (name, help, count) in per_instance {
        counters(enc, name, help, v, |v| Some((instance(v), count(v))))?;
    }
    counters(
        enc,
        "lvsdeck_vrrp_adverts_dropped",
        "Adverts of an instance dropped, by reason.",
        v.iter()
            .flat_map(|v| v.dropped_by.iter().map(move |(r, n)| (v, r, *n))),
        |(v, reason, n)| {
            let mut l = instance(v);
            l.push(("reason", reason.clone()));
            Some((l, n))
        },
    )?;
    counters(
        enc,
        "lvsdeck_vrrp_packets_dropped",
        "VRRP packets dropped before any instance saw them, by reason (bad_ttl, bad_checksum, truncated, ...).",
        &s.vrrp_packets_dropped,
        |(reason, n)| Some((vec![("reason", reason.clone())], *n)),
    )?;
    let trackers = || {
        v.iter()
            .flat_map(|v| v.trackers.iter().map(move |t| (v, t)))
    };
    let tracker = |v: &VrrpView, t: &super::snapshot::TrackerView| {
        let mut l = instance(v);
        l.push(("tracker", t.name.clone()));
        l
    };
    gauges(
        enc,
        "lvsdeck_vrrp_tracker_up",
        "What an instance's priority tracks (script:, link:, file:): 1 up, 0 down.",
        trackers(),
        |(v, t)| Some((tracker(v, t), i64::from(t.up))),
    )?;
    gauges(
        enc,
        "lvsdeck_vrrp_tracker_weight",
        "A tracker's weight: added while up (positive), taken while down (negative); 0: down means FAULT.",
        trackers(),
        |(v, t)| Some((tracker(v, t), i64::from(t.weight))),
    )?;
    gauges(
        enc,
        "lvsdeck_vrrp_script_up",
        "A vrrp_script's state: 1 up, 0 down (absent before its first verdict).",
        &s.vrrp_scripts,
        |sc| Some((vec![("script", sc.name.clone())], i64::from(sc.up?))),
    )
}

fn ipvs(enc: &mut DescriptorEncoder, s: &Snapshot) -> fmt::Result {
    let svcs = &s.ipvs.services;
    let reals = || {
        svcs.iter()
            .flat_map(|s| s.reals.iter().map(move |r| (s, r)))
    };
    gauges(
        enc,
        "lvsdeck_ipvs_available",
        "1 when the kernel has IPVS.",
        [s.ipvs.available],
        |a| Some((vec![], i64::from(a))),
    )?;
    counters(
        enc,
        "lvsdeck_ipvs_drift_repairs",
        "Changes made to the IPVS table outside lvsdeck (ipvsadm) that were put back.",
        [s.ipvs.drift_repairs],
        |n| Some((vec![], n)),
    )?;
    family(
        enc,
        "lvsdeck_ipvs_apply_duration_seconds",
        "How long applying a set of changes to the kernel's IPVS table took.",
        MetricType::Histogram,
        [(Labels::new(), Observed(&s.ipvs.apply_latency))],
    )?;
    gauges(
        enc,
        "lvsdeck_service_quorum_up",
        "1 while a virtual service has its quorum of live weight.",
        svcs,
        |sv| Some((service(sv), i64::from(sv.quorum_up))),
    )?;
    gauges(
        enc,
        "lvsdeck_service_sorry_server_active",
        "1 while a virtual service sends to its sorry server.",
        svcs,
        |sv| Some((service(sv), i64::from(sv.sorry_active))),
    )?;
    gauges(
        enc,
        "lvsdeck_service_current_connections",
        "Connections of a virtual service now, by state (active, inactive).",
        svcs.iter().flat_map(|sv| {
            [("active", sv.active_conns), ("inactive", sv.inactive_conns)].map(|x| (sv, x))
        }),
        |(sv, (state, n))| {
            let mut l = service(sv);
            l.push(("state", state.to_string()));
            Some((l, n))
        },
    )?;
    totals(
        enc,
        "service",
        svcs.iter().map(|sv| (service(sv), sv.totals)),
    )?;
    gauges(
        enc,
        "lvsdeck_real_current_connections",
        "Connections of a real server now, by state (active, inactive).",
        reals().flat_map(|(sv, r)| {
            [("active", r.active_conns), ("inactive", r.inactive_conns)].map(|x| (sv, r, x))
        }),
        |(sv, r, (state, n))| {
            let mut l = real(sv, r);
            l.push(("state", state.to_string()));
            Some((l, n))
        },
    )?;
    totals(enc, "real", reals().map(|(sv, r)| (real(sv, r), r.totals)))?;
    gauges(
        enc,
        "lvsdeck_real_weight",
        "A real server's weight in the kernel now.",
        reals(),
        |(sv, r)| Some((real(sv, r), i64::from(r.weight))),
    )?;
    gauges(
        enc,
        "lvsdeck_real_configured_weight",
        "A real server's weight in the configuration.",
        reals(),
        |(sv, r)| Some((real(sv, r), i64::from(r.configured_weight))),
    )?;
    gauges(
        enc,
        "lvsdeck_real_up",
        "1 while a real server's health checks pass (0: down or not yet checked).",
        reals(),
        |(sv, r)| Some((real(sv, r), i64::from(r.health == RealHealth::Up))),
    )?;
    gauges(
        enc,
        "lvsdeck_real_drained",
        "1 while an operator has drained the real server (weight 0, sticky).",
        reals(),
        |(sv, r)| Some((real(sv, r), i64::from(r.drain.is_some()))),
    )?;
    gauges(
        enc,
        "lvsdeck_real_weight_override",
        "An operator's weight for the real server, while set.",
        reals(),
        |(sv, r)| Some((real(sv, r), i64::from(r.weight_override.as_ref()?.value))),
    )?;
    gauges(
        enc,
        "lvsdeck_real_check_duration_seconds",
        "How long the real server's last health check took.",
        reals(),
        |(sv, r)| Some((real(sv, r), r.last_check.as_ref()?.latency_ms / 1000.0)),
    )?;
    gauges(
        enc,
        "lvsdeck_real_check_success",
        "1 when the real server's last health check passed, 0 when it failed.",
        reals(),
        |(sv, r)| Some((real(sv, r), i64::from(r.last_check.as_ref()?.ok))),
    )?;
    gauges(
        enc,
        "lvsdeck_real_last_check_timestamp_seconds",
        "When the real server was last checked (Unix time).",
        reals(),
        |(sv, r)| Some((real(sv, r), seconds(r.last_check.as_ref()?.at_ms))),
    )?;
    gauges(
        enc,
        "lvsdeck_real_health_changed_timestamp_seconds",
        "When the real server last went up or down (Unix time; absent if it has not since the start).",
        reals(),
        |(sv, r)| Some((real(sv, r), seconds(r.health_changed_at_ms?))),
    )
}

/// The kernel's counters of services or real servers (`kind`: "service" or "real").
fn totals(
    enc: &mut DescriptorEncoder,
    kind: &str,
    items: impl Iterator<Item = (Labels, Totals)> + Clone,
) -> fmt::Result {
    type Pick = fn(&Totals) -> u64;
    let all: [(&str, &str, Pick); 5] = [
        (
            "connections",
            "Connections scheduled since IPVS created it.",
            |t| t.conns,
        ),
        ("incoming_packets", "Packets from clients.", |t| {
            t.in_packets
        }),
        (
            "outgoing_packets",
            "Packets to clients (NAT only: DR and TUN replies bypass the director).",
            |t| t.out_packets,
        ),
        ("incoming_bytes", "Bytes from clients.", |t| t.in_bytes),
        ("outgoing_bytes", "Bytes to clients (NAT only).", |t| {
            t.out_bytes
        }),
    ];
    for (what, help, pick) in all {
        counters(
            enc,
            &format!("lvsdeck_{kind}_{what}"),
            help,
            items.clone(),
            |(l, t)| Some((l, pick(&t))),
        )?;
    }
    Ok(())
}

/// The exposition text of one snapshot at `now_ms` (OpenMetrics).
pub fn render(s: &Snapshot, now_ms: u64) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Scrape {
        snapshot: s.clone(),
        now_ms,
    }));
    let mut out = String::new();
    prometheus_client::encoding::text::encode(&mut out, &registry)
        .expect("writing to a String cannot fail");
    out
}

/// The largest request head read.
const MAX_HEAD: usize = 16 * 1024;
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
const CLASSIC: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The classic Prometheus text format (0.0.4) of OpenMetrics text, for clients that do not
/// ask for OpenMetrics (curl, promtool): a counter's family is named with its `_total`, as its
/// samples are, and there is no `# EOF`. Gauges and histograms read the same in both.
pub fn to_classic(open: &str) -> String {
    let counters: std::collections::HashSet<&str> = open
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(open.len() + 64 * counters.len());
    for line in open.lines() {
        if line == "# EOF" {
            continue;
        }
        let meta = ["# HELP ", "# TYPE "]
            .into_iter()
            .find_map(|p| Some((p, line.strip_prefix(p)?)));
        match meta {
            Some((prefix, rest))
                if counters.contains(rest.split(' ').next().unwrap_or_default()) =>
            {
                let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
                out.push_str(&format!("{prefix}{name}_total {tail}\n"));
            }
            _ => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out
}

/// The answer to one request head: `GET /metrics` (or `/`) gets the metrics, in OpenMetrics
/// when the client accepts it (Prometheus does), else in the classic text format.
fn respond(head: &[u8], body: impl FnOnce() -> String) -> String {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut req = httparse::Request::new(&mut headers);
    let parsed = match req.parse(head) {
        Ok(httparse::Status::Complete(_)) => Ok(()),
        Ok(httparse::Status::Partial) if head.len() >= MAX_HEAD => {
            Err("431 Request Header Fields Too Large")
        }
        Ok(httparse::Status::Partial) | Err(_) => Err("400 Bad Request"),
    };
    let openmetrics = req.headers.iter().any(|h| {
        h.name.eq_ignore_ascii_case("accept")
            && String::from_utf8_lossy(h.value).contains("application/openmetrics-text")
    });
    let (status, ctype, body) = match parsed {
        Ok(_) => match (req.method, req.path) {
            (Some("GET" | "HEAD"), Some("/metrics" | "/")) if openmetrics => {
                ("200 OK", OPENMETRICS, body())
            }
            (Some("GET" | "HEAD"), Some("/metrics" | "/")) => {
                ("200 OK", CLASSIC, to_classic(&body()))
            }
            (Some("GET" | "HEAD"), _) => ("404 Not Found", "text/plain", "try /metrics\n".into()),
            _ => ("405 Method Not Allowed", "text/plain", "GET only\n".into()),
        },
        Err(status) => (
            status,
            "text/plain",
            "a whole HTTP request head, please\n".into(),
        ),
    };
    // HEAD: the length GET would have, no body.
    let length = body.len();
    let body = if req.method == Some("HEAD") {
        String::new()
    } else {
        body
    };
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n{body}"
    )
}

/// Serve the metrics until the process ends.
pub async fn serve(
    listen: SocketAddr,
    snapshot: watch::Receiver<std::sync::Arc<Snapshot>>,
) -> std::io::Result<()> {
    let listener = TcpListener::bind(listen).await?;
    tracing::info!("metrics at http://{listen}/metrics");
    loop {
        // A failed accept (no file descriptor free, a connection reset while queued) costs
        // that one scrape, never the endpoint.
        let (mut stream, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!("metrics: accept: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let snapshot = snapshot.clone();
        tokio::spawn(async move {
            let mut head = Vec::with_capacity(1024);
            let mut buf = [0u8; 1024];
            // The request head, bounded in size and time.
            let read = tokio::time::timeout(std::time::Duration::from_secs(2), async {
                while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < MAX_HEAD {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
            });
            if read.await.is_err() {
                tracing::debug!("metrics: {peer} sent no request in 2 s");
                return;
            }
            // Encoding a large table takes a while (378 ms for 40,000 real servers, see
            // docs/metrics.md): off the runtime's thread, which also runs VRRP's timers.
            let answer = tokio::task::spawn_blocking(move || {
                respond(&head, || {
                    let s = snapshot.borrow().clone();
                    render(&s, super::snapshot::now_ms())
                })
            })
            .await;
            let Ok(answer) = answer else { return };
            let _ = stream.write_all(answer.as_bytes()).await;
        });
    }
}

#[cfg(test)]
mod tests;

mod bfd;
mod bgp;
