//! The Debian package as an operator meets it: `packaging/build-deb` (cargo-deb) builds it
//! from the test build, `dpkg -i` installs it on this machine, the unit passes `systemd-analyze
//! verify`, the man pages render, the configuration is a conffile, the service is neither
//! enabled nor started, and `dpkg -r` / `dpkg -P` take it all away again.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"))
}

fn ok(program: &str, args: &[&str]) -> String {
    let out = run(program, args);
    assert!(
        out.status.success(),
        "`{program} {}` failed: {}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Purge the package whatever happens, so a failed test leaves no install behind.
struct Installed;

impl Drop for Installed {
    fn drop(&mut self) {
        let _ = run("dpkg", &["-P", "lvsdeck"]);
    }
}

fn build() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(root.join("packaging/build-deb"))
        .arg("dev")
        .output()
        .expect("packaging/build-deb");
    assert!(
        out.status.success(),
        "packaging/build-deb failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let deb = root.join(format!(
        "target/debian/lvsdeck_{}-1_{}.deb",
        env!("CARGO_PKG_VERSION"),
        "amd64"
    ));
    assert!(deb.exists(), "no {}", deb.display());
    deb
}

#[test]
fn the_package_installs_verifies_and_removes_cleanly() {
    if !support::prerequisites(
        "the Debian package",
        &[
            "dpkg",
            "dpkg-deb",
            "cargo-deb",
            "systemd-analyze",
            "man",
            "gzip",
        ],
    ) {
        return;
    }
    let deb = build();
    let deb = deb.to_str().unwrap();
    let listing = ok("dpkg-deb", &["-c", deb]);
    for path in [
        "./usr/sbin/lvsdeck",
        "./usr/lib/systemd/system/lvsdeck.service",
        "./etc/lvsdeck/lvsdeck.toml",
        "./usr/share/man/man8/lvsdeck.8.gz",
        "./usr/share/man/man8/lvsdeck-doctor.8.gz",
        "./usr/share/bash-completion/completions/lvsdeck",
        "./usr/share/zsh/vendor-completions/_lvsdeck",
        "./usr/share/fish/vendor_completions.d/lvsdeck.fish",
    ] {
        assert!(
            listing.lines().any(|l| l.ends_with(path)),
            "{path} not in the package:\n{listing}"
        );
    }
    let _purge = Installed;
    ok("dpkg", &["-i", deb]);
    assert_eq!(
        ok("/usr/sbin/lvsdeck", &["--version"]).trim(),
        format!("lvsdeck {}", env!("CARGO_PKG_VERSION"))
    );
    // The unit as installed: verify prints nothing when it is clean.
    let unit = "/usr/lib/systemd/system/lvsdeck.service";
    let verify = run("systemd-analyze", &["verify", unit]);
    assert!(
        verify.status.success() && verify.stderr.is_empty(),
        "systemd-analyze verify: {}",
        String::from_utf8_lossy(&verify.stderr)
    );
    let text = std::fs::read_to_string(unit).unwrap();
    for line in [
        "Type=notify",
        "ExecStart=/usr/sbin/lvsdeck --daemon -c /etc/lvsdeck/lvsdeck.toml",
        "WatchdogSec=",
        "ProtectSystem=strict",
        "CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_RAW ",
    ] {
        assert!(text.contains(line), "{line} not in the unit:\n{text}");
    }
    // Installed, not enabled, not running.
    let enabled = run("systemctl", &["is-enabled", "lvsdeck"]);
    assert_eq!(String::from_utf8_lossy(&enabled.stdout).trim(), "disabled");
    assert!(
        !run("pgrep", &["-f", "/usr/sbin/lvsdeck --daemon"])
            .status
            .success(),
        "the service was started on install"
    );
    let conffiles = ok("dpkg-query", &["-W", "-f=${Conffiles}", "lvsdeck"]);
    assert!(
        conffiles.contains("/etc/lvsdeck/lvsdeck.toml"),
        "{conffiles}"
    );
    for page in ["lvsdeck", "lvsdeck-doctor", "lvsdeck-ctl"] {
        let shown = Command::new("man")
            .args(["-P", "cat", page])
            .env("MANWIDTH", "80")
            .output()
            .unwrap();
        let shown = String::from_utf8_lossy(&shown.stdout);
        // Justified text: compare with the spacing folded.
        let words = shown.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            words.contains(&format!("NAME {page} - ")),
            "man {page} did not render:\n{shown}"
        );
    }
    // Removed: the binary goes, the edited configuration stays until purged.
    ok("dpkg", &["-r", "lvsdeck"]);
    assert!(!Path::new("/usr/sbin/lvsdeck").exists());
    assert!(Path::new("/etc/lvsdeck/lvsdeck.toml").exists());
    ok("dpkg", &["-P", "lvsdeck"]);
    assert!(!Path::new("/etc/lvsdeck/lvsdeck.toml").exists());
    assert!(!Path::new(unit).exists());
}
