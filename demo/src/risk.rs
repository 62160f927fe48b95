//! Identity Protection on a sign-in: most carry no risk; about one in a hundred is flagged with a
//! level, a state and detections, as `riskEventTypes` and the same strings in `riskEventTypes_v2`.
//! Values are generated for every tier; hiding them below P2 (`hidden`) is the API's job.

use super::catalog::{RISK_EVENTS, RISK_LEVELS, RISK_OUTCOMES};
use super::rng::{Rng, weighted};

/// An Identity Protection finding on a sign-in.
#[derive(Debug)]
pub(super) struct Risk {
    pub level: &'static str,
    pub state: &'static str,
    pub detail: &'static str,
    pub events: Vec<(&'static str, &'static str)>,
    pub foreign: bool,
}

pub(super) fn risk(rng: &mut Rng) -> Risk {
    let (state, detail) = weighted!(rng, &RISK_OUTCOMES);
    let (v1, v2, _, foreign) = *pick_event(rng);
    let mut events = vec![(v1, v2)];
    if v1 == "anonymizedIPAddress" && rng.chance(0.3) {
        events.push(("unfamiliarFeatures", "unfamiliarFeatures"));
    }
    Risk { level: weighted!(rng, &RISK_LEVELS), state, detail, events, foreign }
}

pub(super) fn spray_risk(rng: &mut Rng) -> Risk {
    let event = if rng.chance(0.6) { "maliciousIPAddress" } else { "unfamiliarFeatures" };
    Risk {
        level: weighted!(rng, &[("low", 40), ("medium", 45), ("high", 15)]),
        state: "atRisk",
        detail: "none",
        events: vec![(event, event)],
        foreign: true,
    }
}

fn pick_event(rng: &mut Rng) -> &'static (&'static str, &'static str, u32, bool) {
    let total: u64 = RISK_EVENTS.iter().map(|e| u64::from(e.2)).sum();
    let mut roll = rng.below(total);
    for e in &RISK_EVENTS {
        if roll < u64::from(e.2) {
            return e;
        }
        roll -= u64::from(e.2);
    }
    &RISK_EVENTS[0]
}
