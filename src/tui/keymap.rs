//! Key bindings: the console's actions, their default keys, and rebinding from the config's
//! `[console.keys]` (action name → key text), clashes refused.
//!
//! Key text is what the help and the key bar show: `d`, `G`, `?`, `ctrl-d`, `alt-x`,
//! `shift-tab`, `F5`, `enter`, `esc`, `tab`, `space`, `up`, `down`, `left`, `right`, `pgup`,
//! `pgdn`, `home`, `end`, `backspace`, `delete`. A rebinding may list several keys separated by
//! spaces (`"k up"`); it replaces all of that action's default keys.

use std::collections::BTreeMap;
use std::fmt;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// What a key does in the main view. Dialogs and text prompts have fixed keys of their own
/// (Left/Right/Tab move between buttons, Enter activates, Esc cancels).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Action {
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    NextPane,
    PrevPane,
    Select,
    Back,
    Filter,
    Help,
    Quit,
    Command,
    Drain,
    Undrain,
    WeightUp,
    WeightDown,
    SetWeight,
    Priority,
    Handover,
    SwitchDirector,
    Doctor,
    DrainDirector,
}

impl Action {
    pub const ALL: [Action; 24] = [
        Action::Up,
        Action::Down,
        Action::PageUp,
        Action::PageDown,
        Action::Top,
        Action::Bottom,
        Action::NextPane,
        Action::PrevPane,
        Action::Select,
        Action::Back,
        Action::Filter,
        Action::Help,
        Action::Quit,
        Action::Command,
        Action::Drain,
        Action::Undrain,
        Action::WeightUp,
        Action::WeightDown,
        Action::SetWeight,
        Action::Priority,
        Action::Handover,
        Action::SwitchDirector,
        Action::Doctor,
        Action::DrainDirector,
    ];

    /// The name used in `[console.keys]`.
    pub fn name(self) -> &'static str {
        match self {
            Action::Up => "up",
            Action::Down => "down",
            Action::PageUp => "page_up",
            Action::PageDown => "page_down",
            Action::Top => "top",
            Action::Bottom => "newest",
            Action::NextPane => "next_pane",
            Action::PrevPane => "prev_pane",
            Action::Select => "select",
            Action::Back => "back",
            Action::Filter => "filter",
            Action::Help => "help",
            Action::Quit => "quit",
            Action::Command => "command",
            Action::Drain => "drain",
            Action::Undrain => "undrain",
            Action::WeightUp => "weight_up",
            Action::WeightDown => "weight_down",
            Action::SetWeight => "set_weight",
            Action::Priority => "priority",
            Action::Handover => "handover",
            Action::SwitchDirector => "switch_director",
            Action::Doctor => "doctor",
            Action::DrainDirector => "drain_director",
        }
    }

    /// A one-word label for the key bar.
    pub fn label(self) -> &'static str {
        match self {
            Action::Up => "up",
            Action::Down => "down",
            Action::PageUp => "page up",
            Action::PageDown => "page down",
            Action::Top => "top",
            Action::Bottom => "bottom",
            Action::NextPane => "pane",
            Action::PrevPane => "prev pane",
            Action::Select => "reals",
            Action::Back => "back",
            Action::Filter => "filter",
            Action::Help => "help",
            Action::Quit => "quit",
            Action::Command => "cmd",
            Action::Drain => "drain",
            Action::Undrain => "undrain",
            Action::WeightUp => "weight+",
            Action::WeightDown => "weight-",
            Action::SetWeight => "set weight",
            Action::Priority => "priority",
            Action::Handover => "hand over",
            Action::SwitchDirector => "director",
            Action::Doctor => "doctor",
            Action::DrainDirector => "drain director",
        }
    }

    /// A sentence for the help screen.
    pub fn describe(self) -> &'static str {
        match self {
            Action::Up => "move the selection up (event log: back in time)",
            Action::Down => "move the selection down (event log: forward)",
            Action::PageUp => "one page up",
            Action::PageDown => "one page down",
            Action::Top => "first row (oldest event)",
            Action::Bottom => "last row (newest event, follow the log)",
            Action::NextPane => "next pane",
            Action::PrevPane => "previous pane",
            Action::Select => "show the real servers of the selected service",
            Action::Back => "back out: clear the filter, leave the real servers",
            Action::Filter => "filter the focused pane",
            Action::Help => "this help",
            Action::Quit => "quit the console",
            Action::Command => "command line: :drain, :weight, :priority, :handover, :q",
            Action::Drain => "drain the real server: weight 0, connections finish",
            Action::Undrain => "undrain the selected real server",
            Action::WeightUp => "raise the real server's weight by one step",
            Action::WeightDown => "lower the real server's weight by one step",
            Action::SetWeight => "set the real server's weight (empty clears)",
            Action::Priority => "override the instance's priority (empty clears)",
            Action::Handover => "hand a MASTER instance over to a backup",
            Action::SwitchDirector => "switch to the next director (lab)",
            Action::Doctor => "the doctor: set-up probed from the director (r reruns)",
            Action::DrainDirector => "BGP: withdraw this director's addresses (again: announce)",
        }
    }

    /// Actions that change the director; refused in read-only mode, confirmed otherwise.
    pub fn dangerous(self) -> bool {
        matches!(
            self,
            Action::Drain
                | Action::Undrain
                | Action::WeightUp
                | Action::WeightDown
                | Action::SetWeight
                | Action::Priority
                | Action::Handover
                | Action::DrainDirector
        )
    }

    pub fn from_name(name: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.name() == name)
    }

    fn defaults(self) -> &'static [&'static str] {
        match self {
            Action::Up => &["up", "k"],
            Action::Down => &["down", "j"],
            Action::PageUp => &["pgup", "ctrl-b"],
            Action::PageDown => &["pgdn", "ctrl-f"],
            Action::Top => &["home", "g"],
            Action::Bottom => &["end", "G"],
            Action::NextPane => &["tab"],
            Action::PrevPane => &["shift-tab"],
            Action::Select => &["enter"],
            Action::Back => &["esc"],
            Action::Filter => &["/"],
            Action::Help => &["?"],
            Action::Quit => &["q"],
            Action::Command => &[":"],
            Action::Drain => &["d"],
            Action::Undrain => &["u"],
            Action::WeightUp => &["+", "="],
            Action::WeightDown => &["-"],
            Action::SetWeight => &["w"],
            Action::Priority => &["p"],
            Action::Handover => &["h"],
            Action::SwitchDirector => &[">"],
            Action::Doctor => &["D"],
            Action::DrainDirector => &["W"],
        }
    }
}

