//! The contract as served: `$metadata` agrees with Graph's CSDL (property names, types,
//! nullability, enum members), every path of the OpenAPI document is routed, and the document,
//! Swagger UI and `$metadata` are served with their content types.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use actix_web::http::StatusCode;
use actix_web::test;
use serde_json::Value;

use crate::support::*;

const GRAPH_CSDL: &str = include_str!("../../../spec/graph/graph-csdl-reporting.xml");

/// Property name → (type, nullable).
type Props = BTreeMap<String, (String, bool)>;
/// Type name → its properties, with base types' properties folded in.
type Types = BTreeMap<String, Props>;
/// Name → member or navigation-property names.
type Names = HashMap<String, Vec<String>>;

fn strip(ty: &str) -> String {
    ty.replace("microsoft.graph.", "graph.")
}

fn read_csdl(xml: &str) -> (Types, Names, Names) {
    let doc = roxmltree::Document::parse(xml).unwrap();
    let mut own: HashMap<String, (Option<String>, Props)> = HashMap::new();
    let mut nav: Names = HashMap::new();
    let graph_schema = |n: &roxmltree::Node| {
        n.ancestors().find(|a| a.has_tag_name("Schema")).and_then(|s| s.attribute("Namespace"))
            == Some("microsoft.graph")
    };
    for node in
        doc.descendants().filter(|n| (n.has_tag_name("EntityType") || n.has_tag_name("ComplexType")) && graph_schema(n))
    {
        let name = node.attribute("Name").unwrap().to_owned();
        let props = node
            .children()
            .filter(|c| c.has_tag_name("Property"))
            .map(|p| {
                let ty = strip(p.attribute("Type").unwrap());
                (p.attribute("Name").unwrap().to_owned(), (ty, p.attribute("Nullable") != Some("false")))
            })
            .collect();
        let base = node.attribute("BaseType").map(|b| b.trim_start_matches("graph.").to_owned());
        nav.insert(
            name.clone(),
            node.children()
                .filter(|c| c.has_tag_name("NavigationProperty"))
                .map(|c| c.attribute("Name").unwrap().to_owned())
                .collect(),
        );
        own.insert(name, (base, props));
    }
    let mut types = Types::new();
    for name in own.keys() {
        let mut props = BTreeMap::new();
        let mut cur = Some(name.clone());
        while let Some(n) = cur {
            let (base, p) = &own[&n];
            for (k, v) in p {
                props.entry(k.clone()).or_insert_with(|| v.clone());
            }
            cur = base.clone();
        }
        types.insert(name.clone(), props);
    }
    let enums = doc
        .descendants()
        .filter(|n| n.has_tag_name("EnumType"))
        .map(|n| {
            let members =
                n.children().filter(|c| c.has_tag_name("Member")).map(|m| m.attribute("Name").unwrap().to_owned());
            (n.attribute("Name").unwrap().to_owned(), members.collect())
        })
        .collect();
    (types, enums, nav)
}

async fn get_text(app: &TestApp, path: &str) -> (StatusCode, String, String) {
    let service = test::init_service(api::app(app.state.clone())).await;
    let res = test::call_service(&service, test::TestRequest::get().uri(path).to_request()).await;
    let status = res.status();
    let ct = res.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    let body = String::from_utf8(test::read_body(res).await.to_vec()).unwrap();
    (status, ct, body)
}

/// A property: (name, type, nullable).
type PropertyRow = (&'static str, &'static str, bool);

/// The beta report types (not in the v1.0 extract of `spec/graph`), as `docs/graph-notes.md` §4
/// gives Graph's beta CSDL.
const BETA_REPORT_TYPES: [(&str, &[PropertyRow]); 5] = [
    ("reportRoot", &[]),
    (
        "applicationSignInSummary",
        &[
            ("id", "Edm.String", false),
            ("appDisplayName", "Edm.String", false),
            ("failedSignInCount", "Edm.Int64", true),
            ("successfulSignInCount", "Edm.Int64", true),
            ("successPercentage", "Edm.Double", true),
        ],
    ),
    (
        "applicationSignInDetailedSummary",
        &[
            ("id", "Edm.String", false),
            ("aggregatedEventDateTime", "Edm.DateTimeOffset", true),
            ("appDisplayName", "Edm.String", true),
            ("appId", "Edm.String", true),
            ("signInCount", "Edm.Int64", true),
            ("status", "graph.signInStatus", true),
        ],
    ),
    (
        "signInEventsActivity",
        &[
            ("id", "Edm.String", false),
            ("activityDateTime", "Edm.DateTimeOffset", true),
            ("signInCount", "Edm.Int32", true),
        ],
    ),
    (
        "signInEventsAppActivity",
        &[("appId", "Edm.String", false), ("signInCount", "Edm.Int32", true), ("tenantId", "Edm.String", true)],
    ),
];

