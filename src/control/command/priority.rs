//! `priority`: a VRRP instance's priority overridden by the operator (sticky, kept across
//! restarts), or the override cleared.

use super::{Command, Confirmation, parse_clearable, vrrp_lines};
use crate::snapshot::{VrrpState, VrrpView};

/// `N` (1-254), or `clear` / nothing to clear the override.
pub fn parse(text: &str) -> Result<Option<u8>, String> {
    parse_clearable(text, 1..=254, "a priority", "1-254")
}

pub fn describe(instance: &str, priority: Option<u8>) -> String {
    match priority {
        Some(p) => format!("override the priority of {instance} to {p}"),
        None => format!("clear the priority override of {instance}"),
    }
}

/// The lines of the console's priority input: the instance and its priorities now.
pub fn input_lines(v: &VrrpView) -> Vec<(String, String)> {
    let mut lines = vrrp_lines(v);
    let set = v
        .priority_override
        .as_ref()
        .map(|o| format!(", override {} by {}", o.value, o.by))
        .unwrap_or_default();
    lines.push((
        "priority".into(),
        format!("{} (base {}{set})", v.effective_priority, v.base_priority),
    ));
    lines
}

pub fn confirm(v: &VrrpView, priority: Option<u8>) -> Confirmation {
    let mut lines = vrrp_lines(v);
    let change = match priority {
        Some(p) => format!("priority {} → {p} (sticky override)", v.effective_priority),
        None => format!(
            "priority {} → {} (override cleared, base priority)",
            v.effective_priority, v.base_priority
        ),
    };
    lines.push(("change".into(), change));
    let note = match (&v.master_heard, priority) {
        (Some(m), Some(p)) if v.state == VrrpState::Backup && p > m.priority => Some(format!(
            "Above the master's {} ({}): this director takes over if it preempts.",
            m.priority, m.address
        )),
        (_, Some(p)) if v.state == VrrpState::Master && p < v.effective_priority => Some(
            "Lower than now: a backup with a higher priority takes over if it preempts.".into(),
        ),
        _ => None,
    };
    Confirmation {
        title: "Change VRRP priority?".into(),
        lines,
        note,
        command: Command::Priority {
            instance: v.name.clone(),
            priority,
        },
    }
}
