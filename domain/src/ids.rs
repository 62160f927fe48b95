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

/// A GUID derived from `parts` (the same parts give the same GUID): ids of records idtrail writes
/// itself (history items, audit events of admin actions), so a retried write cannot store twice.
#[must_use]
pub fn derived_guid(parts: &[&str]) -> String {
    use crate::demo::rng::{hash_str, stable_guid};
    let words: Vec<u64> = parts.iter().map(|p| hash_str(p)).collect();
    stable_guid(&words)
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

    #[test]
    fn license_tiers_parse_and_order() {
        assert_eq!(LicenseTier::parse("P2").unwrap(), LicenseTier::P2);
        assert!(LicenseTier::parse("gold").is_err());
        assert!(LicenseTier::P1.is_premium() && !LicenseTier::Free.is_premium());
    }
}