/// A key with its modifiers, normalised so that `G` and `shift-g` are the same key and a
/// terminal's BackTab is `shift-tab`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    pub code: KeyCode,
    pub mods: KeyModifiers,
}

impl Key {
    pub fn new(code: KeyCode, mods: KeyModifiers) -> Key {
        let mut mods = mods & (KeyModifiers::CONTROL | KeyModifiers::ALT | KeyModifiers::SHIFT);
        let code = match code {
            KeyCode::BackTab => {
                mods |= KeyModifiers::SHIFT;
                KeyCode::Tab
            }
            KeyCode::Char(c) => {
                // The character already says whether shift was held.
                mods.remove(KeyModifiers::SHIFT);
                if mods.contains(KeyModifiers::CONTROL) {
                    KeyCode::Char(c.to_ascii_lowercase())
                } else {
                    KeyCode::Char(c)
                }
            }
            other => other,
        };
        Key { code, mods }
    }

    pub fn from_event(ev: &KeyEvent) -> Key {
        Key::new(ev.code, ev.modifiers)
    }

    /// Parses key text: `d`, `ctrl-d`, `alt-x`, `shift-tab`, `F5`, `enter`, `pgdn`, ...
    pub fn parse(text: &str) -> Result<Key, String> {
        let mut mods = KeyModifiers::NONE;
        let mut rest = text;
        // A lone "-" or "+" is a key, not a modifier separator.
        while rest.len() > 1 {
            let lower = rest.to_ascii_lowercase();
            let (m, len) = if lower.starts_with("ctrl-") {
                (KeyModifiers::CONTROL, 5)
            } else if lower.starts_with("alt-") {
                (KeyModifiers::ALT, 4)
            } else if lower.starts_with("shift-") {
                (KeyModifiers::SHIFT, 6)
            } else {
                break;
            };
            mods |= m;
            rest = &rest[len..];
        }
        let lower = rest.to_ascii_lowercase();
        let code = match lower.as_str() {
            "" => return Err("empty key".into()),
            "enter" | "return" => KeyCode::Enter,
            "esc" | "escape" => KeyCode::Esc,
            "tab" => KeyCode::Tab,
            "backtab" => {
                mods |= KeyModifiers::SHIFT;
                KeyCode::Tab
            }
            "space" => KeyCode::Char(' '),
            "up" | "↑" => KeyCode::Up,
            "down" | "↓" => KeyCode::Down,
            "left" | "←" => KeyCode::Left,
            "right" | "→" => KeyCode::Right,
            "pgup" | "pageup" => KeyCode::PageUp,
            "pgdn" | "pagedown" => KeyCode::PageDown,
            "home" => KeyCode::Home,
            "end" => KeyCode::End,
            "backspace" => KeyCode::Backspace,
            "delete" | "del" => KeyCode::Delete,
            "insert" | "ins" => KeyCode::Insert,
            _ => {
                let mut chars = rest.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) => KeyCode::Char(c),
                    _ => {
                        if let Some(n) = lower.strip_prefix('f').and_then(|n| n.parse::<u8>().ok())
                            && (1..=24).contains(&n)
                        {
                            KeyCode::F(n)
                        } else {
                            return Err(format!(
                                "\"{text}\" is not a key; write a character (d, G, ?), a name \
                                 (enter, esc, tab, space, up, pgdn, F5, ...) with optional \
                                 ctrl-, alt-, shift- in front"
                            ));
                        }
                    }
                }
            }
        };
        let key = Key::new(code, mods);
        if matches!(key.code, KeyCode::Char('c')) && key.mods == KeyModifiers::CONTROL {
            return Err("ctrl-c always quits and cannot be bound".into());
        }
        Ok(key)
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.mods.contains(KeyModifiers::CONTROL) {
            f.write_str("ctrl-")?;
        }
        if self.mods.contains(KeyModifiers::ALT) {
            f.write_str("alt-")?;
        }
        if self.mods.contains(KeyModifiers::SHIFT) {
            f.write_str("shift-")?;
        }
        match self.code {
            KeyCode::Char(' ') => f.write_str("space"),
            KeyCode::Char(c) => write!(f, "{c}"),
            KeyCode::Enter => f.write_str("enter"),
            KeyCode::Esc => f.write_str("esc"),
            KeyCode::Tab => f.write_str("tab"),
            KeyCode::Up => f.write_str("↑"),
            KeyCode::Down => f.write_str("↓"),
            KeyCode::Left => f.write_str("←"),
            KeyCode::Right => f.write_str("→"),
            KeyCode::PageUp => f.write_str("pgup"),
            KeyCode::PageDown => f.write_str("pgdn"),
            KeyCode::Home => f.write_str("home"),
            KeyCode::End => f.write_str("end"),
            KeyCode::Backspace => f.write_str("backspace"),
            KeyCode::Delete => f.write_str("delete"),
            KeyCode::Insert => f.write_str("insert"),
            KeyCode::F(n) => write!(f, "F{n}"),
            other => write!(f, "{other:?}"),
        }
    }
}

