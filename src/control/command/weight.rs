//! `weight`: a real server's weight set by the operator (sticky, above the configured and the
//! dynamic one), or the override cleared.

use super::{Command, Confirmation, RealTarget, current_weight, parse_clearable, real_lines};
use crate::snapshot::{RealView, ServiceView};

/// The largest weight IPVS takes.
pub const MAX: u32 = 65_535;

/// `N` (0-65535), or `clear` / nothing to clear the override.
pub fn parse(text: &str) -> Result<Option<u32>, String> {
    parse_clearable(text, 0..=MAX, "a weight", "0-65535")
}

/// What the director checks of a weight that came over the socket.
pub fn validate(weight: Option<u32>) -> Result<(), String> {
    match weight {
        Some(w) if w > MAX => Err(format!("weight {w} is outside 0..{MAX}")),
        _ => Ok(()),
    }
}

pub fn describe(target: &RealTarget, weight: Option<u32>) -> String {
    match weight {
        Some(w) => format!("set weight {w} for {} on {}", target.real, target.service),
        None => format!(
            "clear the weight override of {} on {}",
            target.real, target.service
        ),
    }
}

pub fn confirm(service: &ServiceView, real: &RealView, weight: Option<u32>) -> Confirmation {
    let r = real;
    let mut lines = real_lines(service, r);
    let change = match weight {
        Some(w) => format!("weight {} → {w} (sticky override)", current_weight(r)),
        None => format!(
            "weight {} → {} (override cleared, configured weight)",
            current_weight(r),
            r.configured_weight
        ),
    };
    lines.push(("change".into(), change));
    let note = if r.drain.is_some() {
        Some("It is drained: the new weight applies once undrained.".into())
    } else if weight == Some(0) {
        Some("Weight 0 takes no new connections, like a drain.".into())
    } else {
        None
    };
    Confirmation {
        title: "Change weight?".into(),
        lines,
        note,
        command: Command::Weight {
            target: super::target(service, r),
            weight,
        },
    }
}