/// The `idtrail` schema of `$metadata` describes the activity reports as they are served: each
/// type has exactly the properties of the JSON objects.
#[actix_web::test]
async fn metadata_describes_idtrails_reports_as_served() {
    let app = TestApp::new(sqlite_db()).await;
    let (_, _, xml) = get_text(&app, "/v1.0/$metadata").await;
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let schema =
        doc.descendants().find(|n| n.has_tag_name("Schema") && n.attribute("Namespace") == Some("idtrail")).unwrap();
    let props = |name: &str| -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let mut cur = Some(name.to_owned());
        while let Some(n) = cur {
            let t = schema.children().find(|c| c.attribute("Name") == Some(n.as_str())).unwrap();
            out.extend(
                t.children().filter(|c| c.has_tag_name("Property")).map(|p| p.attribute("Name").unwrap().to_owned()),
            );
            cur = t.attribute("BaseType").map(|b| b.trim_start_matches("idtrail.").to_owned());
        }
        out
    };
    let keys = |v: &Value| -> BTreeSet<String> { v.as_object().unwrap().keys().cloned().collect() };
    let token = admin_token(TENANT_A);
    let doc = sign_in_doc(1, app.now(), USER_OID);
    let (s, ingest) = app.ingest(&ingest_token(TENANT_A), std::slice::from_ref(&doc)).await;
    assert_eq!(s, StatusCode::OK, "{ingest}");
    let app_id = doc["appId"].as_str().unwrap();
    for (path, report, optional) in [
        (
            format!("/idtrail/reports/signInActivity?interval=P1W&appId={app_id}"),
            "signInActivityReport",
            vec!["userIds"],
        ),
        (format!("/idtrail/reports/topApplications?interval=P1W&userId={USER_OID}"), "topApplicationsReport", vec![]),
    ] {
        let (s, body) = app.get(&path, &token).await;
        assert_eq!(s, StatusCode::OK, "{body}");
        let declared: BTreeSet<String> =
            props(report).into_iter().filter(|p| !optional.contains(&p.as_str())).collect();
        assert_eq!(keys(&body), declared, "{report}");
        let buckets =
            if report == "signInActivityReport" { &body["buckets"] } else { &body["applications"][0]["buckets"] };
        assert_eq!(keys(&buckets[0]), props("activityBucket"), "{report} bucket");
        if report == "signInActivityReport" {
            assert_eq!(keys(&body["totals"]), props("activityNumbers"));
        } else {
            assert_eq!(keys(&body["applications"][0]), props("applicationUsage"));
        }
    }
}

