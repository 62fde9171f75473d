//! The one mapping from what went wrong to a gRPC status.

use repat_core::repatriation::AllocationError;
use repat_store::StoreError;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

/// An error of the API, before it becomes a [`Status`].
#[derive(Debug)]
pub enum ApiError {
    /// Bad input: every field violation found.
    Invalid(Vec<FieldViolation>),
    Store(StoreError),
    NotFound(String),
    PermissionDenied(String),
    Unauthenticated(String),
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

fn invalid(violations: Vec<FieldViolation>) -> Status {
    let message = violations
        .iter()
        .map(|v| format!("{}: {}", v.field, v.description))
        .collect::<Vec<_>>()
        .join("; ");
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
            ApiError::Store(e) => match e {
                StoreError::NotFound { .. } => Status::not_found(e.to_string()),
                StoreError::Duplicate(_) | StoreError::IdempotencyMismatch(_) => {
                    Status::already_exists(e.to_string())
                }
                StoreError::Journey(_) | StoreError::Precondition(_) => {
                    Status::failed_precondition(e.to_string())
                }
                StoreError::Allocation(ref a) => match a {
                    // Shape errors of the request itself.
                    AllocationError::Empty
                    | AllocationError::Duplicate { .. }
                    | AllocationError::MixedCurrencies { .. }
                    | AllocationError::CurrencyMismatch { .. } => {
                        invalid(vec![FieldViolation::new(
                            allocation_field(a),
                            a.to_string(),
                        )])
                    }
                    // Contradicts what is stored.
                    _ => Status::failed_precondition(format!("{}: {a}", allocation_field(a))),
                },
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
