//! Opaque page tokens: where the next page starts, bound to the filters of
//! the request that made it (a token used with other filters is refused).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::validate::Violations;

fn filter_tag(filters: &str) -> String {
    hex::encode(&Sha256::digest(filters.as_bytes())[..6])
}

/// The token for the page after sequence `after`.
pub fn encode(after: i64, filters: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("1:{after}:{}", filter_tag(filters)))
}

/// The token of the next page; empty on the last page.
pub fn next_token(next_after: Option<i64>, filters: &str) -> String {
    next_after.map(|a| encode(a, filters)).unwrap_or_default()
}

/// The sequence to continue after (0 for the first page).
pub fn decode(v: &mut Violations, token: &str, filters: &str) -> Option<i64> {
    if token.is_empty() {
        return Some(0);
    }
    let parsed = URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| {
            let mut parts = s.splitn(3, ':');
            match (
                parts.next(),
                parts.next().and_then(|a| a.parse::<i64>().ok()),
                parts.next(),
            ) {
                (Some("1"), Some(after), Some(tag)) if after >= 0 => Some((after, tag.to_string())),
                _ => None,
            }
        });
    match parsed {
        Some((after, tag)) if tag == filter_tag(filters) => Some(after),
        Some(_) => {
            v.add(
                "page_token",
                "was issued for a request with different filters",
            );
            None
        }
        None => {
            v.add("page_token", "is not a token this service issued");
            None
        }
    }
}

/// The token for the page after the row with id `after` (lists ordered by
/// id rather than by an internal sequence).
pub fn encode_id(after: uuid::Uuid, filters: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("2:{after}:{}", filter_tag(filters)))
}

/// The id to continue after (`None` for the first page).
pub fn decode_id(v: &mut Violations, token: &str, filters: &str) -> Option<Option<uuid::Uuid>> {
    if token.is_empty() {
        return Some(None);
    }
    let parsed = URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| {
            let mut parts = s.splitn(3, ':');
            match (
                parts.next(),
                parts.next().and_then(|a| a.parse::<uuid::Uuid>().ok()),
                parts.next(),
            ) {
                (Some("2"), Some(after), Some(tag)) => Some((after, tag.to_string())),
                _ => None,
            }
        });
    match parsed {
        Some((after, tag)) if tag == filter_tag(filters) => Some(Some(after)),
        Some(_) => {
            v.add(
                "page_token",
                "was issued for a request with different filters",
            );
            None
        }
        None => {
            v.add("page_token", "is not a token this service issued");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_binding() {
        let t = encode(42, "party=x");
        let mut v = Violations::default();
        assert_eq!(decode(&mut v, &t, "party=x"), Some(42));
        assert_eq!(decode(&mut v, &t, "party=y"), None);
        assert_eq!(decode(&mut v, "garbage", "party=x"), None);
        assert_eq!(v.0.len(), 2);
    }
}