/// Why a `[console.keys]` table was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeymapError {
    #[error("[console.keys]: unknown action \"{action}\"; the actions are: {known}")]
    UnknownAction { action: String, known: String },
    #[error("[console.keys] {action} = \"{text}\": {why}")]
    BadKey {
        action: String,
        text: String,
        why: String,
    },
    #[error(
        "[console.keys]: key \"{key}\" is bound to both {first} and {second}; \
         bind one of them to another key"
    )]
    Clash {
        key: String,
        first: String,
        second: String,
    },
}

/// Keys to actions. Small (a few dozen entries): looked up linearly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keymap {
    bindings: Vec<(Key, Action)>,
}

impl Default for Keymap {
    fn default() -> Self {
        Keymap::with_overrides(&BTreeMap::new()).expect("the default keymap has no clashes")
    }
}

impl Keymap {
    /// The defaults, with each action named in `overrides` bound to the given keys instead.
    pub fn with_overrides(overrides: &BTreeMap<String, String>) -> Result<Keymap, KeymapError> {
        let mut chosen: BTreeMap<Action, Vec<Key>> = BTreeMap::new();
        for (name, text) in overrides {
            let action = Action::from_name(name).ok_or_else(|| KeymapError::UnknownAction {
                action: name.clone(),
                known: Action::ALL.map(Action::name).join(", "),
            })?;
            let mut keys = Vec::new();
            for word in text.split_whitespace() {
                keys.push(Key::parse(word).map_err(|why| KeymapError::BadKey {
                    action: name.clone(),
                    text: text.clone(),
                    why,
                })?);
            }
            if keys.is_empty() {
                return Err(KeymapError::BadKey {
                    action: name.clone(),
                    text: text.clone(),
                    why: "no key given".into(),
                });
            }
            chosen.insert(action, keys);
        }
        let mut bindings: Vec<(Key, Action)> = Vec::new();
        for action in Action::ALL {
            let keys = match chosen.remove(&action) {
                Some(keys) => keys,
                None => action
                    .defaults()
                    .iter()
                    .map(|t| Key::parse(t).expect("default keys parse"))
                    .collect(),
            };
            for key in keys {
                if let Some(&(_, other)) = bindings.iter().find(|(k, _)| *k == key) {
                    if other == action {
                        continue;
                    }
                    return Err(KeymapError::Clash {
                        key: key.to_string(),
                        first: other.name().into(),
                        second: action.name().into(),
                    });
                }
                bindings.push((key, action));
            }
        }
        Ok(Keymap { bindings })
    }

