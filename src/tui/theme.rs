//! Colour themes: flat TOML files in `themes/` naming a colour for each role (`master = "green"`).
//! The four shipped themes are embedded too, so the binary works without the folder. Colours are
//! the 16 ANSI names (`red`, `lightred`, `darkgray`, ...), `reset` (the terminal's own), an index
//! `0`–`255` or `#rrggbb`. `NO_COLOR` (set and not empty) gives a theme of bold, reverse and dim
//! only.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::snapshot::{RealHealth, VrrpState};
use ratatui::style::{Color, Modifier, Style};

/// The themes shipped in `themes/`, embedded.
pub const BUILTIN: [(&str, &str); 4] = [
    ("dark", include_str!("../../themes/dark.toml")),
    ("light", include_str!("../../themes/light.toml")),
    (
        "high-contrast",
        include_str!("../../themes/high-contrast.toml"),
    ),
    ("solarized", include_str!("../../themes/solarized.toml")),
];

/// The name that selects the colourless theme explicitly.
pub const NO_COLOR_NAME: &str = "no-color";

/// The roles a theme file may set. Any not set take the dark theme's colour.
pub const ROLES: [&str; 28] = [
    "fg",
    "bg",
    "title",
    "border",
    "focus",
    "selected_fg",
    "selected_bg",
    "master",
    "backup",
    "fault",
    "init",
    "up",
    "down",
    "unknown",
    "draining",
    "stale",
    "warn",
    "header_fg",
    "header_bg",
    "lost_fg",
    "lost_bg",
    "key",
    "key_disabled",
    "badge_fg",
    "badge_bg",
    "ok",
    "error",
    "dim",
];

/// Resolved styles for every role the console draws.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Theme {
    pub name: String,
    /// Whole-screen text and background.
    pub base: Style,
    pub title: Style,
    pub border: Style,
    /// Border of the focused pane.
    pub focus: Style,
    /// The selected row of the focused pane, and the selected button of a dialog.
    pub selected: Style,
    pub master: Style,
    pub backup: Style,
    pub fault: Style,
    pub init: Style,
    pub up: Style,
    pub down: Style,
    pub unknown: Style,
    pub draining: Style,
    /// Values older than two refresh intervals.
    pub stale: Style,
    pub warn: Style,
    pub header: Style,
    /// The header when the connection to the daemon is lost.
    pub lost: Style,
    pub key: Style,
    pub key_disabled: Style,
    /// The read-only badge.
    pub badge: Style,
    pub ok: Style,
    pub error: Style,
    pub dim: Style,
}

/// Why a theme could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ThemeError {
    #[error(
        "theme \"{name}\": no file {name}.toml in {searched} and no built-in theme of that name; built-in themes: dark, light, high-contrast, solarized, no-color"
    )]
    NotFound { name: String, searched: String },
    #[error("theme file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("theme \"{name}\": {message}")]
    Invalid { name: String, message: String },
}

impl Default for Theme {
    fn default() -> Self {
        Theme::from_toml("dark", BUILTIN[0].1).expect("the dark theme is valid")
    }
}

impl Theme {
    /// The theme to use: `NO_COLOR` wins; then `name` as a path (if it has a `/` or ends in
    /// `.toml`), then `NAME.toml` in the theme folders (`$LVSDECK_THEMES`, `/etc/lvsdeck/themes`,
    /// `/usr/share/lvsdeck/themes`, `./themes`), then the embedded copy. `None` means "dark".
    pub fn load(name: Option<&str>) -> Result<Theme, ThemeError> {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let mut dirs = Vec::new();
        if let Some(d) = std::env::var_os("LVSDECK_THEMES") {
            dirs.push(PathBuf::from(d));
        }
        dirs.push(PathBuf::from("/etc/lvsdeck/themes"));
        dirs.push(PathBuf::from("/usr/share/lvsdeck/themes"));
        dirs.push(PathBuf::from("themes"));
        Theme::load_from(name.unwrap_or("dark"), &dirs, no_color)
    }

