//! `clear`: every operator override goes (drains, weights, priorities) and the hold a
//! hand-over left; a drained director stays drained (`undrain-director` says so on purpose).

pub fn describe() -> String {
    "clear every drain, weight and priority override".to_string()
}
