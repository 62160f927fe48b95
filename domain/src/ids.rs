//! Identifier types constructed only by parsing: a `TenantId` or `Guid` in hand is always valid.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::DomainError;

/// Whether `s` is a GUID in the 8-4-4-4-12 hexadecimal form Graph uses (no braces).
#[must_use]
pub fn is_guid(s: &str) -> bool {
    let bytes = s.as_bytes();
    bytes.len() == 36
        && bytes.iter().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

/// A GUID as sent, case preserved (Graph compares GUIDs case-insensitively).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Guid(String);

impl Guid {
    /// Parses a GUID.
    ///
    /// # Errors
    /// [`DomainError::InvalidGuid`] when `s` is not in the 8-4-4-4-12 hexadecimal form.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        if is_guid(s) {
            Ok(Self(s.to_owned()))
        } else {
            Err(DomainError::InvalidGuid { value: s.chars().take(64).collect() })
        }
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The lower-case form used for storage keys and comparisons.
    #[must_use]
    pub fn to_key(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

impl fmt::Display for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for Guid {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Guid {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A GUID-valued Graph property that producers sometimes send as an empty string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuidOrEmpty(String);

impl GuidOrEmpty {
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Serialize for GuidOrEmpty {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for GuidOrEmpty {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s.is_empty() || is_guid(&s) {
            Ok(Self(s))
        } else {
            Err(serde::de::Error::custom(DomainError::InvalidGuid { value: s.chars().take(64).collect() }))
        }
    }
}

/// A tenant (directory) id: always a GUID, kept in lower case so that lookups are exact.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantId(String);

impl TenantId {
    /// Parses a tenant id.
    ///
    /// # Errors
    /// [`DomainError::InvalidGuid`] when `s` is not a GUID.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        Guid::parse(s).map(|g| Self(g.to_key()))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A tenant's license tier, which decides what it may read and how long its data is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LicenseTier {
    Free,
    P1,
    P2,
}

impl LicenseTier {
    pub const ALL: [Self; 3] = [Self::Free, Self::P1, Self::P2];

    /// Parses `free`, `p1` or `p2` (any case).
    ///
    /// # Errors
    /// [`DomainError::InvalidLicenseTier`] for anything else.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        match s.to_ascii_lowercase().as_str() {
            "free" => Ok(Self::Free),
            "p1" => Ok(Self::P1),
            "p2" => Ok(Self::P2),
            _ => Err(DomainError::InvalidLicenseTier { value: s.to_owned() }),
        }
    }

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Free => "free",
            Self::P1 => "p1",
            Self::P2 => "p2",
        }
    }

    /// Whether the tier includes Entra ID Premium P1 features (P1 or P2).
    #[must_use]
    pub fn is_premium(self) -> bool {
        self >= Self::P1
    }
}

impl fmt::Display for LicenseTier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The label hashed before the parts of a [`derived_guid`]: it names the construction, so that a
/// future one (`v2`) cannot give the same GUID for the same parts.
const DERIVED_GUID_LABEL: &[u8] = b"idtrail derived_guid v1";

/// A GUID that is a pure function of `parts`: the ids of records idtrail writes itself (the
/// history item of an ingested risky-user change that has no id of its own, the history item and
/// audit event of an admin action). The same parts always give the same GUID, on every machine and
/// in every version that keeps this construction, so writing the same record twice meets the first
/// one's id instead of storing a copy. How far that holds is up to the caller's parts: an ingested
/// change's parts are its own values (a resent change is recognised), an admin action's include the
/// `request-id` of its HTTP request, which is random, so every request is a new action (and a
/// client that retries a request makes a second action, as with Graph).
///
/// The construction (fixed; changing it changes the ids stored from then on):
/// SHA-256 over [`DERIVED_GUID_LABEL`], then for each part its length in bytes as a big-endian
/// `u64` followed by its UTF-8 bytes (so no two lists of parts hash the same bytes); the first 16
/// bytes of the digest, with the version nibble set to 8 and the variant bits to `10`, as RFC 9562
/// describes for a name-based version-8 UUID over SHA-256; written in lower-case 8-4-4-4-12 form.
#[must_use]
pub fn derived_guid(parts: &[&str]) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    hasher.update(DERIVED_GUID_LABEL);
    for part in parts {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part.as_bytes());
    }
    let digest = hasher.finalize();
    let mut first = [0_u8; 16];
    for (b, d) in first.iter_mut().zip(digest.iter()) {
        *b = *d;
    }
    let n = u128::from_be_bytes(first);
    // Version 8 in bits 76..80 (the 13th hex digit), variant `10` in bits 62..64.
    let n = (n & !(0xF << 76)) | (0x8 << 76);
    let n = (n & !(0x3 << 62)) | (0x2 << 62);
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        n >> 96,
        (n >> 80) & 0xFFFF,
        (n >> 64) & 0xFFFF,
        (n >> 48) & 0xFFFF,
        n & 0xFFFF_FFFF_FFFF
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guids_are_checked_by_shape() {
        assert!(is_guid("66ea54eb-6301-4ee5-be62-ff5a759b0100"));
        assert!(is_guid("66EA54EB-6301-4EE5-BE62-FF5A759B0100"));
        assert!(!is_guid("66ea54eb63014ee5be62ff5a759b0100"));
        assert!(!is_guid("{66ea54eb-6301-4ee5-be62-ff5a759b0100}"));
        assert!(!is_guid("66ea54eb-6301-4ee5-be62-ff5a759b010g"));
    }

    #[test]
    fn tenant_ids_are_lower_cased() {
        let t = TenantId::parse("AAAAAAAA-6301-4ee5-be62-ff5a759b0100").unwrap();
        assert_eq!(t.as_str(), "aaaaaaaa-6301-4ee5-be62-ff5a759b0100");
    }

    /// The construction written out: these GUIDs were computed from its description (SHA-256,
    /// label, length-prefixed parts, version and variant bits) by a separate implementation, not by
    /// this code. If this test fails, stored ids no longer match new ones: that needs a new label.
    #[test]
    fn derived_guids_match_the_fixed_test_vectors() {
        let parts = [
            "b4c9f32e-2a6d-4c8e-9f1a-7d3e5c2b8a61",
            "66ea54eb-6301-4ee5-be62-ff5a759b0100",
            "c0ffee00-0000-4000-8000-000000000001",
            "dismiss",
            "history",
        ];
        assert_eq!(derived_guid(&parts), "9ae3b0ef-f6c3-8ba0-ada7-f5dc6a9d154b");
        // No parts: the label's SHA-256 is 11064f5c2afd3637852cb95a7b6aa5e0..., version and variant set.
        assert_eq!(derived_guid(&[]), "11064f5c-2afd-8637-852c-b95a7b6aa5e0");
        // The length prefix keeps part boundaries apart.
        assert_eq!(derived_guid(&["ab", "c"]), "cc63fec3-74a2-8332-bb96-1a0fdf0a8fa8");
        assert_eq!(derived_guid(&["a", "bc"]), "0dfea456-bf67-8fbf-8e15-6987f3db0ef0");
    }

    #[test]
    fn derived_guids_are_version_8_with_the_rfc_variant() {
        for n in 0..200 {
            let g = derived_guid(&["tenant", &n.to_string()]);
            assert!(is_guid(&g), "{g}");
            assert_eq!(g.chars().nth(14), Some('8'), "{g}");
            assert!(matches!(g.chars().nth(19), Some('8' | '9' | 'a' | 'b')), "{g}");
            assert_eq!(g, g.to_ascii_lowercase());
        }
        assert_ne!(derived_guid(&["a"]), derived_guid(&["a", ""]));
    }

    #[test]
    fn license_tiers_parse_and_order() {
        assert_eq!(LicenseTier::parse("P2").unwrap(), LicenseTier::P2);
        assert!(LicenseTier::parse("gold").is_err());
        assert!(LicenseTier::P1.is_premium() && !LicenseTier::Free.is_premium());
    }
}