    /// The action a key press means in the main view.
    pub fn action(&self, ev: &KeyEvent) -> Option<Action> {
        let key = Key::from_event(ev);
        self.bindings
            .iter()
            .find(|(k, _)| *k == key)
            .map(|&(_, a)| a)
    }

    /// The keys bound to an action, in binding order.
    pub fn keys(&self, action: Action) -> impl Iterator<Item = Key> + '_ {
        self.bindings
            .iter()
            .filter(move |(_, a)| *a == action)
            .map(|&(k, _)| k)
    }

    /// The first key of an action, as text (for the key bar).
    pub fn primary(&self, action: Action) -> Option<Key> {
        self.keys(action).next()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(code: KeyCode, mods: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, mods)
    }

    #[test]
    fn defaults_cover_every_action() {
        let km = Keymap::default();
        for a in Action::ALL {
            assert!(km.primary(a).is_some(), "{a:?} has no key");
        }
        assert_eq!(
            km.action(&ev(KeyCode::Char('d'), KeyModifiers::NONE)),
            Some(Action::Drain)
        );
        assert_eq!(
            km.action(&ev(KeyCode::BackTab, KeyModifiers::SHIFT)),
            Some(Action::PrevPane)
        );
        assert_eq!(
            km.action(&ev(KeyCode::Char('G'), KeyModifiers::SHIFT)),
            Some(Action::Bottom)
        );
        assert_eq!(
            km.action(&ev(KeyCode::Char('?'), KeyModifiers::SHIFT)),
            Some(Action::Help)
        );
    }

    #[test]
    fn rebinding_replaces_the_defaults_of_that_action() {
        let mut o = BTreeMap::new();
        o.insert("drain".to_string(), "ctrl-d".to_string());
        o.insert("up".to_string(), "k F5".to_string());
        let km = Keymap::with_overrides(&o).unwrap();
        assert_eq!(
            km.action(&ev(KeyCode::Char('d'), KeyModifiers::CONTROL)),
            Some(Action::Drain)
        );
        assert_eq!(km.action(&ev(KeyCode::Char('d'), KeyModifiers::NONE)), None);
        assert_eq!(
            km.action(&ev(KeyCode::F(5), KeyModifiers::NONE)),
            Some(Action::Up)
        );
        assert_eq!(km.action(&ev(KeyCode::Up, KeyModifiers::NONE)), None);
        assert_eq!(km.primary(Action::Drain).unwrap().to_string(), "ctrl-d");
    }

    #[test]
    fn a_clash_is_refused_naming_both_actions_and_the_key() {
        let mut o = BTreeMap::new();
        o.insert("drain".to_string(), "u".to_string());
        let err = Keymap::with_overrides(&o).unwrap_err();
        assert_eq!(
            err,
            KeymapError::Clash {
                key: "u".into(),
                first: "drain".into(),
                second: "undrain".into()
            }
        );
        assert_eq!(
            err.to_string(),
            "[console.keys]: key \"u\" is bound to both drain and undrain; \
             bind one of them to another key"
        );
        // Moving undrain out of the way resolves it.
        o.insert("undrain".to_string(), "U".to_string());
        let km = Keymap::with_overrides(&o).unwrap();
        assert_eq!(
            km.action(&ev(KeyCode::Char('U'), KeyModifiers::SHIFT)),
            Some(Action::Undrain)
        );
    }

    #[test]
    fn unknown_actions_and_bad_keys_are_refused() {
        let mut o = BTreeMap::new();
        o.insert("explode".to_string(), "x".to_string());
        let err = Keymap::with_overrides(&o).unwrap_err().to_string();
        assert!(err.contains("unknown action \"explode\""), "{err}");
        assert!(err.contains("drain, undrain"), "{err}");

        let mut o = BTreeMap::new();
        o.insert("drain".to_string(), "hyper-d".to_string());
        let err = Keymap::with_overrides(&o).unwrap_err().to_string();
        assert!(
            err.starts_with("[console.keys] drain = \"hyper-d\""),
            "{err}"
        );

        let mut o = BTreeMap::new();
        o.insert("quit".to_string(), "ctrl-c".to_string());
        let err = Keymap::with_overrides(&o).unwrap_err().to_string();
        assert!(err.contains("ctrl-c always quits"), "{err}");
    }

    #[test]
    fn key_text_round_trips() {
        for t in [
            "d",
            "G",
            "?",
            "ctrl-d",
            "alt-x",
            "shift-tab",
            "F5",
            "enter",
            "esc",
            "space",
            "pgdn",
            "-",
            "+",
            "up",
            "ctrl-left",
        ] {
            let k = Key::parse(t).unwrap();
            assert_eq!(Key::parse(&k.to_string()).ok(), Some(k), "{t}");
        }
        assert_eq!(Key::parse("ctrl-D").unwrap(), Key::parse("ctrl-d").unwrap());
    }
}
