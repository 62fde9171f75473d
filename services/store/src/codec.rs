//! Conversions between domain values and column values shared by both
//! backends: enum names, money, and the JSON of nested lists.

use chrono::{DateTime, SubsecRound, Utc};
use repat_core::journey::FxRate;
use repat_core::money::parse_currency;
use repat_core::{Money, Named};
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::{Idempotency, StoreError};

/// Namespace of ids derived from request ids.
const ID_NAMESPACE: Uuid = Uuid::from_u128(0x7e5a_1d2c_0b9f_4c3e_a5f1_6d0e_8b2a_9c41);

/// The id of the resource a request creates: derived from its key (tenant,
/// method, request id), so the same request gives the same id on every
/// backend and every retry, and two tenants' equal request ids give two ids.
pub fn derive_id(idem: &Idempotency) -> Uuid {
    let mut name = Vec::with_capacity(idem.scope.len() + idem.method.len() + 18);
    // Lengths first, so no two keys give the same bytes.
    for part in [idem.scope.as_bytes(), idem.method.as_bytes()] {
        name.extend_from_slice(&(part.len() as u32).to_be_bytes());
        name.extend_from_slice(part);
    }
    name.extend_from_slice(idem.request_id.as_bytes());
    Uuid::new_v5(&ID_NAMESPACE, &name)
}

/// The server's clock, to the microsecond both backends keep.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

pub fn from_name<T: Named>(column: &str, s: &str) -> Result<T, StoreError> {
    T::from_name(s)
        .ok_or_else(|| StoreError::Internal(format!("unknown {column} {s:?} in storage")))
}

pub fn money(amount: Decimal, currency: &str) -> Result<Money, StoreError> {
    let c = parse_currency(currency)
        .map_err(|e| StoreError::Internal(format!("stored currency {e}")))?;
    Money::new(amount, c).map_err(|e| StoreError::Internal(format!("stored amount {e}")))
}

pub fn fx(
    source: Option<String>,
    target: Option<String>,
    rate: Option<Decimal>,
) -> Result<Option<FxRate>, StoreError> {
    match (source, target, rate) {
        (Some(s), Some(t), Some(rate)) => {
            let cur = |c: &str| {
                parse_currency(c).map_err(|e| StoreError::Internal(format!("stored currency {e}")))
            };
            Ok(Some(FxRate {
                source: cur(&s)?,
                target: cur(&t)?,
                rate,
            }))
        }
        _ => Ok(None),
    }
}

pub fn to_json<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    Ok(serde_json::to_string(v)?)
}

pub fn from_json<T: serde::de::DeserializeOwned>(s: &str) -> Result<T, StoreError> {
    Ok(serde_json::from_str(s)?)
}
