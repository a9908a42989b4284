//! The bottom key bar: the keys that work where the focus is. Keys that would be refused
//! (read-only, nothing selected, not a MASTER) are greyed.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Span;

use super::put_spans;
use crate::tui::app::{App, Dialog, Pane, PromptKind};
use crate::tui::keymap::Action;
use crate::tui::theme::Theme;

pub fn render(buf: &mut Buffer, area: Rect, app: &App, theme: &Theme) {
    let mut spans: Vec<Span> = Vec::with_capacity(32);
    let mut fixed = |pairs: &[(&'static str, &'static str)]| {
        for (k, label) in pairs {
            spans.push(Span::styled(format!(" {k}"), theme.key));
            spans.push(Span::styled(format!(" {label} "), theme.dim));
        }
    };
    if let Some(p) = app.prompt() {
        match p.kind {
            PromptKind::Filter(_) => fixed(&[("enter", "keep filter"), ("esc", "clear filter")]),
            PromptKind::Command => fixed(&[("enter", "run"), ("esc", "cancel")]),
        }
    } else if let Some(d) = app.dialog() {
        match d {
            Dialog::Confirm(_) => fixed(&[
                ("←/→", "choose"),
                ("enter", "press the selected button"),
                ("esc", "cancel"),
            ]),
            Dialog::Input(_) => {
                fixed(&[("enter", "next"), ("backspace", "erase"), ("esc", "cancel")])
            }
            Dialog::Help { .. } => fixed(&[("↑/↓", "scroll"), ("esc", "close")]),
            Dialog::Doctor { .. } => {
                fixed(&[("↑/↓", "scroll"), ("r", "run again"), ("esc", "close")])
            }
        }
    } else {
        let km = &app.config().keymap;
        let mut actions: Vec<Action> = app.hints().to_vec();
        if app.config().directors > 1 {
            actions.push(Action::SwitchDirector);
        }
        for a in actions {
            let enabled = app.action_enabled(a);
            let key = |a: Action| km.primary(a).map(|k| k.to_string()).unwrap_or_default();
            let (keys, label) = match a {
                Action::Up => (
                    format!("{}{}", key(Action::Up), key(Action::Down)),
                    if app.focus() == Pane::Events {
                        "scroll"
                    } else {
                        "move"
                    },
                ),
                Action::WeightUp => (
                    format!("{}{}", key(Action::WeightUp), key(Action::WeightDown)),
                    "weight",
                ),
                _ => (key(a), a.label()),
            };
            let kstyle = if enabled {
                theme.key
            } else {
                theme.key_disabled
            };
            let lstyle = if enabled {
                theme.dim
            } else {
                theme.key_disabled
            };
            spans.push(Span::styled(format!(" {keys}"), kstyle));
            spans.push(Span::styled(format!(" {label} "), lstyle));
        }
    }
    put_spans(buf, area.x, area.y, area.width, &spans);
}
