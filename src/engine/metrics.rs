//! Prometheus text metrics, off unless `global.metrics_listen` names an address. Rendered from
//! the Snapshot (pure), served by a minimal HTTP responder on its own task.

use std::fmt::Write;
use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::snapshot::{Snapshot, VrrpView};

fn esc(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The exposition text for one snapshot.
pub fn render(s: &Snapshot) -> String {
    let mut o = String::new();
    let family = |o: &mut String, name: &str, kind: &str, help: &str| {
        let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} {kind}");
    };
    // The VRRP families: one series per instance (and per label value where there are more).
    type Series = (&'static str, fn(&VrrpView) -> u64);
    let state = |v: &VrrpView| match v.state.as_str() {
        "BACKUP" => 1,
        "MASTER" => 2,
        "FAULT" => 3,
        _ => 0,
    };
    let vrrp: [(&str, &str, &str, &[Series]); 5] = [
        (
            "lvsdeck_vrrp_vip_repairs_total",
            "counter",
            "VIPs put back on the master or taken off a backup after someone else changed them.",
            &[("", |v| v.vip_repairs)],
        ),
        (
            "lvsdeck_vrrp_state",
            "gauge",
            "VRRP state: 0 init, 1 backup, 2 master, 3 fault.",
            &[("", state)],
        ),
        (
            "lvsdeck_vrrp_effective_priority",
            "gauge",
            "Priority advertised now.",
            &[("", |v| u64::from(v.effective_priority))],
        ),
        (
            "lvsdeck_vrrp_became_master_total",
            "counter",
            "Transitions to MASTER.",
            &[("", |v| v.became_master)],
        ),
        (
            "lvsdeck_vrrp_adverts_total",
            "counter",
            "Adverts by direction.",
            &[
                (",direction=\"in\"", |v| v.adverts_in),
                (",direction=\"out\"", |v| v.adverts_out),
            ],
        ),
    ];
    for (name, kind, help, series) in vrrp {
        family(&mut o, name, kind, help);
        for v in &s.vrrp {
            for (labels, value) in series {
                let _ = writeln!(
                    o,
                    "{name}{{instance=\"{}\"{labels}}} {}",
                    esc(&v.name),
                    value(v)
                );
            }
        }
    }
    family(
        &mut o,
        "lvsdeck_ipvs_available",
        "gauge",
        "1 when the kernel has IPVS.",
    );
    let _ = writeln!(o, "lvsdeck_ipvs_available {}", u8::from(s.ipvs.available));
    family(
        &mut o,
        "lvsdeck_service_connections",
        "gauge",
        "Connections of a virtual service by state.",
    );
    family(
        &mut o,
        "lvsdeck_service_cps",
        "gauge",
        "New connections per second of a virtual service.",
    );
    family(
        &mut o,
        "lvsdeck_real_connections",
        "gauge",
        "Connections of a real server by state.",
    );
    family(
        &mut o,
        "lvsdeck_real_weight",
        "gauge",
        "Weight of a real server in the kernel.",
    );
    family(
        &mut o,
        "lvsdeck_real_up",
        "gauge",
        "1 when a real server's health checks pass.",
    );
    family(
        &mut o,
        "lvsdeck_real_check_latency_seconds",
        "gauge",
        "Latency of the last health check.",
    );
    for svc in &s.ipvs.services {
        let sv = esc(&svc.key);
        let _ = writeln!(
            o,
            "lvsdeck_service_connections{{service=\"{sv}\",state=\"active\"}} {}",
            svc.active_conns
        );
        let _ = writeln!(
            o,
            "lvsdeck_service_connections{{service=\"{sv}\",state=\"inactive\"}} {}",
            svc.inactive_conns
        );
        let _ = writeln!(o, "lvsdeck_service_cps{{service=\"{sv}\"}} {}", svc.cps);
        for r in &svc.reals {
            let labels = format!("service=\"{sv}\",real=\"{}:{}\"", esc(&r.address), r.port);
            let _ = writeln!(
                o,
                "lvsdeck_real_connections{{{labels},state=\"active\"}} {}",
                r.active_conns
            );
            let _ = writeln!(
                o,
                "lvsdeck_real_connections{{{labels},state=\"inactive\"}} {}",
                r.inactive_conns
            );
            let _ = writeln!(o, "lvsdeck_real_weight{{{labels}}} {}", r.weight);
            let _ = writeln!(
                o,
                "lvsdeck_real_up{{{labels}}} {}",
                u8::from(r.health == "up")
            );
            if let Some(c) = &r.last_check {
                let _ = writeln!(
                    o,
                    "lvsdeck_real_check_latency_seconds{{{labels}}} {}",
                    c.latency_ms / 1000.0
                );
            }
        }
    }
    o
}

/// Serve `GET /metrics` (any path, in fact) until the process ends.
pub async fn serve(listen: SocketAddr, snapshot: watch::Receiver<Snapshot>) -> std::io::Result<()> {
    let listener = TcpListener::bind(listen).await?;
    tracing::info!("metrics at http://{listen}/metrics");
    loop {
        let (mut stream, _) = listener.accept().await?;
        let body = render(&snapshot.borrow());
        tokio::spawn(async move {
            let mut buf = [0u8; 2048];
            let _ = tokio::time::timeout(std::time::Duration::from_secs(2), stream.read(&mut buf))
                .await;
            let head = format!(
                "HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes()).await;
            let _ = stream.write_all(body.as_bytes()).await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_metrics() {
        let text = render(&Snapshot::sample(1_800_000_000_000));
        assert!(text.contains("lvsdeck_vrrp_state{instance=\"VI_1\"} 2\n"));
        assert!(text.contains(
            "lvsdeck_real_up{service=\"TCP  192.168.10.100:80\",real=\"192.168.10.72:80\"} 1\n"
        ));
        assert!(text.contains("# TYPE lvsdeck_service_cps gauge"));
        let s = Snapshot::sample(1_800_000_000_000);
        let v = &s.vrrp[0];
        for line in [
            "# TYPE lvsdeck_vrrp_adverts_total counter".to_string(),
            format!(
                "lvsdeck_vrrp_effective_priority{{instance=\"VI_1\"}} {}",
                v.effective_priority
            ),
            format!(
                "lvsdeck_vrrp_adverts_total{{instance=\"VI_1\",direction=\"in\"}} {}",
                v.adverts_in
            ),
            format!(
                "lvsdeck_vrrp_adverts_total{{instance=\"VI_1\",direction=\"out\"}} {}",
                v.adverts_out
            ),
        ] {
            assert!(text.contains(&format!("{line}\n")), "{line} in:\n{text}");
        }
    }
}
