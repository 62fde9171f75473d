//! The idempotency key of a mutation: the client's request id, in the
//! caller's tenant and the method, who asked, and a hash of what was asked
//! (the request without its id).

use prost::Message;
use repat_store::Idempotency;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::auth::Caller;

/// Builds the key; `request` must already have its `request_id` cleared.
pub fn idempotency<M: Message>(
    caller: &Caller,
    method: &'static str,
    request_id: Uuid,
    request: &M,
) -> Idempotency {
    let digest = Sha256::digest(request.encode_to_vec());
    Idempotency {
        request_id,
        scope: caller.tenant(),
        principal: caller.subject.clone(),
        role: crate::token::role_name(caller.role).to_string(),
        method,
        fingerprint: hex::encode(digest),
    }
}
