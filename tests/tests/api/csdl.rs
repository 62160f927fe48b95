//! The JSON we serve agrees with Graph's CSDL: property names, types and nullability of
//! `signIn` and its complex types, checked on generated demo data.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use serde_json::Value;

use crate::support::*;

const CSDL: &str = include_str!("../../../spec/graph/graph-csdl-reporting.xml");

struct Prop {
    ty: String,
    nullable: bool,
}

fn types() -> HashMap<String, HashMap<String, Prop>> {
    let doc = roxmltree::Document::parse(CSDL).unwrap();
    let mut out = HashMap::new();
    for node in doc.descendants().filter(|n| n.has_tag_name("EntityType") || n.has_tag_name("ComplexType")) {
        let mut props = HashMap::new();
        for p in node.children().filter(|c| c.has_tag_name("Property")) {
            props.insert(
                p.attribute("Name").unwrap().to_owned(),
                Prop {
                    ty: p.attribute("Type").unwrap().to_owned(),
                    nullable: p.attribute("Nullable") != Some("false"),
                },
            );
        }
        out.insert(node.attribute("Name").unwrap().to_owned(), props);
    }
    out.entry("signIn".into()).or_default().insert("id".into(), Prop { ty: "Edm.String".into(), nullable: false });
    out
}

fn enum_members() -> HashMap<String, Vec<String>> {
    let doc = roxmltree::Document::parse(CSDL).unwrap();
    doc.descendants()
        .filter(|n| n.has_tag_name("EnumType"))
        .map(|n| {
            let members = n
                .children()
                .filter(|c| c.has_tag_name("Member"))
                .map(|m| m.attribute("Name").unwrap().to_owned())
                .collect();
            (n.attribute("Name").unwrap().to_owned(), members)
        })
        .collect()
}

fn check(
    value: &Value,
    ty: &str,
    path: &str,
    types: &HashMap<String, HashMap<String, Prop>>,
    enums: &HashMap<String, Vec<String>>,
) {
    if let Some(inner) = ty.strip_prefix("Collection(").and_then(|t| t.strip_suffix(')')) {
        let items = value.as_array().unwrap_or_else(|| panic!("{path} should be an array: {value}"));
        for (i, item) in items.iter().enumerate() {
            check(item, inner, &format!("{path}[{i}]"), types, enums);
        }
        return;
    }
    match ty {
        "Edm.String" => assert!(value.is_string(), "{path} should be a string: {value}"),
        "Edm.Boolean" => assert!(value.is_boolean(), "{path} should be a boolean: {value}"),
        "Edm.Int32" => {
            assert!(value.as_i64().is_some_and(|v| i32::try_from(v).is_ok()), "{path} should be Int32: {value}")
        }
        "Edm.Double" => assert!(value.is_number(), "{path} should be a number: {value}"),
        "Edm.DateTimeOffset" => {
            let s = value.as_str().unwrap_or_else(|| panic!("{path} should be a string"));
            domain::time::parse_ticks(s).unwrap_or_else(|_| panic!("{path} is not a DateTimeOffset: {s}"));
        }
        other => {
            let name = other.trim_start_matches("graph.");
            if let Some(members) = enums.get(name) {
                let s = value.as_str().unwrap_or_else(|| panic!("{path} should be an enum string: {value}"));
                assert!(members.iter().any(|m| m == s), "{path}: '{s}' is not a member of {name}");
            } else {
                let props = types.get(name).unwrap_or_else(|| panic!("{path}: unknown type {other}"));
                check_object(value, props, path, types, enums);
            }
        }
    }
}

fn check_object(
    value: &Value,
    props: &HashMap<String, Prop>,
    path: &str,
    types: &HashMap<String, HashMap<String, Prop>>,
    enums: &HashMap<String, Vec<String>>,
) {
    let obj = value.as_object().unwrap_or_else(|| panic!("{path} should be an object: {value}"));
    for (k, v) in obj {
        let prop = props.get(k).unwrap_or_else(|| panic!("{path}/{k} is not a property in the CSDL"));
        if v.is_null() {
            assert!(prop.nullable, "{path}/{k} is not nullable");
        } else {
            check(v, &prop.ty, &format!("{path}/{k}"), types, enums);
        }
    }
    for (k, p) in props {
        if !p.nullable {
            assert!(obj.get(k).is_some_and(|v| !v.is_null()), "{path}/{k} is required");
        }
    }
}

#[actix_web::test]
async fn generated_sign_ins_match_the_csdl() {
    let types = &types();
    let enums = &enum_members();
    each_backend(|app| async move {
        let cfg = demo::DemoConfig { sign_ins: 3000, days: 30, seed: 7, end: app.now() };
        api::demo::load(&app.store, &cfg).unwrap();
        let contoso = demo::TENANTS[0].id;
        let mut path = "/v1.0/auditLogs/signIns?$top=1000".to_owned();
        let mut checked = 0;
        loop {
            let (s, b) = app.get(&path, &admin_token(contoso)).await;
            assert_eq!(s, StatusCode::OK, "{b}");
            for doc in b["value"].as_array().unwrap() {
                check_object(doc, &types["signIn"], "signIn", types, enums);
                checked += 1;
            }
            match b["@odata.nextLink"].as_str() {
                Some(n) => path = n.trim_start_matches("https://idtrail.test").to_owned(),
                None => break,
            }
        }
        assert!(checked > 1000, "checked {checked}");
    })
    .await;
}
