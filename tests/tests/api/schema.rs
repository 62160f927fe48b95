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
