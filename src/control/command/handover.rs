//! `handover`: a master instance gives its VIPs to a backup, make-before-break.

use super::{Command, Confirmation, vrrp_lines};
use crate::snapshot::{VrrpState, VrrpView};

pub fn describe(instance: &str) -> String {
    format!("hand over {instance} to a backup")
}

/// The console's dialog, or why not: only a master hands over.
pub fn confirm(v: &VrrpView) -> Result<Confirmation, String> {
    if v.state != VrrpState::Master {
        return Err(format!(
            "hand over: {} is {} here; only a MASTER can hand over",
            v.name, v.state
        ));
    }
    let mut lines = vrrp_lines(v);
    lines.push((
        "change".into(),
        "MASTER → BACKUP here; a backup takes the VIPs".into(),
    ));
    Ok(Confirmation {
        title: "Hand over to a backup?".into(),
        lines,
        note: Some("Make-before-break: the VIPs are released once a backup has taken over.".into()),
        command: Command::Handover {
            instance: v.name.clone(),
        },
    })
}
