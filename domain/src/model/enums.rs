//! Graph enums as their string member names, with room for members Graph adds later.
//!
//! A value is one of the CSDL's members, or (for evolvable enums) any other identifier-shaped
//! string a newer producer sends: it is stored as sent and never turned into a number.

use std::fmt;
use std::marker::PhantomData;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One Graph enum type: its CSDL name and members in CSDL order.
pub trait EnumDef {
    const NAME: &'static str;
    const MEMBERS: &'static [&'static str];
}

/// A value of the Graph enum `E`, as its member name.
pub struct EnumValue<E> {
    value: String,
    marker: PhantomData<E>,
}

impl<E: EnumDef> EnumValue<E> {
    /// The member name as sent.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.value
    }

    /// Whether the value is one of the CSDL's members (rather than a newer one).
    #[must_use]
    pub fn is_known(&self) -> bool {
        E::MEMBERS.contains(&self.value.as_str())
    }

    /// Parses a member name: a known member, or an identifier a newer Graph may have added.
    ///
    /// # Errors
    /// A message naming the enum and its members when `s` is not identifier-shaped.
    pub fn parse(s: &str) -> Result<Self, String> {
        let identifier = s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && s.len() <= 128
            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if identifier {
            Ok(Self { value: s.to_owned(), marker: PhantomData })
        } else {
            Err(format!(
                "'{}' is not a member of the enum {}; its members are {}",
                s.chars().take(64).collect::<String>(),
                E::NAME,
                E::MEMBERS.join(", ")
            ))
        }
    }
}

impl<E> Clone for EnumValue<E> {
    fn clone(&self) -> Self {
        Self { value: self.value.clone(), marker: PhantomData }
    }
}

impl<E> PartialEq for EnumValue<E> {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl<E> fmt::Debug for EnumValue<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.value, f)
    }
}

impl<E> Serialize for EnumValue<E> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.value)
    }
}

impl<'de, E: EnumDef> Deserialize<'de> for EnumValue<E> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

macro_rules! graph_enum {
    ($(#[$doc:meta])* $ty:ident = $name:literal [$($member:literal),* $(,)?]) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct $ty;
        impl EnumDef for $ty {
            const NAME: &'static str = $name;
            const MEMBERS: &'static [&'static str] = &[$($member),*];
        }
    };
}

graph_enum!(
    /// `microsoft.graph.conditionalAccessStatus`
    ConditionalAccessStatus = "conditionalAccessStatus" ["success", "failure", "notApplied", "unknownFutureValue"]
);
graph_enum!(
    /// `microsoft.graph.appliedConditionalAccessPolicyResult`
    AppliedConditionalAccessPolicyResult = "appliedConditionalAccessPolicyResult" [
        "success", "failure", "notApplied", "notEnabled", "unknown", "unknownFutureValue",
        "reportOnlySuccess", "reportOnlyFailure", "reportOnlyNotApplied", "reportOnlyInterrupted",
    ]
);
graph_enum!(
    /// `microsoft.graph.riskLevel`
    RiskLevel = "riskLevel" ["low", "medium", "high", "hidden", "none", "unknownFutureValue"]
);
graph_enum!(
    /// `microsoft.graph.riskState`
    RiskState = "riskState" ["none", "confirmedSafe", "remediated", "dismissed", "atRisk", "confirmedCompromised", "unknownFutureValue"]
);
graph_enum!(
    /// `microsoft.graph.riskDetail`
    RiskDetail = "riskDetail" [
        "none", "adminGeneratedTemporaryPassword", "userPerformedSecuredPasswordChange",
        "userPerformedSecuredPasswordReset", "adminConfirmedSigninSafe", "aiConfirmedSigninSafe",
        "userPassedMFADrivenByRiskBasedPolicy", "adminDismissedAllRiskForUser",
        "adminConfirmedSigninCompromised", "hidden", "adminConfirmedUserCompromised", "unknownFutureValue",
        "m365DAdminDismissedDetection", "adminConfirmedServicePrincipalCompromised",
        "adminDismissedAllRiskForServicePrincipal", "userChangedPasswordOnPremises",
        "adminDismissedRiskForSignIn", "adminConfirmedAccountSafe", "microsoftRevokedSessions",
    ]
);
graph_enum!(
    /// `microsoft.graph.riskEventType` (the type of `signIn.riskEventTypes`)
    RiskEventType = "riskEventType" [
        "unlikelyTravel", "anonymizedIPAddress", "maliciousIPAddress", "unfamiliarFeatures",
        "malwareInfectedIPAddress", "suspiciousIPAddress", "leakedCredentials",
        "investigationsThreatIntelligence", "generic", "adminConfirmedUserCompromised",
        "mcasImpossibleTravel", "mcasSuspiciousInboxManipulationRules",
        "investigationsThreatIntelligenceSigninLinked", "maliciousIPAddressValidCredentialsBlockedIP",
        "unknownFutureValue",
    ]
);
graph_enum!(
    /// `microsoft.graph.riskDetectionTimingType`
    RiskDetectionTimingType = "riskDetectionTimingType" ["notDefined", "realtime", "nearRealtime", "offline", "unknownFutureValue"]
);
graph_enum!(
    /// `microsoft.graph.activityType`
    ActivityType = "activityType" ["signin", "user", "unknownFutureValue", "servicePrincipal"]
);
graph_enum!(
    /// `microsoft.graph.operationResult`
    OperationResult = "operationResult" ["success", "failure", "timeout", "unknownFutureValue"]
);
graph_enum!(
    /// `microsoft.graph.tokenIssuerType` (PascalCase members, as Graph writes them)
    TokenIssuerType = "tokenIssuerType" [
        "AzureAD", "ADFederationServices", "UnknownFutureValue", "AzureADBackupAuth",
        "ADFederationServicesMFAAdapter", "NPSExtension",
    ]
);
graph_enum!(
    /// `microsoft.graph.groupType`
    GroupType = "groupType" ["unifiedGroups", "azureAD", "unknownFutureValue"]
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_and_future_members_are_accepted() {
        let v: EnumValue<RiskLevel> = serde_json::from_str("\"medium\"").unwrap();
        assert!(v.is_known());
        let v: EnumValue<RiskLevel> = serde_json::from_str("\"extreme\"").unwrap();
        assert!(!v.is_known());
    }

    #[test]
    fn non_identifiers_are_refused_with_the_members() {
        let err = serde_json::from_str::<EnumValue<RiskLevel>>("\"very high!\"").unwrap_err();
        assert!(err.to_string().contains("low, medium, high"), "{err}");
        assert!(serde_json::from_str::<EnumValue<RiskLevel>>("3").is_err());
    }
}