#[actix_web::test]
async fn metadata_agrees_with_graphs_csdl() {
    let app = TestApp::new(sqlite_db()).await;
    let (graph_types, graph_enums, graph_nav) = read_csdl(GRAPH_CSDL);
    for version in ["v1.0", "beta"] {
        let (status, ct, xml) = get_text(&app, &format!("/{version}/$metadata")).await;
        assert_eq!(status, StatusCode::OK, "{xml}");
        assert!(ct.starts_with("application/xml"), "{ct}");
        let (ours, our_enums, our_nav) = read_csdl(&xml);
        for set in domain::query::registry::all_sets() {
            assert!(ours.contains_key(set.type_name), "$metadata lacks {}", set.type_name);
        }
        for (name, props) in &ours {
            if let Some((_, expected)) = BETA_REPORT_TYPES.iter().find(|(n, _)| n == name) {
                assert_eq!(version, "beta", "{name} is a beta type");
                let expected: BTreeMap<String, (String, bool)> =
                    expected.iter().map(|(p, t, null)| ((*p).to_owned(), ((*t).to_owned(), *null))).collect();
                assert_eq!(props, &expected, "{name} differs from Graph's beta CSDL (docs/graph-notes.md §4)");
                continue;
            }
            let graph = graph_types.get(name).unwrap_or_else(|| panic!("{name} is not a type in Graph's CSDL"));
            assert_eq!(
                props.keys().collect::<Vec<_>>(),
                graph.keys().collect::<Vec<_>>(),
                "the properties of {name} differ from Graph's"
            );
            for (prop, ours) in props {
                assert_eq!(ours, &graph[prop], "{name}/{prop}: (type, nullable) differs from Graph's");
            }
            for n in &our_nav[name] {
                let beta_summary = version == "beta" && name == "auditLogRoot" && n.starts_with("signInEvents");
                assert!(
                    graph_nav[name].contains(n) || beta_summary,
                    "{name}/{n} is not a navigation property in Graph"
                );
            }
        }
        assert!(!our_enums.is_empty());
        for (name, members) in &our_enums {
            assert_eq!(Some(members), graph_enums.get(name), "the members of enum {name} differ from Graph's");
        }
        // Capabilities tell the truth: no $skip; sortable and filterable properties match the registry.
        assert!(xml.contains(r#"<Annotation Term="Org.OData.Capabilities.V1.SkipSupported" Bool="false" />"#));
        assert!(!xml.contains(r#"SkipSupported" Bool="true""#));
        for set in domain::query::registry::all_sets() {
            let doc = roxmltree::Document::parse(&xml).unwrap();
            let ann = doc
                .descendants()
                .find(|n| {
                    n.has_tag_name("Annotations")
                        && n.attribute("Target") == Some(&*format!("microsoft.graph.{}", set.type_name))
                })
                .unwrap_or_else(|| panic!("no annotations for {}", set.type_name));
            let paths = |prop: &str| -> Vec<String> {
                ann.descendants()
                    .filter(|n| n.has_tag_name("PropertyValue") && n.attribute("Property") == Some(prop))
                    .flat_map(|n| {
                        n.descendants().filter(|p| p.has_tag_name("PropertyPath")).map(|p| p.text().unwrap().to_owned())
                    })
                    .collect()
            };
            for f in set.fields.iter().filter(|f| f.sortable) {
                assert!(
                    !paths("NonSortableProperties").contains(&f.path.split('/').next().unwrap().to_owned()),
                    "{}",
                    f.path
                );
            }
            for p in paths("NonFilterableProperties") {
                assert!(set.filterable_paths().all(|f| f.split('/').next() != Some(p.as_str())), "{p}");
            }
        }
    }
}

#[actix_web::test]
async fn the_document_swagger_ui_and_metadata_are_served() {
    let app = TestApp::new(sqlite_db()).await;
    let (status, ct, body) = get_text(&app, "/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    assert!(ct.starts_with("application/json"), "{ct}");
    let doc: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc, openapi::document().unwrap());

    let (status, ct, html) = get_text(&app, "/docs").await;
    assert_eq!(status, StatusCode::OK);
    assert!(ct.starts_with("text/html"), "{ct}");
    assert!(html.contains("/docs/swagger-ui-bundle.js"), "{html}");
    let (status, _, js) = get_text(&app, "/docs/swagger-initializer.js").await;
    assert_eq!(status, StatusCode::OK);
    assert!(js.contains("/openapi.json"), "{js}");
    let (status, _, _) = get_text(&app, "/docs/swagger-ui-bundle.js").await;
    assert_eq!(status, StatusCode::OK);
}

#[actix_web::test]
async fn every_documented_path_is_routed_and_protected_as_documented() {
    let app = TestApp::new(sqlite_db()).await.without_rate_limits().await;
    let doc = openapi::document().unwrap();
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        let concrete = path.replace("{id}", &guid(1)).replace("{historyId}", &guid(2));
        for (method, op) in item.as_object().unwrap() {
            let req = match method.as_str() {
                "get" => test::TestRequest::get(),
                "post" => test::TestRequest::post(),
                other => panic!("unexpected method {other}"),
            };
            // Without a token: documented as public, or refused with 401 (never an unrouted 404/405).
            let (status, _, body) = app.send(req.uri(&concrete)).await;
            let public = op["security"].as_array().is_some_and(Vec::is_empty);
            if public {
                assert!(
                    status.is_success() || status == StatusCode::SERVICE_UNAVAILABLE,
                    "{method} {path}: {status} {body}"
                );
            } else {
                assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}: {body}");
                assert!(op["responses"]["401"].is_object(), "{method} {path} does not document 401");
                assert!(op["responses"]["403"].is_object() || op["x-idtrail-access"].is_null(), "{method} {path}");
            }
            checked += 1;
        }
    }
    assert!(checked > 40, "{checked}");
}

#[actix_web::test]
async fn permissions_come_from_the_access_matrix() {
    let doc = openapi::document().unwrap();
    let op = &doc["paths"]["/v1.0/auditLogs/signIns"]["get"];
    let rule = domain::access::MATRIX.iter().find(|r| r.endpoint == domain::access::Endpoint::SignIns).unwrap();
    assert_eq!(op["x-idtrail-access"]["applicationPermissions"], serde_json::json!(rule.app_permissions));
    assert_eq!(op["x-idtrail-access"]["license"], rule.license.as_str());
    assert!(op["security"][0]["bearer"].as_array().unwrap().iter().any(|p| p == rule.app_permissions[0]));
    let top = &doc["components"]["parameters"]["signIn.top"]["schema"];
    assert_eq!(top["maximum"], domain::query::registry::SIGN_INS.max_top);
}
