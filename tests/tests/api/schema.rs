//! The migrations create exactly the sign-in columns `storage/src/schema.rs` declares, on a fresh
//! database of each backend, with the nullability the field registry gives each promoted property.
//! (`storage`'s unit tests tie `schema.rs` to the registry and to the rows ingest writes.)

use std::collections::{BTreeMap, BTreeSet};

use diesel::debug_query;
use diesel::prelude::*;
use diesel::sqlite::Sqlite;
use domain::query::Source;
use domain::query::registry::SIGN_INS;
use storage::conn::AnyConnection;
use storage::schema::{sign_in_ca_policies, sign_in_risk_event_types, sign_ins};

use crate::support::*;

#[derive(QueryableByName)]
struct Column {
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    nullable: bool,
}

/// The columns of `table` as the database has them: name → nullable.
fn ddl_columns(conn: &mut AnyConnection, table: &str) -> BTreeMap<String, bool> {
    let rows: Vec<Column> = match conn {
        AnyConnection::Sqlite(c) => {
            diesel::sql_query("SELECT name, (\"notnull\" = 0 AND pk = 0) AS nullable FROM pragma_table_info(?)")
                .bind::<diesel::sql_types::Text, _>(table)
                .load(c)
                .unwrap()
        }
        AnyConnection::Postgresql(c) => diesel::sql_query(
            "SELECT column_name::text AS name, is_nullable = 'YES' AS nullable FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = $1",
        )
        .bind::<diesel::sql_types::Text, _>(table)
        .load(c)
        .unwrap(),
    };
    rows.into_iter().map(|c| (c.name, c.nullable)).collect()
}

/// The column names of a `schema.rs` table, read from the SELECT diesel writes for it.
fn schema_columns(select_sql: &str, table: &str) -> BTreeSet<String> {
    select_sql.split('`').skip(1).step_by(2).filter(|n| *n != table).map(str::to_owned).collect()
}

#[actix_web::test]
async fn migrations_create_the_columns_schema_rs_declares() {
    for db in databases() {
        let backend = db.backend;
        let app = TestApp::new(db).await;
        let mut conn = app.connection();
        let declared = [
            (
                "sign_ins",
                schema_columns(
                    &debug_query::<Sqlite, _>(&sign_ins::table.select(sign_ins::all_columns)).to_string(),
                    "sign_ins",
                ),
            ),
            (
                "sign_in_ca_policies",
                schema_columns(
                    &debug_query::<Sqlite, _>(&sign_in_ca_policies::table.select(sign_in_ca_policies::all_columns))
                        .to_string(),
                    "sign_in_ca_policies",
                ),
            ),
            (
                "sign_in_risk_event_types",
                schema_columns(
                    &debug_query::<Sqlite, _>(
                        &sign_in_risk_event_types::table.select(sign_in_risk_event_types::all_columns),
                    )
                    .to_string(),
                    "sign_in_risk_event_types",
                ),
            ),
        ];
        for (table, columns) in &declared {
            assert!(columns.len() > 5, "{table}: {columns:?}");
            let ddl = ddl_columns(&mut conn, table);
            let names: BTreeSet<String> = ddl.keys().cloned().collect();
            assert_eq!(&names, columns, "{backend}: {table} as migrated differs from schema.rs");
        }
        let ddl = ddl_columns(&mut conn, "sign_ins");
        for f in SIGN_INS.fields {
            let (Source::Column(c) | Source::Ticks(c)) = f.source else { continue };
            let nullable = ddl.get(c).copied();
            assert_eq!(nullable, Some(f.nullable), "{backend}: sign_ins.{c} ({}) nullability", f.path);
        }
    }
}

#[derive(QueryableByName)]
struct Compression {
    #[diesel(sql_type = diesel::sql_types::Text)]
    table_name: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    column_name: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    method: String,
}

/// PostgreSQL compresses documents with LZ4 (migration `..._lz4_documents`): every document
/// column of every table and of every day partition, and a stored sign-in too large to keep
/// uncompressed.
#[actix_web::test]
async fn documents_are_compressed_with_lz4_on_postgres() {
    let Some(db) = postgres_db() else { return };
    let app = TestApp::new(db).await;
    let mut doc = sign_in_doc(1, chrono::Utc::now(), &guid(9_000_001));
    // Compressible text past PostgreSQL's 2 KB threshold, as most real sign-ins are.
    doc["userAgent"] = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) ".repeat(80).into();
    let (status, body) = app.ingest(&ingest_token(TENANT_A), &[doc]).await;
    assert_eq!(status, actix_web::http::StatusCode::OK, "{body}");
    let mut conn = app.connection();
    let AnyConnection::Postgresql(pg) = &mut conn else { unreachable!() };
    let columns: Vec<Compression> = diesel::sql_query(
        "SELECT c.relname::text AS table_name, a.attname::text AS column_name, a.attcompression::text AS method \
         FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
         WHERE a.attname IN ('doc', 'doc_extra') AND c.relkind IN ('r', 'p') \
         AND c.relnamespace = current_schema()::regnamespace",
    )
    .load(pg)
    .unwrap();
    let tables: BTreeSet<&str> = columns.iter().map(|c| c.table_name.as_str()).collect();
    for table in ["sign_ins", "directory_audits", "risk_detections", "risky_users", "risky_user_history"] {
        assert!(tables.contains(table), "{table} has document columns: {tables:?}");
    }
    assert!(tables.iter().any(|t| t.starts_with("sign_ins_")), "a day partition of sign_ins: {tables:?}");
    for c in &columns {
        assert_eq!(c.method, "l", "{}.{} is not LZ4-compressed", c.table_name, c.column_name);
    }
    let stored: Vec<Compression> = diesel::sql_query(
        "SELECT 'sign_ins' AS table_name, 'doc' AS column_name, \
         coalesce(pg_column_compression(doc), 'none') AS method FROM sign_ins",
    )
    .load(pg)
    .unwrap();
    assert_eq!(stored.iter().map(|s| s.method.as_str()).collect::<Vec<_>>(), ["lz4"]);
}
