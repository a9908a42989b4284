//! `doctor`: the daemon runs the doctor's checks now; the report comes with the Snapshot.
//! Probes, not a change: no confirm dialog.

pub fn describe() -> String {
    "run the doctor's checks".to_string()
}
