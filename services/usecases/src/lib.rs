//! The use cases of repat, one module each: the authorization it needs,
//! what it loads, the pure core call (`repat-core`), and one transaction
//! through the store (`repat-store`), then what it announces. gRPC handlers
//! (`repat-api`) decode a request, call one use case and encode its answer,
//! so a reader finds any RPC's whole path in three files: its handler, its
//! use case here, and the store.
//!
//! Every use case takes the [`Caller`]. The store is reached only through
//! [`App::store`], against a [`Permit`] that only [`auth::authorize`]
//! makes: a use case cannot touch data before it has authorized its
//! caller. Reads of a record whose party decides (a repatriation, an
//! earning) load it and hand it over only once the caller may see it.
//!
//! Writes: `create_party`, `create_party_fact`, `create_document`,
//! `create_earning`, `create_repatriation`,
//! `record_steps`, `assess`, `file_claim`, `record_claim_step`,
//! `import_statement`, `run_matching`, `manual_match`, `unmatch`;
//! corrections: `amend_earning`, `void_earning`, `correct_party`, `void_step`,
//! `void_statement`.
//! Reads, by what they show: `parties`, `documents`, `earnings`,
//! `repatriations`,
//! `incentive`, `reconciliation`, `metrics`, `audit`, `events`; and
//! `webhooks`, whose writes the store still makes whole.

mod app;
pub mod auth;
pub mod changes;
pub mod error;
pub mod observe;
pub mod rules;

pub mod amend_earning;
pub mod assess;
pub mod audit;
pub mod correct_party;
pub mod create_document;
pub mod create_earning;
pub mod create_party;
pub mod create_party_fact;
pub mod create_repatriation;
pub mod deadlines;
pub mod documents;
pub mod earnings;
pub mod events;
pub mod file_claim;
pub mod import_statement;
pub mod incentive;
pub mod manual_match;
pub mod metrics;
pub mod parties;
pub mod reconciliation;
pub mod record_claim_step;
pub mod record_steps;
pub mod repatriations;
pub mod run_matching;
pub mod unmatch;
pub mod void_earning;
pub mod void_statement;
pub mod void_step;
pub mod webhooks;

pub use app::{App, DEFAULT_MAX_STEPS_PER_JOURNEY};
pub use auth::{Action, Caller, Permit, Role};
pub use error::{Error, Result, Violation};
