//! Configuration files through the real binary and the library: fixtures, the seed, the
//! import round trip, and keepalived's own sample configs.

#[path = "support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use assert_cmd::cargo::CommandCargoExt;
use lvsdeck::config::validate::NoProbe;
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

#[test]
fn seed_nb_get_retry_is_read_as_retry_with_a_warning_naming_the_line() {
    let out = lvsdeck(&["check", "config/keepalived.conf"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "config/keepalived.conf:40:1: warning: `nb_get_retry` is deprecated; read as `retry`"
        ),
        "{stderr}"
    );
}

/// keepalived disables a tracking script whose program is missing and starts anyway; so does
/// lvsdeck, with a warning at the script's place (a notify or check script stays an error).
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
