//! Under systemd the daemon logs to the journal, one record per event with its fields. The
//! journal here is a datagram socket of the test's, bound where journald's would be
//! (/run/systemd/journal/socket, in a mount namespace of the daemon's own), and
//! `JOURNAL_STREAM` names the daemon's stderr, as systemd sets it for a unit.

mod support;

use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixDatagram;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{TempDir, prerequisites, two_directors_and_a_client};

const CONF: &str = "vrrp_instance VI_1 {\n    state BACKUP\n    interface eth0\n    \
                    virtual_router_id 86\n    priority 100\n    advert_int 1\n    \
                    virtual_ipaddress {\n        10.86.0.100/24\n    }\n}\n";

/// The journal's native protocol: each field `NAME=value\n`, or `NAME\n`, the value's length
/// as 64-bit little-endian, the value and `\n` (the form for any value).
fn fields(mut d: &[u8]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    while let Some(nl) = d.iter().position(|&b| b == b'\n') {
        let line = &d[..nl];
        if let Some(eq) = line.iter().position(|&b| b == b'=') {
            let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
            out.push((text(&line[..eq]), text(&line[eq + 1..])));
            d = &d[nl + 1..];
            continue;
        }
        let Some(len) = d.get(nl + 1..nl + 9) else {
            break;
        };
        let len = u64::from_le_bytes(len.try_into().unwrap()) as usize;
        let Some(value) = d.get(nl + 9..nl + 9 + len) else {
            break;
        };
        out.push((
            String::from_utf8_lossy(line).into_owned(),
            String::from_utf8_lossy(value).into_owned(),
        ));
        d = d.get(nl + 10 + len..).unwrap_or(&[]);
    }
    out
}

#[test]
fn events_reach_the_journal_as_structured_records() {
    if !prerequisites("journald logging", &["ip", "unshare", "mount"]) {
        return;
    }
    let topo = two_directors_and_a_client("jd", 86);
    let dir = TempDir::new("jd");
    let journal_dir = dir.0.join("journal");
    std::fs::create_dir_all(&journal_dir).unwrap();
    let journal = UnixDatagram::bind(journal_dir.join("socket")).unwrap();
    journal
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let conf = dir.write("d1.conf", CONF);
    let stderr = std::fs::File::create(dir.0.join("stderr")).unwrap();
    let meta = stderr.metadata().unwrap();
    // A private /run with the test's journal socket where journald's would be.
    let script = format!(
        "mount -t tmpfs none /run && mkdir -p /run/systemd/journal /run/netns && \
         mount --bind {} /run/systemd/journal && exec {} --daemon -c {} --socket {}",
        journal_dir.display(),
        support::lvsdeck_bin(),
        conf.display(),
        dir.0.join("d1.sock").display()
    );
    let mut daemon = topo
        .command("d1", "unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", &script])
        .env("JOURNAL_STREAM", format!("{}:{}", meta.dev(), meta.ino()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let mut records = Vec::new();
    let start = Instant::now();
    let mut buf = vec![0u8; 65536];
    let mut became_master = false;
    while start.elapsed() < Duration::from_secs(15) && !became_master {
        if let Ok(n) = journal.recv(&mut buf) {
            let f = fields(&buf[..n]);
            became_master = f.iter().any(|(k, v)| k == "KIND" && v == "vrrp")
                && f.iter()
                    .any(|(k, v)| k == "MESSAGE" && v.contains("-> MASTER"));
            records.push(f);
        }
    }
    let _ = Command::new("kill").arg(daemon.id().to_string()).status();
    let _ = daemon.wait();
    let stderr = std::fs::read_to_string(dir.0.join("stderr")).unwrap_or_default();
    assert!(
        became_master,
        "no structured record of the transition to MASTER in {} records: {records:#?}\nstderr:\n{stderr}",
        records.len()
    );
    let record = records.last().unwrap();
    let get = |k: &str| {
        record
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(get("SUBJECT"), Some("VI_1"), "{record:#?}");
    assert_eq!(get("SYSLOG_IDENTIFIER"), Some("lvsdeck"), "{record:#?}");
    // tracing-journald writes INFO as 5 (notice), WARN as 4.
    assert_eq!(get("PRIORITY"), Some("5"), "{record:#?}");
    // The journal took the log: nothing of it on stderr.
    assert!(!stderr.contains("-> MASTER"), "also on stderr:\n{stderr}");
}
