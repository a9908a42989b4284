//! `drain-director` / `undrain-director` (`[bgp]`): every address this director announces
//! withdrawn (sticky across restarts), or announced again where its services have quorum.

use super::{Command, Confirmation};
use crate::snapshot::Snapshot;

pub fn describe(drain: bool) -> String {
    if drain {
        "drain this director: withdraw every address it announces over BGP".to_string()
    } else {
        "undrain this director: announce over BGP again".to_string()
    }
}

/// The console's dialog for the director shown (drain or undrain, as it stands), or why not.
pub fn confirm(snapshot: &Snapshot) -> Result<Confirmation, String> {
    let Some(bgp) = &snapshot.bgp else {
        return Err(
            "drain director: this director announces nothing over BGP (no [bgp]); a VRRP \
             director is emptied with a hand-over (h)"
                .into(),
        );
    };
    let host = &snapshot.host;
    let name = host
        .router_id
        .clone()
        .unwrap_or_else(|| host.hostname.clone());
    let (up, all) = bgp.sessions_up();
    let prefixes = |announced: bool| {
        let p: Vec<&str> = bgp
            .routes
            .iter()
            .filter(|r| r.announced == announced)
            .map(|r| r.prefix.as_str())
            .collect();
        if p.is_empty() {
            "none".to_string()
        } else {
            p.join(", ")
        }
    };
    let mut lines = vec![
        ("director".to_string(), name),
        ("sessions".to_string(), format!("{up}/{all} Established")),
    ];
    let (title, note, command) = match &bgp.drained {
        None => {
            lines.push(("announces".into(), prefixes(true)));
            lines.push((
                "change".into(),
                "withdraw them all; the routers send this director's flows to the others".into(),
            ));
            (
                "Drain this director?",
                "Connections under way move to the other directors and continue there \
                 (mh with the same table, sloppy TCP); kept across restarts until undrained.",
                Command::DrainDirector,
            )
        }
        Some(d) => {
            lines.push(("drained by".into(), d.by.clone()));
            lines.push(("withdrawn".into(), prefixes(false)));
            lines.push((
                "change".into(),
                "announce again every address whose services have quorum".into(),
            ));
            (
                "Undrain this director?",
                "The routers add this director back to their equal-cost routes.",
                Command::UndrainDirector,
            )
        }
    };
    Ok(Confirmation {
        title: title.into(),
        lines,
        note: Some(note.into()),
        command,
    })
}
