//! One module per area of the API; each command returns a report to print.

pub mod documents;
pub mod events;
pub mod facts;
pub mod incentive;
pub mod journey;
pub mod metrics;
pub mod reconcile;
pub mod webhooks;
