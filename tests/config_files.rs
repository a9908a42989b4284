//! Configuration files through the real binary and the library: fixtures, the seed, the
//! import round trip, and keepalived's own sample configs.
//!
//! The second half reads keepalived.conf with keepalived 2.2.7's leniency: each fixture of
//! `tests/configs/lenient/` loads with exactly the warnings of its `.expected` (file:line:col),
//! `check --strict` refuses it with the same lines as errors, and the model is what keepalived
//! would run. What keepalived says about each file was taken from `keepalived -t -f FILE`.

#[path = "support/mod.rs"]
mod support;

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use assert_cmd::cargo::CommandCargoExt;
use lvsdeck::config::model::*;
use lvsdeck::config::validate::{FsProbe, NoProbe};
use lvsdeck::config::{self, Config, to_toml};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn lvsdeck(args: &[&str]) -> std::process::Output {
    Command::cargo_bin("lvsdeck")
        .unwrap()
        .args(args)
        .current_dir(root())
        .output()
        .unwrap()
}

fn files_in(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_none_or(|e| e != "expected"))
        .collect();
    files.sort();
    files
}

/// `../shared/...` when the project sits beside it; in CI a missing folder is a failure.
fn shared(rel: &str) -> Option<PathBuf> {
    let p = root().join("../shared").join(rel);
    if p.exists() {
        return Some(p);
    }
    support::skip(&format!("{} not found", p.display()));
    None
}

#[test]
fn invalid_fixtures_report_every_error_at_its_exact_place() {
    let files = files_in("tests/configs/invalid");
    assert!(files.len() >= 10);
    for file in files {
        let rel = file
            .strip_prefix(root())
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        let out = lvsdeck(&["check", &rel]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{rel} should be refused:\n{stderr}"
        );
        let got: Vec<&str> = stderr
            .lines()
            .filter(|l| l.starts_with(&format!("{rel}:")) && l.contains(": error: "))
            .collect();
        let expected_file = file.with_extension("expected");
        let expected = std::fs::read_to_string(&expected_file).unwrap();
        let expected: Vec<&str> = expected.lines().collect();
        assert_eq!(
            got,
            expected,
            "{rel}: diagnostics differ from {}",
            expected_file.display()
        );
        assert!(stderr.contains("invalid:"), "{rel}: no closing line");
    }
}

#[test]
fn valid_fixtures_examples_and_seed_pass() {
    let mut files = files_in("tests/configs/valid");
    files.extend(files_in("config/examples"));
    files.push(root().join("config/lvsdeck.toml"));
    files.push(root().join("config/keepalived.conf"));
    if let Some(seed) = shared("seed") {
        files.push(seed.join("keepalived-master.conf"));
        files.push(seed.join("keepalived-backup.conf"));
    }
    for file in files {
        let out = lvsdeck(&["check", file.to_str().unwrap()]);
        assert!(
            out.status.success(),
            "{} should be valid:\n{}",
            file.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains(": valid ("));
    }
}

/// keepalived 2.2.7 reads nb_get_retry in HTTP_GET / SSL_GET only (`keepalived -t` on the seed:
/// "(config/keepalived.conf: Line 40) Unknown keyword 'nb_get_retry'"), so the seed's TCP checks
/// keep retry 1; lvsdeck says so at the line and does the same.
#[test]
fn seed_nb_get_retry_in_tcp_check_is_ignored_as_keepalived_does() {
    let out = lvsdeck(&["check", "config/keepalived.conf"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "config/keepalived.conf:40:1: warning: unknown keyword `nb_get_retry`: ignored, as \
             keepalived does"
        ),
        "{stderr}"
    );
}

