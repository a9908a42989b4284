//! `lvsdeck assets DIR` (hidden): the man pages and shell completions, generated from the
//! clap definitions so that they never disagree with `--help`. The Debian package is built
//! with them (`packaging/build-deb`).

use std::path::Path;
use std::process::ExitCode;

use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::Cli;

pub fn run(dir: &Path) -> ExitCode {
    match write_all(dir) {
        Ok(n) => {
            println!("wrote {n} files under {}", dir.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("lvsdeck assets: {}: {e}", dir.display());
            ExitCode::from(2)
        }
    }
}

fn write_all(dir: &Path) -> std::io::Result<usize> {
    let man = dir.join("man");
    let completions = dir.join("completions");
    std::fs::create_dir_all(&man)?;
    std::fs::create_dir_all(&completions)?;
    let mut cmd = Cli::command();
    cmd.build();
    let mut n = 0;
    // lvsdeck(8): a daemon and its administration, section 8 as keepalived(8) and ipvsadm(8).
    let mut page = |c: &clap::Command, name: &str| -> std::io::Result<()> {
        let mut out = Vec::new();
        clap_mangen::Man::new(c.clone())
            .title(name.to_uppercase())
            .section("8")
            .render(&mut out)?;
        std::fs::write(man.join(format!("{name}.8")), out)?;
        n += 1;
        Ok(())
    };
    page(&cmd, "lvsdeck")?;
    for sub in cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
    {
        let name = format!("lvsdeck-{}", sub.get_name());
        page(&sub.clone().name(name.clone()), &name)?;
    }
    for (shell, file) in [
        (Shell::Bash, "lvsdeck"),
        (Shell::Zsh, "_lvsdeck"),
        (Shell::Fish, "lvsdeck.fish"),
    ] {
        let mut out = Vec::new();
        clap_complete::generate(shell, &mut cmd, "lvsdeck", &mut out);
        std::fs::write(completions.join(file), out)?;
        n += 1;
    }
    Ok(n)
}
