//! OData CSDL (`$metadata`) for the served types: enums, complex and entity types traced from the
//! domain models, the `auditLogs` and `identityProtection` roots with their contained entity sets,
//! and capability annotations read from the registries (what can be filtered, sorted, counted,
//! paged). Types are written flat (no `graph.entity` base): the property sets are Graph's.

use std::fmt::Write as _;

use domain::query::EntitySet;
use domain::query::registry::all_sets;

use crate::model::{StructuredType, Traced};

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn structured(out: &mut String, t: &StructuredType, entity: bool, navigation: &[(&str, &str)]) {
    let tag = if entity { "EntityType" } else { "ComplexType" };
    let open = if t.open { r#" OpenType="true""# } else { "" };
    let _ = writeln!(out, r#"      <{tag} Name="{}"{open}>"#, escape(&t.name));
    if entity {
        out.push_str("        <Key>\n          <PropertyRef Name=\"id\" />\n        </Key>\n");
    }
    for p in &t.properties {
        let nullable = if p.nullable { "" } else { r#" Nullable="false""# };
        let _ = writeln!(out, r#"        <Property Name="{}" Type="{}"{nullable} />"#, escape(&p.name), p.shape.csdl());
    }
    for (name, ty) in navigation {
        let _ = writeln!(
            out,
            r#"        <NavigationProperty Name="{name}" Type="Collection(graph.{ty})" ContainsTarget="true" />"#
        );
    }
    let _ = writeln!(out, "      </{tag}>");
}

fn record(out: &mut String, term: &str, props: &[String]) {
    let _ = writeln!(out, r#"        <Annotation Term="Org.OData.Capabilities.V1.{term}">"#);
    out.push_str("          <Record>\n");
    for value in props {
        let _ = writeln!(out, "            {value}");
    }
    out.push_str("          </Record>\n        </Annotation>\n");
}

fn bool_value(name: &str, v: bool) -> String {
    format!(r#"<PropertyValue Property="{name}" Bool="{v}" />"#)
}

fn paths_value(name: &str, paths: &[String]) -> String {
    let mut s = format!(r#"<PropertyValue Property="{name}">"#);
    s.push_str("<Collection>");
    for p in paths {
        let _ = write!(s, "<PropertyPath>{}</PropertyPath>", escape(p));
    }
    s.push_str("</Collection></PropertyValue>");
    s
}

/// The top-level properties of `set` that no filter path starts with, and those no sort key does.
fn restrictions(set: &EntitySet, t: &StructuredType) -> (Vec<String>, Vec<String>) {
    let top = |path: &str| path.split('/').next().unwrap_or(path).to_owned();
    let filterable: Vec<String> = set.filterable_paths().map(top).collect();
    let sortable: Vec<String> = set.fields.iter().filter(|f| f.sortable).map(|f| top(f.path)).collect();
    let names = t.properties.iter().map(|p| p.name.clone());
    (names.clone().filter(|n| !filterable.contains(n)).collect(), names.filter(|n| !sortable.contains(n)).collect())
}

fn annotations(out: &mut String, set: &EntitySet, t: &StructuredType) {
    let (non_filterable, non_sortable) = restrictions(set, t);
    let _ = writeln!(out, r#"      <Annotations Target="microsoft.graph.{}">"#, set.type_name);
    record(out, "CountRestrictions", &[bool_value("Countable", true)]);
    record(
        out,
        "FilterRestrictions",
        &[bool_value("Filterable", true), paths_value("NonFilterableProperties", &non_filterable)],
    );
    record(
        out,
        "SortRestrictions",
        &[bool_value("Sortable", true), paths_value("NonSortableProperties", &non_sortable)],
    );
    record(out, "SelectSupport", &[bool_value("Supported", true)]);
    out.push_str(r#"        <Annotation Term="Org.OData.Capabilities.V1.TopSupported" Bool="true" />"#);
    out.push('\n');
    out.push_str(r#"        <Annotation Term="Org.OData.Capabilities.V1.SkipSupported" Bool="false" />"#);
    out.push('\n');
    let _ = writeln!(
        out,
        r#"        <Annotation Term="Org.OData.Core.V1.Description" String="Pages of {} items by default ($top from 1 to {}), newest first; continue with @odata.nextLink." />"#,
        set.default_top, set.max_top
    );
    out.push_str("      </Annotations>\n");
}

/// The contained sets of a root or entity type: (navigation name, element type).
fn contained(parent: &str) -> Vec<(&'static str, &'static str)> {
    all_sets()
        .filter_map(|s| {
            let (head, last) = s.name.rsplit_once('/')?;
            let head_type =
                if head.contains('/') { all_sets().find(|p| p.name == head).map(|p| p.type_name)? } else { head };
            (head_type == parent).then_some((last, s.type_name))
        })
        .collect()
}

/// The roots (`auditLogs`, `identityProtection`), in registry order.
fn roots() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for s in all_sets() {
        if let Some(root) = s.name.split('/').next()
            && !out.contains(&root)
            && s.kind.parent().is_none()
        {
            out.push(root);
        }
    }
    out
}

/// Graph's name for a singleton's type: `auditLogs` → `auditLogRoot`.
fn root_type(singleton: &str) -> String {
    format!("{}Root", singleton.strip_suffix('s').unwrap_or(singleton))
}

/// The `$metadata` document for `version` (`v1.0` or `beta`).
///
/// # Errors
/// When a model cannot be traced.
pub fn metadata(version: &str) -> Result<String, String> {
    let types = crate::all_types()?;
    Ok(render(&types, version))
}

fn render(types: &Traced, version: &str) -> String {
    let mut out = String::with_capacity(32 * 1024);
    out.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    out.push_str(r#"<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">"#);
    out.push('\n');
    out.push_str("  <edmx:DataServices>\n");
    let _ = writeln!(
        out,
        r#"    <Schema Namespace="microsoft.graph" Alias="graph" xmlns="http://docs.oasis-open.org/odata/ns/edm">"#
    );
    let _ = writeln!(
        out,
        "      <!-- idtrail {}: the {version} reporting types.{} -->",
        env!("CARGO_PKG_VERSION"),
        if version == "beta" { " Under /beta, documents may carry properties beyond these (open)." } else { "" }
    );
    for (name, members) in &types.enums {
        let _ = writeln!(out, r#"      <EnumType Name="{}">"#, escape(name));
        for (i, m) in members.iter().enumerate() {
            let _ = writeln!(out, r#"        <Member Name="{}" Value="{i}" />"#, escape(m));
        }
        out.push_str("      </EnumType>\n");
    }
    let entity_names: Vec<&str> = all_sets().map(|s| s.type_name).collect();
    for t in types.types.iter().filter(|t| !entity_names.contains(&t.name.as_str())) {
        structured(&mut out, t, false, &[]);
    }
    let beta = version == "beta";
    for root in roots() {
        // Keyless, as Graph declares the singletons' types.
        let _ = writeln!(out, r#"      <EntityType Name="{}">"#, root_type(root));
        let mut navigation = contained(root);
        if beta && root == "auditLogs" {
            navigation.extend(BETA_AUDIT_LOG_SUMMARIES);
        }
        for (name, ty) in navigation {
            let _ = writeln!(
                out,
                r#"        <NavigationProperty Name="{name}" Type="Collection(graph.{ty})" ContainsTarget="true" />"#
            );
        }
        out.push_str("      </EntityType>\n");
    }
    if beta {
        out.push_str(BETA_REPORT_TYPES);
    }
    for set in all_sets() {
        if let Some(t) = types.types.iter().find(|t| t.name == set.type_name) {
            structured(&mut out, t, true, &contained(set.type_name));
        }
    }
    out.push_str("      <EntityContainer Name=\"GraphService\">\n");
    for root in roots() {
        let _ = writeln!(out, r#"        <Singleton Name="{root}" Type="microsoft.graph.{}" />"#, root_type(root));
    }
    if beta {
        out.push_str("        <Singleton Name=\"reports\" Type=\"microsoft.graph.reportRoot\" />\n");
    }
    out.push_str("      </EntityContainer>\n");
    for set in all_sets() {
        if let Some(t) = types.types.iter().find(|t| t.name == set.type_name) {
            annotations(&mut out, set, t);
        }
    }
    out.push_str("    </Schema>\n");
    out.push_str(IDTRAIL_REPORT_TYPES);
    out.push_str("  </edmx:DataServices>\n</edmx:Edmx>\n");
    out
}

/// `auditLogs`' beta summaries (navigation name, element type).
const BETA_AUDIT_LOG_SUMMARIES: [(&str, &str); 2] =
    [("signInEventsSummary", "signInEventsActivity"), ("signInEventsAppSummary", "signInEventsAppActivity")];

/// Graph's beta report types that idtrail serves (`reports/getAzureADApplicationSignInSummary`,
/// `reports/applicationSignInDetailedSummary`, `auditLogs/signInEventsSummary` and
/// `/signInEventsAppSummary`), as Graph's beta CSDL declares them.
const BETA_REPORT_TYPES: &str = r#"      <EntityType Name="reportRoot">
        <NavigationProperty Name="applicationSignInDetailedSummary" Type="Collection(graph.applicationSignInDetailedSummary)" ContainsTarget="true" />
      </EntityType>
      <EntityType Name="applicationSignInSummary">
        <Key>
          <PropertyRef Name="id" />
        </Key>
        <Property Name="id" Type="Edm.String" Nullable="false" />
        <Property Name="appDisplayName" Type="Edm.String" Nullable="false" />
        <Property Name="failedSignInCount" Type="Edm.Int64" />
        <Property Name="successfulSignInCount" Type="Edm.Int64" />
        <Property Name="successPercentage" Type="Edm.Double" />
      </EntityType>
      <EntityType Name="applicationSignInDetailedSummary">
        <Key>
          <PropertyRef Name="id" />
        </Key>
        <Property Name="id" Type="Edm.String" Nullable="false" />
        <Property Name="aggregatedEventDateTime" Type="Edm.DateTimeOffset" />
        <Property Name="appDisplayName" Type="Edm.String" />
        <Property Name="appId" Type="Edm.String" />
        <Property Name="signInCount" Type="Edm.Int64" />
        <Property Name="status" Type="graph.signInStatus" />
      </EntityType>
      <EntityType Name="signInEventsActivity">
        <Key>
          <PropertyRef Name="id" />
        </Key>
        <Property Name="id" Type="Edm.String" Nullable="false" />
        <Property Name="activityDateTime" Type="Edm.DateTimeOffset" />
        <Property Name="signInCount" Type="Edm.Int32" />
      </EntityType>
      <EntityType Name="signInEventsAppActivity">
        <Key>
          <PropertyRef Name="appId" />
        </Key>
        <Property Name="appId" Type="Edm.String" Nullable="false" />
        <Property Name="signInCount" Type="Edm.Int32" />
        <Property Name="tenantId" Type="Edm.String" />
      </EntityType>
      <Function Name="getAzureADApplicationSignInSummary" IsBound="true">
        <Parameter Name="bindingParameter" Type="graph.reportRoot" />
        <Parameter Name="period" Type="Edm.String" Unicode="false" />
        <ReturnType Type="Collection(graph.applicationSignInSummary)" />
      </Function>
"#;

/// idtrail's own reports (`/idtrail/reports/signInActivity` and `/topApplications`, outside the
/// OData service root): their result types, for clients that read types from `$metadata`.
const IDTRAIL_REPORT_TYPES: &str = r#"    <Schema Namespace="idtrail" xmlns="http://docs.oasis-open.org/odata/ns/edm">
      <ComplexType Name="activityNumbers">
        <Property Name="signIns" Type="Edm.Int64" Nullable="false" />
        <Property Name="successful" Type="Edm.Int64" Nullable="false" />
        <Property Name="failed" Type="Edm.Int64" Nullable="false" />
        <Property Name="distinctUsers" Type="Edm.Int64" Nullable="false" />
        <Property Name="drillDown" Type="Edm.String" Nullable="false" />
        <Annotation Term="Org.OData.Core.V1.Description" String="Sign-ins (successful: status/errorCode 0; failed: any other), distinct users, and the /v1.0/auditLogs/signIns URL whose $filter lists exactly these sign-ins." />
      </ComplexType>
      <ComplexType Name="activityBucket" BaseType="idtrail.activityNumbers">
        <Property Name="start" Type="Edm.DateTimeOffset" Nullable="false" />
        <Property Name="end" Type="Edm.DateTimeOffset" Nullable="false" />
        <Property Name="partial" Type="Edm.Boolean" Nullable="false" />
      </ComplexType>
      <ComplexType Name="signInActivityReport">
        <Property Name="period" Type="Edm.String" Nullable="false" />
        <Property Name="interval" Type="Edm.String" Nullable="false" />
        <Property Name="timeZone" Type="Edm.String" Nullable="false" />
        <Property Name="weekStartsOn" Type="Edm.String" />
        <Property Name="start" Type="Edm.DateTimeOffset" Nullable="false" />
        <Property Name="end" Type="Edm.DateTimeOffset" Nullable="false" />
        <Property Name="appId" Type="Edm.String" />
        <Property Name="userIds" Type="Collection(Edm.String)" />
        <Property Name="buckets" Type="Collection(idtrail.activityBucket)" Nullable="false" />
        <Property Name="totals" Type="idtrail.activityNumbers" Nullable="false" />
        <Annotation Term="Org.OData.Core.V1.Description" String="GET /idtrail/reports/signInActivity?period=P30D&amp;interval=P1W" />
      </ComplexType>
      <ComplexType Name="applicationUsage" BaseType="idtrail.activityNumbers">
        <Property Name="appId" Type="Edm.String" Nullable="false" />
        <Property Name="appDisplayName" Type="Edm.String" />
        <Property Name="buckets" Type="Collection(idtrail.activityBucket)" Nullable="false" />
      </ComplexType>
      <ComplexType Name="topApplicationsReport">
        <Property Name="period" Type="Edm.String" Nullable="false" />
        <Property Name="interval" Type="Edm.String" Nullable="false" />
        <Property Name="timeZone" Type="Edm.String" Nullable="false" />
        <Property Name="weekStartsOn" Type="Edm.String" />
        <Property Name="start" Type="Edm.DateTimeOffset" Nullable="false" />
        <Property Name="end" Type="Edm.DateTimeOffset" Nullable="false" />
        <Property Name="top" Type="Edm.Int32" Nullable="false" />
        <Property Name="userIds" Type="Collection(Edm.String)" />
        <Property Name="applications" Type="Collection(idtrail.applicationUsage)" Nullable="false" />
        <Annotation Term="Org.OData.Core.V1.Description" String="GET /idtrail/reports/topApplications?period=P30D&amp;top=3&amp;interval=P1W" />
      </ComplexType>
    </Schema>
"#;
