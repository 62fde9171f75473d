//! The cash incentive: rule sets as data ([`rules`]) and the exact,
//! explained evaluation of one realized repatriation against them
//! ([`assess`]).

pub mod assess;
pub mod rules;

pub use assess::{Assessment, Case, Reason, Violation, assess};
pub use rules::{RuleSet, RuleSetError};
