//! Delay metrics: what each journey contributes (observations of waits and
//! spans, and a summary for the scorecard and deadline checks), how
//! percentiles are defined, and the calendar the G20 "one business day"
//! counts in.

pub mod business;
pub mod observe;
pub mod sketch;
pub mod stats;

pub use observe::{JourneySummary, Observation, observations, summary};
pub use stats::Summary;
