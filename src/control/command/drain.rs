//! `drain` / `undrain`: a real server at weight 0 (no new connections; those under way
//! finish), sticky until undrained; and back to its configured or overridden weight.

use super::{Command, Confirmation, RealTarget, real_lines, target};
use crate::snapshot::{RealView, ServiceView, endpoint};

pub fn describe(target: &RealTarget, drain: bool) -> String {
    let verb = if drain { "drain" } else { "undrain" };
    format!("{verb} {} on {}", target.real, target.service)
}

/// The console's dialog to drain `real`, or why not (it is drained already).
pub fn confirm_drain(service: &ServiceView, real: &RealView) -> Result<Confirmation, String> {
    let r = real;
    if r.drain.is_some() {
        return Err(format!(
            "drain: {} is already drained (u undrains it)",
            endpoint(&r.address, r.port)
        ));
    }
    let mut lines = real_lines(service, r);
    lines.push(("change".into(), format!("weight {} → 0 (drain)", r.weight)));
    Ok(Confirmation {
        title: "Drain real server?".into(),
        lines,
        note: Some(format!(
            "No new connections; the {} active ones finish. Sticky until undrained.",
            r.active_conns
        )),
        command: Command::Drain {
            target: target(service, r),
        },
    })
}

/// The console's dialog to undrain `real`, or why not (it is not drained).
pub fn confirm_undrain(service: &ServiceView, real: &RealView) -> Result<Confirmation, String> {
    let r = real;
    if r.drain.is_none() {
        return Err(format!(
            "undrain: {} is not drained",
            endpoint(&r.address, r.port)
        ));
    }
    let back = r
        .weight_override
        .as_ref()
        .map_or(r.configured_weight, |o| o.value);
    let mut lines = real_lines(service, r);
    lines.push((
        "change".into(),
        format!("weight {} → {back} (undrain)", r.weight),
    ));
    Ok(Confirmation {
        title: "Undrain real server?".into(),
        lines,
        note: Some("It takes new connections again.".into()),
        command: Command::Undrain {
            target: target(service, r),
        },
    })
}