/// keepalived disables a tracking script whose program is missing and starts anyway; so does
/// lvsdeck, with a warning at the script's place (in TOML a missing notify or check script stays
/// an error; a keepalived.conf leaves it out with a warning, below).
#[test]
fn a_tracking_script_without_its_program_is_disabled_with_a_warning() {
    let dir = std::env::temp_dir().join(format!("lvsdeck-cf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("missing_script.toml");
    std::fs::write(
        &file,
        "[vrrp_script.chk_httpd]\nscript = \"/nonexistent/curl -s http://127.0.0.1/\"\n\n\
         [vrrp_instance.VI_1]\ninterface = \"eth0\"\nvirtual_router_id = 51\n\
         virtual_ipaddress = [{ address = \"10.0.0.100/24\" }]\ntrack_script = [{ name = \"chk_httpd\" }]\n",
    )
    .unwrap();
    let out = lvsdeck(&["check", file.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(out.status.success(), "a warning, not an error: {stderr}");
    assert!(
        stderr.contains(&format!(
            "{}:2:10: warning: script `/nonexistent/curl` is not found: vrrp_script chk_httpd is \
             disabled, as keepalived does; the instances tracking it keep their priority",
            file.display()
        )),
        "{stderr}"
    );
}

fn load(path: &Path) -> Config {
    match config::load_file(path, &NoProbe) {
        Ok(l) => l.config,
        Err(d) => panic!("{} does not load:\n{d}", path.display()),
    }
}

/// Rename instances and scripts to neutral names so two models compare by content.
fn without_names(mut c: Config) -> Config {
    let scripts: Vec<String> = c.vrrp_script.keys().cloned().collect();
    c.vrrp_script = c
        .vrrp_script
        .into_values()
        .enumerate()
        .map(|(i, s)| (format!("s{i}"), s))
        .collect();
    c.vrrp_instance = c
        .vrrp_instance
        .into_values()
        .enumerate()
        .map(|(i, mut inst)| {
            for t in &mut inst.track_script {
                t.name = format!("s{}", scripts.iter().position(|s| *s == t.name).unwrap());
            }
            (format!("i{i}"), inst)
        })
        .collect();
    c.global.router_id = None;
    c
}

#[test]
fn importing_the_seed_gives_the_model_of_config_lvsdeck_toml() {
    let native = without_names(load(&root().join("config/lvsdeck.toml")));
    let imported = without_names(load(&root().join("config/keepalived.conf")));
    assert_eq!(imported, native);
    if let Some(seed) = shared("seed/keepalived-master.conf") {
        assert_eq!(without_names(load(&seed)), native);
    }
}

fn assert_round_trip(path: &Path, cfg: &Config) {
    let text = to_toml(cfg, &path.display().to_string());
    let back = config::load_text(Path::new("imported.toml"), text.clone(), &NoProbe)
        .unwrap_or_else(|d| {
            panic!(
                "import of {} does not load back:\n{d}\n{text}",
                path.display()
            )
        });
    assert_eq!(
        &back.config,
        cfg,
        "round trip of {} changed the model",
        path.display()
    );
}

#[test]
fn import_then_load_gives_the_same_model() {
    let mut files = files_in("tests/configs/valid");
    files.push(root().join("config/keepalived.conf"));
    files.extend(files_in("config/examples"));
    for file in files {
        assert_round_trip(&file, &load(&file));
    }
}

#[test]
fn import_command_prints_toml_that_checks() {
    let out = lvsdeck(&["import", "config/keepalived.conf"]);
    assert!(out.status.success());
    let toml = String::from_utf8(out.stdout).unwrap();
    assert!(toml.starts_with("# lvsdeck configuration, imported from config/keepalived.conf."));
    let dir = std::env::temp_dir().join(format!("lvsdeck-import-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("imported.toml");
    std::fs::write(&file, toml).unwrap();
    let out = lvsdeck(&["check", file.to_str().unwrap()]);
    std::fs::remove_dir_all(&dir).ok();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn keepalived_samples_import_or_are_refused_with_file_line_and_keyword() {
    let Some(dir) = shared("corpus/keepalived-samples") else {
        return;
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 20);
    let (mut imported, mut refused) = (0, 0);
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        match config::load_text(file, text, &NoProbe) {
            Ok(loaded) => {
                imported += 1;
                assert_round_trip(file, &loaded.config);
            }
            Err(diags) => {
                refused += 1;
                for d in diags.errors() {
                    let loc = d.location.as_ref().unwrap_or_else(|| {
                        panic!("{}: error without a place: {d}", file.display())
                    });
                    assert_eq!(&loc.file, file);
                    assert!(loc.line > 0 && loc.column > 0);
                }
                assert!(
                    diags.errors().any(|d| d.message.contains("not supported")),
                    "{}: refused without naming the unsupported keyword:\n{diags}",
                    file.display()
                );
            }
        }
    }
    eprintln!("keepalived samples: {imported} imported, {refused} refused");
    assert!(imported >= 12, "only {imported} samples imported");
}

#[test]
fn scripts_writable_by_others_are_refused_under_script_security() {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("lvsdeck-script-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let script = dir.join("check.sh");
    std::fs::write(&script, "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o777)).unwrap();
    let conf = dir.join("c.toml");
    std::fs::write(
        &conf,
        format!(
            "[global]\nenable_script_security = true\n\n[vrrp_script.chk]\nscript = \"{}\"\n",
            script.display()
        ),
    )
    .unwrap();
    let out = lvsdeck(&["check", conf.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains(&format!(
            "c.toml:5:10: error: script `{}` is writable by users other than root",
            script.display()
        )),
        "{stderr}"
    );
}

// ---------------------------------------------------------------------------------------------
// keepalived.conf read as keepalived 2.2.7 reads it.

const DIR: &str = "tests/configs/lenient";

/// The summary lines of one severity about `rel`.
fn lines(stderr: &str, rel: &str, severity: &str) -> Vec<String> {
    stderr
        .lines()
        .filter(|l| l.starts_with(&format!("{rel}:")) && l.contains(&format!(": {severity}: ")))
        .map(String::from)
        .collect()
}

#[test]
fn lenient_fixtures_load_with_exactly_their_warnings_and_strict_refuses_them() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join(DIR))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "conf"))
        .collect();
    files.sort();
    assert!(files.len() >= 7);
    for file in files {
        let rel = format!("{DIR}/{}", file.file_name().unwrap().to_str().unwrap());
        let expected = std::fs::read_to_string(file.with_extension("expected")).unwrap();
        let expected: Vec<String> = expected.lines().map(String::from).collect();

        let out = lvsdeck(&["check", &rel]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{rel} should load:\n{stderr}");
        assert_eq!(
            lines(&stderr, &rel, "warning"),
            expected,
            "{rel}:\n{stderr}"
        );

        let out = lvsdeck(&["check", "--strict", &rel]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let as_errors: Vec<String> = expected
            .iter()
            .map(|l| l.replacen(": warning: ", ": error: ", 1))
            .collect();
        assert_eq!(
            out.status.success(),
            expected.is_empty(),
            "{rel} --strict:\n{stderr}"
        );
        assert_eq!(lines(&stderr, &rel, "error"), as_errors, "{rel} --strict");
    }
}

fn load_lenient(name: &str) -> Config {
    let path = root().join(DIR).join(name);
    match config::load_file(&path, &FsProbe) {
        Ok(l) => l.config,
        Err(d) => panic!("{name} does not load:\n{d}"),
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn unknown_keywords_are_skipped_and_everything_else_converts() {
    let c = load_lenient("unknown_keywords.conf");
    let inst = &c.vrrp_instance["VI_1"];
    assert_eq!(inst.priority, 100, "`priorty` is not read");
    assert_eq!(inst.unicast_src_ip, None, "`mcast_src_ip=...` is not read");
    assert_eq!(inst.virtual_ipaddress.len(), 1);
    assert_eq!(c.global.router_id.as_deref(), Some("LB1"));
    assert_eq!(c.global.lvs_sync_daemon, None);
    // A bare word in a sync group is a keyword, never a member.
    assert_eq!(c.vrrp_sync_group["G1"].group, ["VI_1"]);
    let rs = &c.virtual_server[0].real_server[0];
    assert_eq!(rs.weight, 1, "`weigth` is not read");
    assert!(
        rs.check.is_empty(),
        "the block of `SMTP_CHEKC` is skipped with it"
    );
}

#[test]
fn authentication_is_what_keepalived_puts_on_the_wire() {
    let c = load_lenient("auth.conf");
    let pass = |name: &str| c.vrrp_instance[name].auth_pass.clone();
    assert_eq!(pass("VI_1").as_deref(), Some("toolongp"));
    assert_eq!(pass("VI_2"), None, "no auth_type: no authentication");
    assert_eq!(pass("VI_3"), None, "auth_type pass: no authentication");
    assert_eq!(pass("VI_4").as_deref(), Some("secret"));
    assert_eq!(pass("VI_5"), None, "strict mode: no authentication");
}

#[test]
fn bfd_instances_are_what_keepalived_runs() {
    use std::time::Duration;
    let c = load_lenient("bfd.conf");
    let names: Vec<&str> = c.bfd_instance.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        ["to_d2", "to_d3"],
        "the bad ones left out, as keepalived does"
    );
    let d2 = &c.bfd_instance["to_d2"];
    assert_eq!(d2.min_rx.0, Duration::from_millis(20));
    assert_eq!(
        d2.min_tx.0,
        Duration::from_micros(5123),
        "three decimals kept"
    );
    assert_eq!(
        d2.idle_tx.0,
        Duration::from_secs(1),
        "500 refused: the default"
    );
    assert_eq!(d2.multiplier, 5, "0 refused: the default");
    assert_eq!(d2.max_hops, 255, "-1: no TTL check");
    assert_eq!((d2.weight, d2.weight_reverse, d2.passive), (10, true, true));
    let d3 = &c.bfd_instance["to_d3"];
    assert_eq!(d3.neighbor_ip, "fd00::3".parse::<IpAddr>().unwrap());
    assert_eq!(d3.ttl, Some(255));
    let tracks: Vec<(&str, Option<i32>)> = c.vrrp_instance["VI_1"]
        .track_bfd
        .iter()
        .map(|t| (t.name.as_str(), t.weight))
        .collect();
    assert_eq!(tracks, [("to_d2", None), ("to_d3", Some(-20))]);
}

#[test]
fn missing_scripts_are_left_out_of_the_model_and_kept_by_import() {
    let c = load_lenient("missing_scripts.conf");
    assert_eq!(c.vrrp_sync_group["G1"].notify.master, None);
    let n = &c.vrrp_instance["VI_1"].notify;
    assert_eq!((n.master.as_deref(), n.any.as_deref()), (None, None));
    // Word 1 is the command line; `root root` are its user and group.
    assert_eq!(n.backup.as_deref(), Some("/bin/true"));
    let vs = &c.virtual_server[0];
    assert_eq!(vs.quorum_up, None);
    assert_eq!(vs.real_server[0].notify_down, None);
    let kinds: Vec<CheckKind> = vs.real_server[0].check.iter().map(|c| c.kind).collect();
    assert_eq!(
        kinds,
        [CheckKind::Tcp],
        "the MISC_CHECK without its script is removed"
    );
    assert!(
        vs.real_server[1].check.is_empty(),
        "so this server always counts as up"
    );

    // `import` does not probe (the file may be for another host): everything stays.
    let path = root().join(DIR).join("missing_scripts.conf");
    let text = std::fs::read_to_string(&path).unwrap();
    let c = config::load_text(&path, text, &NoProbe).unwrap().config;
    let n = &c.vrrp_instance["VI_1"].notify;
    assert_eq!(
        n.master.as_deref(),
        Some("/nonexistent/lvsdeck/notify.sh master")
    );
    assert_eq!(n.any.as_deref(), Some("/nonexistent/lvsdeck/notify.sh"));
    assert_eq!(c.virtual_server[0].real_server[1].check.len(), 1);
}

#[test]
fn values_and_check_settings_are_read_as_keepalived_reads_them() {
    let c = load_lenient("checks_and_case.conf");
    let inst = &c.vrrp_instance["VI_1"];
    assert_eq!(
        inst.state,
        InitialState::Backup,
        "`state master` starts as BACKUP"
    );
    assert_eq!(
        inst.unicast_src_ip,
        Some(ip("10.0.0.1")),
        "the /24 is dropped"
    );
    assert_eq!(inst.unicast_peer, [ip("10.0.0.2"), ip("10.0.0.3")]);
    let vs = &c.virtual_server[0];
    assert_eq!(vs.protocol, Protocol::Tcp, "protocol is read in any case");
    assert_eq!(vs.lvs_sched, "wlc", "`RR` falls back to wlc");
    assert_eq!(vs.lvs_method, ForwardMethod::Nat, "`dr` falls back to NAT");
    let rs = &vs.real_server[0];
    assert_eq!(rs.inhibit_on_failure, Some(false));
    let retry: Vec<u32> = rs.check.iter().map(|c| c.retry).collect();
    // TCP and MISC: nb_get_retry is not read, the virtual server's retry 4 applies; HTTP_GET
    // reads it as retry.
    assert_eq!(retry, [4, 3, 4]);
    assert!(
        rs.check[..2]
            .iter()
            .all(|c| c.connect_timeout == Dur::from_secs(7))
    );
    let udp = &c.virtual_server[1];
    assert_eq!(
        udp.protocol,
        Protocol::Udp,
        "no protocol: UDP, as keepalived 2.2.7"
    );
    assert_eq!(
        udp.real_server[0].lvs_method, None,
        "`nat` falls back to the service's"
    );
}

#[test]
fn global_defs_keywords_fill_the_model() {
    let c = load_lenient("global_defs.conf");
    let g = &c.global;
    assert!(
        g.enable_script_security,
        "`enable_script_security 1` turns it on"
    );
    assert!(g.vrrp_skip_check_adv_addr && g.vrrp_strict && g.vrrp_no_swap && g.checker_no_swap);
    assert_eq!(g.vrrp_garp_interval, Some(Dur::from_millis(1)));
    assert_eq!(g.vrrp_gna_interval, None, "0 is invalid and ignored");
    assert_eq!(g.vrrp_mcast_group4, Some("224.0.0.19".parse().unwrap()));
    assert_eq!(g.vrrp_mcast_group6, Some("ff02::1:2".parse().unwrap()));
    assert_eq!(g.default_interface.as_deref(), Some("eth1"));
    let sync = g.lvs_sync_daemon.as_ref().unwrap();
    assert_eq!(
        (
            sync.interface.as_str(),
            sync.instance.as_deref(),
            sync.sync_id
        ),
        ("eth1", Some("VI_1"), Some(7))
    );
    let vi1 = &c.vrrp_instance["VI_1"];
    assert!(vi1.skip_check_adv_addr);
    assert_eq!(vi1.strict_mode, Some(false));
    assert!(!vi1.strict(g));
    assert_eq!(
        vi1.auth_pass.as_deref(),
        Some("1234"),
        "strict_mode off keeps the password"
    );
    let vi2 = &c.vrrp_instance["VI_2"];
    assert!(vi2.strict(g));
    assert_eq!(vi2.mcast_dst_ip, Some(ip("224.0.0.20")));
    // The new fields survive the TOML form.
    let text = config::to_toml(&c, "global_defs.conf");
    let back = config::load_text(Path::new("back.toml"), text, &NoProbe).unwrap();
    assert_eq!(back.config, c);
}

#[test]
fn conditional_lines_follow_the_config_id() {
    let file = format!("{DIR}/conditional.conf");
    for (id, priority, state) in [("lb1", 150, "master"), ("lb2", 100, "backup")] {
        let out = lvsdeck(&["import", "--config-id", id, &file]);
        let toml = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            toml.contains(&format!("priority = {priority}\n")),
            "{id}:\n{toml}"
        );
        assert!(
            toml.contains(&format!("state = \"{state}\"\n")),
            "{id}:\n{toml}"
        );
    }
    let out = lvsdeck(&["-i", "lb1", "check", &file]);
    assert!(out.status.success());
}