    /// [`Theme::load`] with the folders and the `NO_COLOR` decision given.
    pub fn load_from(name: &str, dirs: &[PathBuf], no_color: bool) -> Result<Theme, ThemeError> {
        if no_color || name == NO_COLOR_NAME {
            return Ok(Theme::no_color());
        }
        if name.contains('/') || name.ends_with(".toml") {
            return Theme::from_file(Path::new(name));
        }
        for dir in dirs {
            let path = dir.join(format!("{name}.toml"));
            if path.is_file() {
                return Theme::from_file(&path);
            }
        }
        Theme::builtin(name).unwrap_or_else(|| {
            Err(ThemeError::NotFound {
                name: name.into(),
                searched: dirs
                    .iter()
                    .map(|d| d.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
        })
    }

    /// One of the embedded themes, by name.
    pub fn builtin(name: &str) -> Option<Result<Theme, ThemeError>> {
        if name == NO_COLOR_NAME {
            return Some(Ok(Theme::no_color()));
        }
        BUILTIN
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(n, text)| Theme::from_toml(n, text))
    }

    fn from_file(path: &Path) -> Result<Theme, ThemeError> {
        let text = std::fs::read_to_string(path).map_err(|source| ThemeError::Read {
            path: path.to_owned(),
            source,
        })?;
        let name = path.file_stem().map_or_else(
            || path.display().to_string(),
            |s| s.to_string_lossy().into(),
        );
        Theme::from_toml(&name, &text)
    }

    /// A theme from the text of a theme file. Roles it does not set come from the dark theme.
    pub fn from_toml(name: &str, text: &str) -> Result<Theme, ThemeError> {
        let invalid = |message: String| ThemeError::Invalid {
            name: name.into(),
            message,
        };
        let table: BTreeMap<String, toml::Value> =
            toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        let mut colours: BTreeMap<&str, Color> = BTreeMap::new();
        if name != "dark" {
            let dark = BUILTIN[0].1;
            let base: BTreeMap<String, toml::Value> =
                toml::from_str(dark).expect("the dark theme parses");
            for (k, v) in &base {
                if let (Some(role), Some(s)) = (ROLES.iter().find(|r| *r == k), v.as_str()) {
                    colours.insert(role, Color::from_str(s).expect("dark colours parse"));
                }
            }
        }
        for (key, value) in &table {
            if key == "name" || key == "description" {
                continue;
            }
            let Some(role) = ROLES.iter().find(|r| *r == key) else {
                return Err(invalid(format!(
                    "unknown role \"{key}\"; the roles are: {}",
                    ROLES.join(", ")
                )));
            };
            let Some(s) = value.as_str() else {
                return Err(invalid(format!(
                    "{key}: expected a colour in quotes, like \"green\" or \"#268bd2\""
                )));
            };
            let c = Color::from_str(s).map_err(|_| {
                invalid(format!(
                    "{key} = \"{s}\": not a colour; use an ANSI name (red, lightred, darkgray, \
                     ...), reset, an index 0-255 or #rrggbb"
                ))
            })?;
            colours.insert(role, c);
        }
        if let Some(missing) = ROLES.iter().find(|r| !colours.contains_key(*r)) {
            return Err(invalid(format!("{missing} is not set")));
        }
        let c = |role: &str| colours[role];
        let fg = |role: &str| Style::new().fg(c(role));
        Ok(Theme {
            name: name.into(),
            base: Style::new().fg(c("fg")).bg(c("bg")),
            title: fg("title").add_modifier(Modifier::BOLD),
            border: fg("border"),
            focus: fg("focus").add_modifier(Modifier::BOLD),
            selected: Style::new()
                .fg(c("selected_fg"))
                .bg(c("selected_bg"))
                .add_modifier(Modifier::BOLD),
            master: fg("master").add_modifier(Modifier::BOLD),
            backup: fg("backup"),
            fault: fg("fault").add_modifier(Modifier::BOLD),
            init: fg("init"),
            up: fg("up"),
            down: fg("down").add_modifier(Modifier::BOLD),
            unknown: fg("unknown"),
            draining: fg("draining"),
            stale: fg("stale").add_modifier(Modifier::ITALIC),
            warn: fg("warn").add_modifier(Modifier::BOLD),
            header: Style::new().fg(c("header_fg")).bg(c("header_bg")),
            lost: Style::new()
                .fg(c("lost_fg"))
                .bg(c("lost_bg"))
                .add_modifier(Modifier::BOLD),
            key: fg("key").add_modifier(Modifier::BOLD),
            key_disabled: fg("key_disabled").add_modifier(Modifier::CROSSED_OUT),
            badge: Style::new()
                .fg(c("badge_fg"))
                .bg(c("badge_bg"))
                .add_modifier(Modifier::BOLD),
            ok: fg("ok"),
            error: fg("error").add_modifier(Modifier::BOLD),
            dim: fg("dim"),
        })
    }

    /// No colours at all (for `NO_COLOR`): bold, reverse, dim, italic and crossed-out only.
    pub fn no_color() -> Theme {
        let s = Style::new();
        let m = |m: Modifier| Style::new().add_modifier(m);
        Theme {
            name: NO_COLOR_NAME.into(),
            base: s,
            title: m(Modifier::BOLD),
            border: s,
            focus: m(Modifier::BOLD),
            selected: m(Modifier::REVERSED),
            master: m(Modifier::BOLD),
            backup: s,
            fault: m(Modifier::BOLD | Modifier::REVERSED),
            init: m(Modifier::DIM),
            up: s,
            down: m(Modifier::BOLD | Modifier::REVERSED),
            unknown: m(Modifier::DIM),
            draining: m(Modifier::ITALIC),
            stale: m(Modifier::DIM | Modifier::ITALIC),
            warn: m(Modifier::BOLD),
            header: m(Modifier::BOLD),
            lost: m(Modifier::BOLD | Modifier::REVERSED),
            key: m(Modifier::BOLD),
            key_disabled: m(Modifier::DIM | Modifier::CROSSED_OUT),
            badge: m(Modifier::REVERSED),
            ok: s,
            error: m(Modifier::BOLD),
            dim: m(Modifier::DIM),
        }
    }

    /// The style of a VRRP state name.
    pub fn vrrp_state(&self, state: VrrpState) -> Style {
        match state {
            VrrpState::Master => self.master,
            VrrpState::Backup => self.backup,
            VrrpState::Fault => self.fault,
            VrrpState::Init => self.init,
        }
    }

    /// The style of a real server's health.
    pub fn health(&self, health: RealHealth) -> Style {
        match health {
            RealHealth::Up => self.up,
            RealHealth::Down => self.down,
            RealHealth::Unknown | RealHealth::Sorry => self.unknown,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_theme_sets_every_role() {
        for (name, text) in BUILTIN {
            let table: BTreeMap<String, toml::Value> = toml::from_str(text).unwrap();
            for role in ROLES {
                assert!(table.contains_key(role), "{name}.toml lacks {role}");
            }
            let t = Theme::from_toml(name, text).unwrap();
            assert_eq!(t.name, name);
        }
    }

    #[test]
    fn the_shipped_files_are_the_embedded_ones() {
        for (name, text) in BUILTIN {
            let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("themes/{name}.toml"));
            assert_eq!(std::fs::read_to_string(path).unwrap(), text);
        }
    }

    #[test]
    fn load_falls_back_to_the_embedded_copy_and_honours_no_color() {
        let nowhere = [PathBuf::from("/nonexistent")];
        let t = Theme::load_from("solarized", &nowhere, false).unwrap();
        assert_eq!(t.name, "solarized");
        let t = Theme::load_from("solarized", &nowhere, true).unwrap();
        assert_eq!(t, Theme::no_color());
        assert!(t.master.fg.is_none() && t.down.fg.is_none());
        let err = Theme::load_from("neon", &nowhere, false)
            .unwrap_err()
            .to_string();
        assert!(err.contains("theme \"neon\""), "{err}");
        assert!(err.contains("/nonexistent"), "{err}");
    }

    #[test]
    fn a_theme_file_in_a_folder_wins_and_partial_files_inherit() {
        let dir = std::env::temp_dir().join(format!("lvsdeck-theme-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("mine.toml"), "master = \"magenta\"\n").unwrap();
        let t = Theme::load_from("mine", std::slice::from_ref(&dir), false).unwrap();
        assert_eq!(t.master.fg, Some(Color::Magenta));
        assert_eq!(t.down, Theme::default().down);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bad_colours_and_roles_are_refused_clearly() {
        let e = Theme::from_toml("x", "master = \"chartreuse-ish\"")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("master = \"chartreuse-ish\": not a colour"),
            "{e}"
        );
        let e = Theme::from_toml("x", "mastr = \"red\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown role \"mastr\""), "{e}");
    }
}
