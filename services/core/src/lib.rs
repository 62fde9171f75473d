//! The repat domain, pure and synchronous: money and currencies, parties and
//! earnings, the journey of a payment and its ordering rules, and the
//! durations and fees measured along it. No I/O lives here.

pub mod audit;
pub mod currency;
pub mod document;
pub mod durations;
pub mod earning;
pub mod events;
pub mod facts;
pub mod incentive;
pub mod journey;
pub mod metrics;
pub mod money;
pub mod names;
pub mod party;
pub mod reconcile;
pub mod repatriation;
pub mod time;

pub use currency::Currency;
pub use money::{Money, MoneyError};
pub use names::Named;
