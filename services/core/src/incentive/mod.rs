//! The cash incentive: rule sets as data ([`rules`]), the case a recorded
//! journey makes ([`case`]), and the exact, explained evaluation of one
//! realized repatriation against the rules ([`assess`]).

pub mod assess;
pub mod case;
pub mod claim;
pub mod rules;
pub mod totals;

pub use assess::{Assessment, Case, Overflow, Reason, Violation, assess};
pub use case::{JourneyFacts, Supplied, case_of};
pub use rules::{RuleSet, RuleSetError};
