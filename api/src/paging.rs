//! `$skiptoken`: an opaque, signed keyset position. The token carries the sort key of the last row
//! of a page and a hash of what it is bound to (tenant, caller, entity set, query options other
//! than `$top` and `$skiptoken`), signed with HMAC-SHA256 under a key kept in the database.
//! Tokens do not expire: one we issued is accepted for as long as its rows are in retention.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use domain::query::Scalar;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use storage::{StorageResult, Store};

use crate::error::ApiError;

type HmacSha256 = Hmac<Sha256>;

const KEY_SETTING: &str = "paging_key_v1";
const SIGNATURE_BYTES: usize = 16;
const MAX_TOKEN_CHARS: usize = 2048;

#[derive(Debug, Serialize, Deserialize)]
struct Body {
    /// Format version.
    v: u8,
    /// What the token is bound to (truncated SHA-256, hex).
    b: String,
    /// The sort key of the last row served: one value per sort key, then the id.
    c: Vec<Scalar>,
}

/// Issues and opens skiptokens.
pub struct PageSigner {
    key: Vec<u8>,
}

impl std::fmt::Debug for PageSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PageSigner")
    }
}

impl PageSigner {
    #[must_use]
    pub fn new(key: Vec<u8>) -> Self {
        Self { key }
    }

    /// The signer with the database's paging key, created on first use.
    ///
    /// # Errors
    /// Database errors.
    pub fn from_store(store: &Store) -> StorageResult<Self> {
        let hex = store.setting_or_insert(KEY_SETTING, || {
            let k: [u8; 32] = rand::random();
            k.iter().map(|b| format!("{b:02x}")).collect()
        })?;
        Ok(Self::new(hex.into_bytes()))
    }

    fn mac(&self, data: &[u8]) -> Vec<u8> {
        // HMAC accepts keys of any length, so this cannot fail.
        let mut mac = HmacSha256::new_from_slice(&self.key).unwrap_or_else(|_| unreachable_mac());
        mac.update(data);
        mac.finalize().into_bytes().into_iter().take(SIGNATURE_BYTES).collect()
    }

    /// A token for the keyset position `cursor` under `binding`.
    #[must_use]
    pub fn issue(&self, binding: &str, cursor: &[Scalar]) -> String {
        let body = Body { v: 2, b: binding.to_owned(), c: cursor.to_vec() };
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&body).unwrap_or_default());
        let sig = URL_SAFE_NO_PAD.encode(self.mac(payload.as_bytes()));
        format!("{payload}.{sig}")
    }

    /// The keyset position in `token`, if we issued it for `binding`.
    ///
    /// # Errors
    /// [`ApiError::BadRequest`] saying whether the token was altered or belongs to another query.
    pub fn open(&self, binding: &str, token: &str) -> Result<Vec<Scalar>, ApiError> {
        let altered = || {
            ApiError::BadRequest(
                "The $skiptoken is not valid: it was altered, truncated, or not issued by this service. \
                 Follow @odata.nextLink exactly as returned."
                    .into(),
            )
        };
        if token.len() > MAX_TOKEN_CHARS {
            return Err(altered());
        }
        let (payload, sig) = token.split_once('.').ok_or_else(altered)?;
        let sig = URL_SAFE_NO_PAD.decode(sig).map_err(|_| altered())?;
        let expected = self.mac(payload.as_bytes());
        if !constant_time_eq(&sig, &expected) {
            return Err(altered());
        }
        let raw = URL_SAFE_NO_PAD.decode(payload).map_err(|_| altered())?;
        let body: Body = serde_json::from_slice(&raw).map_err(|_| altered())?;
        if body.v != 2 {
            return Err(altered());
        }
        if body.b != binding {
            return Err(ApiError::BadRequest(
                "The $skiptoken was issued for a different query or caller. Keep every query option of \
                 the request that returned it (only $top may change), and use it with the same token."
                    .into(),
            ));
        }
        Ok(body.c)
    }
}

fn unreachable_mac() -> HmacSha256 {
    // Hmac::new_from_slice only fails for fixed-size keys; SHA-256 HMAC takes any size.
    panic!("HMAC-SHA256 rejected its key")
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The binding of a page token: who asked, for which set, with which options.
#[must_use]
pub fn binding(principal_binding: &str, entity_set: &str, canonical_options: &str) -> String {
    let mut h = Sha256::new();
    for part in [principal_binding, entity_set, canonical_options] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    h.finalize().into_iter().take(12).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_refuse_tampering() {
        let s = PageSigner::new(b"k".to_vec());
        let cursor = vec![Scalar::Ticks(42), Scalar::Null, Scalar::Text("abc".into())];
        let t = s.issue("b1", &cursor);
        assert_eq!(s.open("b1", &t).unwrap(), cursor);
        assert!(s.open("b2", &t).unwrap_err().to_string().contains("different query"));
        let mut tampered = t.clone();
        tampered.insert(3, 'x');
        assert!(s.open("b1", &tampered).unwrap_err().to_string().contains("altered"));
        assert!(PageSigner::new(b"other".to_vec()).open("b1", &t).is_err());
        assert!(s.open("b1", "garbage").is_err());
    }
}
