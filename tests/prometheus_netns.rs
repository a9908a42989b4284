//! Debian's Prometheus scrapes two lvsdeck daemons in namespaces, and its query API shows the
//! series with the right values after a failed check, a drain and a hand-over; `promtool
//! check metrics` finds nothing to say about the endpoint's output. This kernel has no IPVS:
//! the VRRP, health and operator series are what is asserted (the IPVS counters are in the
//! unit tests of `src/engine/metrics.rs`).

mod support;

use std::process::{Command, Stdio};
use std::time::Duration;

use lvsdeck::lab::netns::Topology;
use serde_json::Value;
use support::{Proc, TempDir, prerequisites, two_directors_and_a_client, wait_until};

fn conf(dir: &TempDir, host: &str, addr: &str, priority: u8) -> String {
    format!(
        "[global]\nrouter_id = \"{host}\"\ncontrol_socket = \"{}\"\nmetrics_listen = \"{addr}:9101\"\n\n\
         [vrrp_instance.VI_1]\ninterface = \"eth0\"\nvirtual_router_id = 89\npriority = {priority}\n\
         advert_int = \"1s\"\nvirtual_ipaddress = [{{ address = \"10.89.0.100/24\" }}]\n\n\
         [[virtual_server]]\nip = \"10.89.0.100\"\nport = 80\ndelay_loop = \"1s\"\n\n\
         [[virtual_server.real_server]]\nip = \"10.89.0.10\"\nport = 80\n\
         check = [{{ type = \"tcp\", connect_timeout = \"1s\" }}]\n\n\
         [[virtual_server.real_server]]\nip = \"10.89.0.99\"\nport = 80\n\
         check = [{{ type = \"tcp\", connect_timeout = \"1s\" }}]\n",
        dir.0.join(format!("{host}.sock")).display()
    )
}

/// An instant query against Prometheus (in the client's namespace): each series' labels and
/// value.
fn query(topo: &Topology, q: &str) -> Vec<(Value, f64)> {
    let out = topo
        .command("client", "curl")
        .args(["-s", "--get", "http://127.0.0.1:9090/api/v1/query"])
        .args(["--data-urlencode", &format!("query={q}")])
        .output()
        .expect("curl");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    v["data"]["result"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| {
            let value = r["value"][1].as_str()?.parse().ok()?;
            Some((r["metric"].clone(), value))
        })
        .collect()
}

/// Waits until `q` returns exactly one series whose value is `want`.
fn wait_value(topo: &Topology, q: &str, want: f64) {
    let seen = wait_until(
        Duration::from_secs(30),
        || matches!(query(topo, q).as_slice(), [(_, v)] if *v == want),
    );
    assert!(
        seen.is_some(),
        "Prometheus never had {q} = {want}; it has {:?}",
        query(topo, q)
    );
}

fn ctl(dir: &TempDir, host: &str, args: &[&str]) {
    let out = Command::new(support::lvsdeck_bin())
        .args([
            "--socket",
            dir.0.join(format!("{host}.sock")).to_str().unwrap(),
            "ctl",
        ])
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "ctl {args:?}: {out:?}");
}

#[test]
fn prometheus_scrapes_the_daemons_and_sees_drain_handover_and_failed_check() {
    if !prerequisites(
        "Prometheus scraping",
        &["ip", "prometheus", "promtool", "curl"],
    ) {
        return;
    }
    let topo = two_directors_and_a_client("pm", 89);
    let dir = TempDir::new("pm");
    // The first real server is the client's web node; the second does not exist.
    let web = Proc::spawn(
        &topo,
        "client",
        support::lvsdeck_bin(),
        &["lab-node", "--name", "web", "--listen", "10.89.0.10:80"],
        dir.0.join("web.log"),
    );
    let d1 = support::lvsdeck_daemon(
        &topo,
        "d1",
        &dir.write("d1.toml", &conf(&dir, "d1", "10.89.0.71", 150)),
        &dir,
    );
    let d2 = support::lvsdeck_daemon(
        &topo,
        "d2",
        &dir.write("d2.toml", &conf(&dir, "d2", "10.89.0.70", 100)),
        &dir,
    );
    let prom_conf = dir.write(
        "prometheus.yml",
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: lvsdeck\n    \
         static_configs:\n      - targets: ['10.89.0.71:9101', '10.89.0.70:9101']\n",
    );
    let prometheus = topo
        .command("client", "prometheus")
        .arg(format!("--config.file={}", prom_conf.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.0.join("tsdb").display()
        ))
        .arg("--web.listen-address=127.0.0.1:9090")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.0.join("prometheus.log")).unwrap())
        .spawn()
        .expect("prometheus");
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _prometheus = Kill(prometheus);

    // Both targets scraped; d1 master.
    wait_value(&topo, "count(up{job=\"lvsdeck\"} == 1)", 2.0);
    wait_value(
        &topo,
        "lvsdeck_vrrp_state{vrrp_instance=\"VI_1\",instance=\"10.89.0.71:9101\"}",
        2.0,
    );
    // The failed check: the missing server is down on both, the web node up.
    let missing = "real=\"10.89.0.99:80\",instance=\"10.89.0.71:9101\"";
    wait_value(&topo, &format!("lvsdeck_real_up{{{missing}}}"), 0.0);
    wait_value(
        &topo,
        &format!("lvsdeck_real_check_success{{{missing}}}"),
        0.0,
    );
    wait_value(
        &topo,
        "lvsdeck_real_up{real=\"10.89.0.10:80\",instance=\"10.89.0.71:9101\"}",
        1.0,
    );
    // A drain, as an operator gauge.
    ctl(
        &dir,
        "d1",
        &["drain", "TCP  10.89.0.100:80", "10.89.0.10:80"],
    );
    wait_value(
        &topo,
        "lvsdeck_real_drained{real=\"10.89.0.10:80\",instance=\"10.89.0.71:9101\"}",
        1.0,
    );
    // A hand-over: d1 counts it and lets go, d2 becomes master.
    ctl(&dir, "d1", &["handover", "VI_1"]);
    wait_value(
        &topo,
        "lvsdeck_vrrp_handovers_total{instance=\"10.89.0.71:9101\"}",
        1.0,
    );
    wait_value(
        &topo,
        "lvsdeck_vrrp_state{instance=\"10.89.0.70:9101\"}",
        2.0,
    );
    wait_value(
        &topo,
        "lvsdeck_vrrp_released_master_total{instance=\"10.89.0.71:9101\"}",
        1.0,
    );
    wait_value(
        &topo,
        "lvsdeck_vrrp_became_master_total{instance=\"10.89.0.70:9101\"}",
        1.0,
    );

    // promtool on what the endpoint serves.
    let scraped = topo
        .command("client", "curl")
        .args(["-s", "http://10.89.0.71:9101/metrics"])
        .output()
        .unwrap()
        .stdout;
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    promtool.stdin.take().unwrap().write_all(&scraped).unwrap();
    let checked = promtool.wait_with_output().unwrap();
    assert!(
        checked.status.success() && checked.stdout.is_empty() && checked.stderr.is_empty(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
    drop((d1, d2, web));
}
