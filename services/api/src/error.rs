//! The one mapping from what went wrong to a gRPC status.

use repat_core::journey::JourneyViolation;
use repat_core::repatriation::AllocationError;
use repat_store::StoreError;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

use crate::validate::Violations;

/// An error of the API, before it becomes a [`Status`].
#[derive(Debug)]
pub enum ApiError {
    /// Bad input: every field violation found.
    Invalid(Vec<FieldViolation>),
    Store(StoreError),
    NotFound(String),
    PermissionDenied(String),
    Unauthenticated(String),
    /// A limit of the caller's was reached (open streams).
    Exhausted(String),
    /// A uniqueness rule of the domain was broken.
    AlreadyExists(String),
    /// The step contradicts the journey.
    Journey(JourneyViolation),
    /// The allocations do not fit the earnings.
    Allocation(AllocationError),
    /// The request contradicts the state of what it concerns.
    Precondition(String),
}

impl From<repat_usecases::Error> for ApiError {
    fn from(e: repat_usecases::Error) -> Self {
        use repat_usecases::Error as E;
        match e {
            E::Invalid(found) => {
                // Bounded like every violation found at the edge: a
                // description may quote the input.
                let mut v = Violations::default();
                for x in found {
                    v.add(x.field, x.description);
                }
                ApiError::Invalid(v.into_list())
            }
            E::NotFound(m) => ApiError::NotFound(m),
            E::PermissionDenied(m) => ApiError::PermissionDenied(m),
            E::Duplicate(m) => ApiError::AlreadyExists(m),
            E::Journey(v) => ApiError::Journey(v),
            E::Allocation(a) => ApiError::Allocation(a),
            E::Precondition(m) => ApiError::Precondition(m),
            E::Store(s) => ApiError::Store(s),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::Store(e)
    }
}

impl From<Vec<FieldViolation>> for ApiError {
    fn from(v: Vec<FieldViolation>) -> Self {
        ApiError::Invalid(v)
    }
}

/// The field of the request an allocation error is about.
fn allocation_field(e: &AllocationError) -> String {
    match e {
        AllocationError::Empty => "allocations".into(),
        AllocationError::Duplicate { index, .. }
        | AllocationError::OtherParty { index, .. }
        | AllocationError::MixedCurrencies { index, .. }
        | AllocationError::NothingLeft { index, .. } => format!("allocations[{index}].earning_id"),
        AllocationError::CurrencyMismatch { index, .. }
        | AllocationError::OverAllocated { index, .. } => {
            format!("allocations[{index}].amount")
        }
    }
}

/// Violations named in the status message; all of them (already bounded
/// in number and length) are in the `BadRequest` details.
const VIOLATIONS_IN_MESSAGE: usize = 4;

fn invalid(violations: Vec<FieldViolation>) -> Status {
    let mut message = violations
        .iter()
        .take(VIOLATIONS_IN_MESSAGE)
        .map(|v| format!("{}: {}", v.field, v.description))
        .collect::<Vec<_>>()
        .join("; ");
    if violations.len() > VIOLATIONS_IN_MESSAGE {
        message.push_str(&format!(
            "; and {} more in the details",
            violations.len() - VIOLATIONS_IN_MESSAGE
        ));
    }
    Status::with_error_details(
        Code::InvalidArgument,
        message,
        ErrorDetails::with_bad_request(violations),
    )
}

impl From<ApiError> for Status {
    fn from(e: ApiError) -> Status {
        match e {
            ApiError::Invalid(v) => invalid(v),
            ApiError::NotFound(m) => Status::not_found(m),
            ApiError::PermissionDenied(m) => Status::permission_denied(m),
            ApiError::Unauthenticated(m) => Status::unauthenticated(m),
            ApiError::Exhausted(m) => Status::resource_exhausted(m),
            ApiError::AlreadyExists(m) => Status::already_exists(m),
            ApiError::Journey(v) => Status::failed_precondition(v.to_string()),
            ApiError::Precondition(m) => Status::failed_precondition(m),
            ApiError::Allocation(ref a) => match a {
                // Shape errors of the request itself.
                AllocationError::Empty
                | AllocationError::Duplicate { .. }
                | AllocationError::MixedCurrencies { .. }
                | AllocationError::CurrencyMismatch { .. } => invalid(vec![FieldViolation::new(
                    allocation_field(a),
                    a.to_string(),
                )]),
                // Another party's earning is answered exactly as an absent
                // one: its existence is not revealed.
                AllocationError::OtherParty { earning, .. } => Status::not_found(
                    StoreError::NotFound {
                        kind: "earning",
                        id: earning.to_string(),
                    }
                    .to_string(),
                ),
                // Contradicts what is stored.
                _ => Status::failed_precondition(format!("{}: {a}", allocation_field(a))),
            },
            ApiError::Store(e) => match e {
                StoreError::NotFound { .. } => Status::not_found(e.to_string()),
                StoreError::Duplicate(_) | StoreError::IdempotencyMismatch(_) => {
                    Status::already_exists(e.to_string())
                }
                StoreError::Precondition(_) => Status::failed_precondition(e.to_string()),
                StoreError::Unavailable(_) => Status::unavailable(e.to_string()),
                StoreError::Aborted(_) => Status::aborted(e.to_string()),
                StoreError::Config(_) | StoreError::Internal(_) => {
                    tracing::error!(error = %e, "internal storage error");
                    Status::internal("internal error; it has been logged")
                }
            },
        }
    }
}

/// Result of an API operation.
pub type ApiResult<T> = Result<T, ApiError>;
