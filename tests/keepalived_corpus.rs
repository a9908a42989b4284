//! `lvsdeck check` over real operators' keepalived.conf files (`../shared/corpus/realworld/`) and
//! keepalived's own samples (`../shared/corpus/keepalived-samples/`). keepalived 2.2.7 runs every
//! one of them; lvsdeck must accept each (warnings allowed), except the few below that use a
//! feature lvsdeck refuses on purpose, each refused at its line for that reason only.

#[path = "support/mod.rs"]
mod support;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use assert_cmd::cargo::CommandCargoExt;

/// The refused files: folder, file, and each error as (line, message).
type Refusal = (&'static str, &'static str, &'static [(usize, &'static str)]);

/// None today: every file keepalived 2.2.7 runs loads. A feature lvsdeck refuses on purpose
/// goes here with the line and message of each refusal.
const REFUSED: &[Refusal] = &[];

fn files(dir: &Path, conf_only: bool) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| !conf_only || p.extension().is_some_and(|e| e == "conf"))
        .collect();
    files.sort();
    files
}

/// `check` one file; a fixed config id keeps `@ID` lines the same on every host.
fn check(file: &Path) -> (bool, String) {
    let out = Command::cargo_bin("lvsdeck")
        .unwrap()
        .args(["check", "--config-id", "lvsdeck-corpus"])
        .arg(file)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn every_corpus_file_is_accepted_except_the_refusals_listed_with_their_reason() {
    let Some(corpus) = support::shared_corpus("", "the corpus test") else {
        return;
    };
    let mut failures = Vec::new();
    let mut refused_seen = 0;
    for (folder, conf_only) in [("realworld", true), ("keepalived-samples", false)] {
        let all = files(&corpus.join(folder), conf_only);
        assert!(all.len() >= 20, "{folder}: only {} files", all.len());
        let mut accepted = 0;
        for file in &all {
            let name = file.file_name().unwrap().to_str().unwrap();
            let (ok, stderr) = check(file);
            let path = file.display().to_string();
            let errors: Vec<&str> = stderr
                .lines()
                .filter(|l| l.starts_with(&format!("{path}:")) && l.contains(": error: "))
                .collect();
            match REFUSED.iter().find(|(f, n, _)| *f == folder && *n == name) {
                None if ok => accepted += 1,
                None => failures.push(format!("{folder}/{name} is refused:\n{stderr}")),
                Some((_, _, expected)) => {
                    refused_seen += 1;
                    let matches = |(line, message): &(usize, &str)| {
                        errors.iter().any(|e| {
                            e.starts_with(&format!("{path}:{line}:"))
                                && e.ends_with(&format!(": error: {message}"))
                        })
                    };
                    if ok || errors.len() != expected.len() || !expected.iter().all(matches) {
                        failures.push(format!(
                            "{folder}/{name}: expected refusals {expected:?}, got:\n{}",
                            errors.join("\n")
                        ));
                    }
                }
            }
        }
        // Straight to stderr: libtest captures eprintln!, and this count is the point.
        let _ = writeln!(
            std::io::stderr(),
            "{folder}: {accepted}/{} accepted by lvsdeck check (keepalived 2.2.7 runs all)",
            all.len()
        );
    }
    assert_eq!(
        refused_seen,
        REFUSED.len(),
        "a listed refusal names no corpus file"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
