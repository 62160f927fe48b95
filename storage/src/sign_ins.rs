//! Sign-ins: the promoted columns and child rows of a Graph document, idempotent all-or-nothing
//! ingest (COPY on PostgreSQL), and keyset reads that always carry the tenant and the caller's scope.

use std::collections::HashSet;
use std::sync::mpsc::TryRecvError;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};
use domain::ids::TenantId;
use domain::model::sign_in::{self, SignIn};
use domain::sets::SetKind;
use serde_json::{Map, Value};

use crate::Store;
use crate::conn::{AnyConnection, Backend};
use crate::error::{StorageError, StorageResult};
use crate::rollups::RollupDelta;
use crate::schema::{sign_in_ca_policies, sign_in_risk_event_types, sign_ins};
use crate::{feed, group_commit};

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = sign_ins)]
#[diesel(treat_none_as_default_value = false)]
pub(crate) struct SignInRow {
    tenant_id: String,
    id: String,
    created_ticks: i64,
    user_id: String,
    user_principal_name: Option<String>,
    user_display_name: Option<String>,
    app_id: Option<String>,
    app_display_name: Option<String>,
    ip_address: Option<String>,
    client_app_used: Option<String>,
    correlation_id: Option<String>,
    conditional_access_status: Option<String>,
    is_interactive: Option<bool>,
    risk_detail: Option<String>,
    risk_level_aggregated: Option<String>,
    risk_level_during_sign_in: Option<String>,
    risk_state: Option<String>,
    resource_display_name: Option<String>,
    resource_id: Option<String>,
    status_error_code: Option<i32>,
    device_browser: Option<String>,
    device_operating_system: Option<String>,
    location_city: Option<String>,
    location_state: Option<String>,
    location_country_or_region: Option<String>,
    service_principal_id: Option<String>,
    service_principal_name: Option<String>,
    user_agent: Option<String>,
    doc: String,
    doc_extra: Option<String>,
    /// Whether an applied Conditional Access policy failed: `appliedConditionalAccessPolicies/any(p:
    /// p/result eq 'failure')` read from the row and its partial index (`filter::CA_FAILED`).
    ca_failed: bool,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = sign_in_ca_policies)]
#[diesel(treat_none_as_default_value = false)]
pub(crate) struct CaPolicyRow {
    tenant_id: String,
    sign_in_id: String,
    created_ticks: i64,
    ordinal: i32,
    policy_id: Option<String>,
    display_name: Option<String>,
    result: Option<String>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = sign_in_risk_event_types)]
#[diesel(treat_none_as_default_value = false)]
pub(crate) struct RiskEventTypeRow {
    tenant_id: String,
    sign_in_id: String,
    created_ticks: i64,
    version: i32,
    ordinal: i32,
    value: String,
}

/// A validated sign-in, ready to store: its promoted columns, child rows and document text.
#[derive(Debug, Clone)]
pub struct SignInRecord {
    row: SignInRow,
    policies: Vec<CaPolicyRow>,
    risk_event_types: Vec<RiskEventTypeRow>,
    /// `appDisplayName` as sent (the column holds it in lower case), for the rollups.
    app_name: Option<String>,
    /// `status/failureReason` as sent, for the rollups.
    failure_reason: Option<String>,
}

fn lower(s: Option<&str>) -> Option<String> {
    s.map(str::to_lowercase)
}

fn ordinal(i: usize) -> i32 {
    i32::try_from(i).unwrap_or(i32::MAX)
}

impl SignInRecord {
    /// Validates a Graph sign-in document for `tenant` and prepares it for storage.
    ///
    /// # Errors
    /// A message naming the property and what is wrong with it.
    pub fn from_document(tenant: &TenantId, doc: Map<String, Value>) -> Result<Self, String> {
        if let Some(t) = doc.get("tenantId") {
            let matches = t.as_str().is_some_and(|t| t.eq_ignore_ascii_case(tenant.as_str()));
            if !matches {
                return Err(format!("tenantId: {t} is not the tenant of the token ({tenant})"));
            }
        }
        let s: SignIn = sign_in::parse(&doc)?;
        let tenant_id = tenant.as_str().to_owned();
        let id = s.id.to_key();
        let created_ticks = s.created_date_time.ticks;
        let policies: Vec<CaPolicyRow> = s
            .applied_conditional_access_policies
            .iter()
            .flatten()
            .enumerate()
            .map(|(i, p)| CaPolicyRow {
                tenant_id: tenant_id.clone(),
                sign_in_id: id.clone(),
                created_ticks,
                ordinal: ordinal(i),
                policy_id: lower(p.id.as_deref()),
                display_name: lower(p.display_name.as_deref()),
                result: lower(p.result.as_ref().map(|r| r.as_str())),
            })
            .collect();
        let v1 = s.risk_event_types.iter().flatten().map(|e| e.as_str().to_lowercase());
        let v2 = s.risk_event_types_v2.iter().flatten().map(|e| e.to_lowercase());
        let risk_event_types = v1
            .enumerate()
            .map(|(i, v)| (1, i, v))
            .chain(v2.enumerate().map(|(i, v)| (2, i, v)))
            .map(|(version, i, value)| RiskEventTypeRow {
                tenant_id: tenant_id.clone(),
                sign_in_id: id.clone(),
                created_ticks,
                version,
                ordinal: ordinal(i),
                value,
            })
            .collect();
        // The same values the child rows hold, so the column and an EXISTS over them agree.
        let ca_failed = policies.iter().any(|p| p.result.as_deref() == Some(crate::filter::CA_FAILURE));
        let app_name = s.app_display_name.clone();
        let failure_reason = s.status.as_ref().and_then(|st| st.failure_reason.clone());
        let device = s.device_detail.as_ref();
        let location = s.location.as_ref();
        let (v1_doc, extra) = sign_in::split_v1(doc);
        let row = SignInRow {
            tenant_id,
            id,
            created_ticks,
            user_id: s.user_id.to_key(),
            user_principal_name: lower(s.user_principal_name.as_deref()),
            user_display_name: lower(s.user_display_name.as_deref()),
            app_id: lower(s.app_id.as_ref().map(|g| g.as_str())),
            app_display_name: lower(s.app_display_name.as_deref()),
            ip_address: lower(s.ip_address.as_deref()),
            client_app_used: lower(s.client_app_used.as_deref()),
            correlation_id: lower(s.correlation_id.as_ref().map(|g| g.as_str())),
            conditional_access_status: lower(s.conditional_access_status.as_ref().map(|e| e.as_str())),
            is_interactive: s.is_interactive,
            risk_detail: lower(s.risk_detail.as_ref().map(|e| e.as_str())),
            risk_level_aggregated: lower(s.risk_level_aggregated.as_ref().map(|e| e.as_str())),
            risk_level_during_sign_in: lower(s.risk_level_during_sign_in.as_ref().map(|e| e.as_str())),
            risk_state: lower(s.risk_state.as_ref().map(|e| e.as_str())),
            resource_display_name: lower(s.resource_display_name.as_deref()),
            resource_id: lower(s.resource_id.as_ref().map(|g| g.as_str())),
            status_error_code: s.status.as_ref().and_then(|st| st.error_code),
            device_browser: lower(device.and_then(|d| d.browser.as_deref())),
            device_operating_system: lower(device.and_then(|d| d.operating_system.as_deref())),
            location_city: lower(location.and_then(|l| l.city.as_deref())),
            location_state: lower(location.and_then(|l| l.state.as_deref())),
            location_country_or_region: lower(location.and_then(|l| l.country_or_region.as_deref())),
            service_principal_id: lower(s.service_principal_id.as_ref().map(|g| g.as_str())),
            service_principal_name: lower(s.service_principal_name.as_deref()),
            user_agent: lower(s.user_agent.as_deref()),
            doc: Value::Object(v1_doc).to_string(),
            doc_extra: (!extra.is_empty()).then(|| Value::Object(extra).to_string()),
            ca_failed,
        };
        Ok(Self { row, policies, risk_event_types, app_name, failure_reason })
    }

    /// The sign-in's id (lower case).
    #[must_use]
    pub fn id(&self) -> &str {
        &self.row.id
    }

    fn feed_entry(&self) -> feed::Entry {
        feed::Entry {
            set: SetKind::SignIns,
            id: self.row.id.clone(),
            ticks: self.row.created_ticks,
            user: Some(self.row.user_id.clone()),
        }
    }

    /// When the sign-in happened, in ticks.
    #[must_use]
    pub fn created_ticks(&self) -> i64 {
        self.row.created_ticks
    }

    /// `status/errorCode`.
    #[must_use]
    pub fn error_code(&self) -> Option<i32> {
        self.row.status_error_code
    }

    /// The application id (lower case).
    #[must_use]
    pub fn app_id(&self) -> Option<&str> {
        self.row.app_id.as_deref()
    }

    /// `appDisplayName` as sent.
    #[must_use]
    pub fn app_display_name(&self) -> Option<&str> {
        self.app_name.as_deref()
    }

    /// `status/failureReason` as sent.
    #[must_use]
    pub fn failure_reason(&self) -> Option<&str> {
        self.failure_reason.as_deref()
    }

    /// The user's object id (lower case).
    #[must_use]
    pub fn user_id(&self) -> &str {
        &self.row.user_id
    }
}

/// What an ingest stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IngestOutcome {
    pub inserted: usize,
    pub duplicates: usize,
    /// Records already past the tenant's retention window: accepted, not stored.
    pub expired: usize,
}

/// A stored document: its sort key and its JSON text, ready to splice into a response.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct StoredDocument {
    #[diesel(sql_type = BigInt)]
    pub created_ticks: i64,
    #[diesel(sql_type = Text)]
    pub id: String,
    /// The v1.0 properties.
    #[diesel(sql_type = Text)]
    pub doc: String,
    /// The other (beta-only or newer) properties, if the producer sent any.
    #[diesel(sql_type = Nullable<Text>)]
    pub doc_extra: Option<String>,
}

#[derive(QueryableByName)]
struct IdRow {
    #[diesel(sql_type = Text)]
    id: String,
}

impl Store {
    /// Stores `records` for `tenant`, all or nothing. A record whose id is already stored (or
    /// repeats an earlier one in the batch) is counted as a duplicate and left as it was.
    ///
    /// # Errors
    /// Database errors; nothing is stored then.
    pub fn ingest_sign_ins(&self, tenant: &TenantId, records: Vec<SignInRecord>) -> StorageResult<IngestOutcome> {
        let view = self.tenant_view(tenant)?;
        let total = records.len();
        let (live, past): (Vec<SignInRecord>, Vec<SignInRecord>) =
            records.into_iter().partition(|r| r.row.created_ticks >= view.sign_ins_from);
        let expired = past.len();
        let mut seen = HashSet::with_capacity(total);
        let unique: Vec<SignInRecord> = live.into_iter().filter(|r| seen.insert(r.row.id.clone())).collect();
        if self.backend() == Backend::Postgres {
            let days: HashSet<i64> = unique.iter().map(|r| domain::time::day_start(r.row.created_ticks)).collect();
            self.ensure_partitions(days)?;
        }
        let inserted = match self.backend() {
            Backend::Sqlite if unique.is_empty() => 0,
            Backend::Sqlite => self.ingest_sqlite(tenant, unique)?,
            Backend::Postgres => self.write_transaction(|conn| self.store_batch(conn, tenant, Batch::Owned(unique)))?,
        };
        Ok(IngestOutcome { inserted, duplicates: total - expired - inserted, expired })
    }
}

impl Store {
    /// SQLite: queues the batch for the writer and stores it in the writer's next transaction,
    /// together with the batches that arrived meanwhile (`group_commit.rs`). Whoever holds the
    /// writer stores what is queued, until its own batch is stored.
    fn ingest_sqlite(&self, tenant: &TenantId, records: Vec<SignInRecord>) -> StorageResult<usize> {
        let ticket = self.ingest_queue.push(tenant.clone(), records);
        let led = self.write(|conn| {
            loop {
                // A writer before this one may have stored it (it answers before it lets go).
                match ticket.outcome.try_recv() {
                    Ok(outcome) => return Ok(outcome?),
                    Err(TryRecvError::Empty) => {}
                    // The writer that took it panicked; its transaction was rolled back.
                    Err(TryRecvError::Disconnected) => return Err(writer_stopped()),
                }
                let jobs = self.ingest_queue.take();
                if jobs.is_empty() {
                    return Err(writer_stopped());
                }
                group_commit::run(conn, jobs, |c, t, r| self.store_batch(c, t, Batch::Borrowed(r)));
            }
        });
        match led {
            Ok(n) => Ok(n),
            // No writer ran: the batch is still queued, or another writer took it meanwhile.
            Err(e) if self.ingest_queue.withdraw(&ticket) => Err(e),
            Err(_) => match ticket.outcome.recv() {
                Ok(outcome) => Ok(outcome?),
                Err(_) => Err(writer_stopped()),
            },
        }
    }

    /// What one batch stores, inside the caller's transaction: its new sign-ins with their child
    /// rows, the rollups of exactly those (so a duplicate adds nothing), and their feed entries.
    fn store_batch(&self, conn: &mut AnyConnection, tenant: &TenantId, records: Batch<'_>) -> QueryResult<usize> {
        let backend = self.backend();
        let mut rollup = RollupDelta::default();
        let fresh = match (&mut *conn, records) {
            (AnyConnection::Sqlite(c), records) => insert_sqlite(c, records.as_slice(), &mut rollup),
            (AnyConnection::Postgresql(c), records) => insert_postgres(c, tenant, records.into_owned(), &mut rollup),
        }?;
        // The rollups count exactly the rows that went in, in the same transaction.
        if self.rollups {
            rollup.write(conn, backend, tenant)?;
        }
        // Last, so the feed's positions are in commit order (`feed.rs`).
        feed::append(conn, tenant, &fresh)?;
        Ok(fresh.len())
    }
}

/// A batch to store: owned where COPY consumes it (PostgreSQL), borrowed where a failed group
/// transaction may have to store it again (SQLite, `group_commit.rs`).
enum Batch<'a> {
    Owned(Vec<SignInRecord>),
    Borrowed(&'a [SignInRecord]),
}

impl Batch<'_> {
    fn as_slice(&self) -> &[SignInRecord] {
        match self {
            Self::Owned(v) => v,
            Self::Borrowed(s) => s,
        }
    }

    fn into_owned(self) -> Vec<SignInRecord> {
        match self {
            Self::Owned(v) => v,
            Self::Borrowed(s) => s.to_vec(),
        }
    }
}

fn writer_stopped() -> StorageError {
    StorageError::Unavailable("the writer stopped before storing the batch; nothing of it was stored".into())
}

/// One row at a time through statements diesel prepares once per connection and keeps: the sign-in
/// is inserted unless its id is stored (one index probe does both), its child rows only if it was.
/// Single-row statements also spare SQLite the statement journal a multi-row one keeps.
fn insert_sqlite(
    c: &mut diesel::SqliteConnection,
    records: &[SignInRecord],
    rollup: &mut RollupDelta,
) -> QueryResult<Vec<feed::Entry>> {
    let mut inserted = Vec::new();
    for r in records {
        if diesel::insert_into(sign_ins::table).values(&r.row).on_conflict_do_nothing().execute(c)? == 0 {
            continue;
        }
        inserted.push(r.feed_entry());
        rollup.add(r);
        for p in &r.policies {
            diesel::insert_into(sign_in_ca_policies::table).values(p).execute(c)?;
        }
        for e in &r.risk_event_types {
            diesel::insert_into(sign_in_risk_event_types::table).values(e).execute(c)?;
        }
    }
    Ok(inserted)
}

fn insert_postgres(
    c: &mut diesel::PgConnection,
    tenant: &TenantId,
    records: Vec<SignInRecord>,
    rollup: &mut RollupDelta,
) -> QueryResult<Vec<feed::Entry>> {
    if records.is_empty() {
        return Ok(Vec::new());
    }
    // Claim the ids first: a concurrent batch with the same ids waits on the key rows and then
    // sees them as duplicates, so no id is ever stored twice.
    let ids: Vec<String> = records.iter().map(|r| r.row.id.clone()).collect();
    let ticks: Vec<i64> = records.iter().map(|r| r.row.created_ticks).collect();
    let claimed: Vec<IdRow> = diesel::sql_query(
        "INSERT INTO sign_in_keys (tenant_id, id, created_ticks) \
         SELECT $1, k.id, k.t FROM UNNEST($2::text[], $3::bigint[]) AS k(id, t) \
         ON CONFLICT DO NOTHING RETURNING id",
    )
    .bind::<Text, _>(tenant.as_str())
    .bind::<diesel::sql_types::Array<Text>, _>(&ids)
    .bind::<diesel::sql_types::Array<BigInt>, _>(&ticks)
    .load(c)?;
    let claimed: HashSet<String> = claimed.into_iter().map(|r| r.id).collect();
    let fresh: Vec<SignInRecord> = records.into_iter().filter(|r| claimed.contains(&r.row.id)).collect();
    for r in &fresh {
        rollup.add(r);
    }
    let inserted: Vec<feed::Entry> = fresh.iter().map(SignInRecord::feed_entry).collect();
    let (rows, policies, risks) = split(fresh);
    if !rows.is_empty() {
        diesel::copy_from(sign_ins::table).from_insertable(rows).execute(c)?;
    }
    if !policies.is_empty() {
        diesel::copy_from(sign_in_ca_policies::table).from_insertable(policies).execute(c)?;
    }
    if !risks.is_empty() {
        diesel::copy_from(sign_in_risk_event_types::table).from_insertable(risks).execute(c)?;
    }
    Ok(inserted)
}

fn split(records: Vec<SignInRecord>) -> (Vec<SignInRow>, Vec<CaPolicyRow>, Vec<RiskEventTypeRow>) {
    let mut rows = Vec::with_capacity(records.len());
    let mut policies = Vec::new();
    let mut risks = Vec::new();
    for r in records {
        rows.push(r.row);
        policies.extend(r.policies);
        risks.extend(r.risk_event_types);
    }
    (rows, policies, risks)
}

/// Tables partitioned by day on PostgreSQL.
pub(crate) const PARTITIONED_TABLES: &[&str] = &["sign_ins", "sign_in_ca_policies", "sign_in_risk_event_types"];

#[cfg(test)]
mod tests {
    //! The sign-in columns are written in four places: the field registry (what queries read),
    //! `schema.rs` (what diesel knows), [`SignInRow`] and its child rows (what ingest writes, by
    //! INSERT on SQLite and COPY on PostgreSQL) and the migrations' DDL. The compiler ties the rows
    //! to `schema.rs`; these tests tie `schema.rs` to the registry and to the rows, and
    //! `tests/api/schema.rs` ties it to the DDL on a fresh database of each backend.

    use std::collections::BTreeSet;

    use diesel::connection::SimpleConnection;
    use diesel::debug_query;
    use diesel::sqlite::Sqlite;
    use domain::query::registry::SIGN_INS;
    use domain::query::{Element, Source};

    use super::*;

    /// The quoted names in an SQLite statement's column list: `` `t`.`a`, `t`.`b` `` or `` (`a`, `b`) ``.
    fn columns(sql: &str, table: &str) -> BTreeSet<String> {
        sql.split('`').skip(1).step_by(2).filter(|name| *name != table).map(str::to_owned).collect()
    }

    fn schema_columns<T>(table: T, name: &str) -> BTreeSet<String>
    where
        T: diesel::Table + diesel::query_builder::AsQuery,
        T::AllColumns: diesel::expression::ValidGrouping<()>,
        diesel::dsl::Select<T, T::AllColumns>: diesel::query_builder::QueryFragment<Sqlite>,
        T: diesel::query_dsl::methods::SelectDsl<T::AllColumns>,
    {
        let all = T::all_columns();
        let found = columns(&debug_query::<Sqlite, _>(&table.select(all)).to_string(), name);
        assert!(found.contains("tenant_id") && found.contains("created_ticks"), "{name}: {found:?}");
        found
    }

    fn record() -> SignInRecord {
        let doc = serde_json::json!({
            "id": "66ea54eb-6301-4ee5-be62-ff5a759b0100",
            "createdDateTime": "2026-11-27T10:11:12.1234567Z",
            "userDisplayName": "Adele Vance",
            "userPrincipalName": "adele@contoso.com",
            "userId": "22222222-2222-4222-8222-222222222222",
            "appId": "de8bc8b5-d9f9-48b1-a8ad-b748da725064",
            "appDisplayName": "Graph Explorer",
            "ipAddress": "131.107.159.37",
            "clientAppUsed": "Browser",
            "correlationId": "66ea54eb-6301-4ee5-be62-ff5a759b0101",
            "conditionalAccessStatus": "notApplied",
            "isInteractive": true,
            "riskDetail": "none",
            "riskLevelAggregated": "none",
            "riskLevelDuringSignIn": "none",
            "riskState": "none",
            "riskEventTypes": ["unfamiliarFeatures"],
            "riskEventTypes_v2": ["unfamiliarFeatures"],
            "resourceDisplayName": "Microsoft Graph",
            "resourceId": "00000003-0000-0000-c000-000000000000",
            "status": {"errorCode": 0, "failureReason": null, "additionalDetails": null},
            "deviceDetail": {"deviceId": "", "displayName": null, "operatingSystem": "Windows 10", "browser": "Edge 80.0.361", "isCompliant": null, "isManaged": null, "trustType": null},
            "location": {"city": "Redmond", "state": "Washington", "countryOrRegion": "US", "geoCoordinates": {"altitude": null, "latitude": 47.68, "longitude": -122.12}},
            "appliedConditionalAccessPolicies": [{"id": "de7e60eb-ed89-4d73-8205-2227def6b7c9", "displayName": "SharePoint limited access", "enforcedGrantControls": [], "enforcedSessionControls": [], "result": "notEnabled"}]
        });
        let serde_json::Value::Object(doc) = doc else { panic!("an object") };
        SignInRecord::from_document(&TenantId::parse("aaaaaaaa-0000-4000-8000-000000000001").unwrap(), doc).unwrap()
    }

    /// The sample with another id (`n`) and user.
    fn record_numbered(n: u32, user: &str) -> SignInRecord {
        let r = record();
        let mut doc: serde_json::Map<String, Value> = serde_json::from_str(&r.row.doc).unwrap();
        doc.insert("id".into(), Value::String(format!("66ea54eb-6301-4ee5-be62-ff5a759b{n:04}")));
        doc.insert("userId".into(), Value::String(user.into()));
        SignInRecord::from_document(&TenantId::parse("aaaaaaaa-0000-4000-8000-000000000001").unwrap(), doc).unwrap()
    }

    fn count(store: &Store, sql: &str) -> i64 {
        #[derive(QueryableByName)]
        struct N {
            #[diesel(sql_type = BigInt)]
            n: i64,
        }
        let mut c = store.conn().unwrap();
        diesel::sql_query(sql).load::<N>(&mut **c).unwrap()[0].n
    }

    /// Three batches in one group transaction, the second failing: it stores nothing and is
    /// answered with its error; the others are stored, and the third counts the sign-in the first
    /// stored as a duplicate (no second row, no second rollup count, no second feed entry).
    #[test]
    fn a_group_stores_each_batch_whole_or_not_at_all() {
        const GOOD: &str = "22222222-2222-4222-8222-222222222222";
        const BAD: &str = "33333333-3333-4333-8333-333333333333";
        let path = std::env::temp_dir().join(format!("idtrail-group-{}.db", std::process::id()));
        let store = Store::open(&format!("sqlite://{}", path.display()), 1).unwrap();
        let tenant = TenantId::parse("aaaaaaaa-0000-4000-8000-000000000001").unwrap();
        store
            .write(|c| {
                c.batch_execute(&format!(
                    "CREATE TRIGGER refuse BEFORE INSERT ON sign_in_ca_policies                      WHEN (SELECT user_id FROM sign_ins WHERE id = NEW.sign_in_id) = '{BAD}'                      BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
                ))?;
                Ok(())
            })
            .unwrap();
        let first = store.ingest_queue.push(tenant.clone(), vec![record_numbered(1, GOOD), record_numbered(2, GOOD)]);
        let failing = store.ingest_queue.push(tenant.clone(), vec![record_numbered(3, GOOD), record_numbered(4, BAD)]);
        let third = store.ingest_queue.push(tenant.clone(), vec![record_numbered(2, GOOD), record_numbered(5, GOOD)]);
        store
            .write(|c| {
                let jobs = store.ingest_queue.take();
                assert_eq!(jobs.len(), 3);
                group_commit::run(c, jobs, |c, t, r| store.store_batch(c, t, Batch::Borrowed(r)));
                Ok(())
            })
            .unwrap();
        assert_eq!(first.outcome.recv().unwrap().unwrap(), 2);
        let refused = failing.outcome.recv().unwrap().unwrap_err();
        assert!(refused.to_string().contains("refused by the test"), "{refused}");
        assert_eq!(third.outcome.recv().unwrap().unwrap(), 1);
        let ids = count(&store, "SELECT COUNT(*) AS n FROM sign_ins");
        let stored_ids = count(
            &store,
            "SELECT COUNT(*) AS n FROM sign_ins WHERE id IN ('66ea54eb-6301-4ee5-be62-ff5a759b0001',              '66ea54eb-6301-4ee5-be62-ff5a759b0002', '66ea54eb-6301-4ee5-be62-ff5a759b0005')",
        );
        assert_eq!((ids, stored_ids), (3, 3));
        assert_eq!(count(&store, "SELECT COUNT(*) AS n FROM sign_in_ca_policies"), 3);
        assert_eq!(count(&store, "SELECT COUNT(*) AS n FROM feed_journal"), 3);
        assert_eq!(count(&store, "SELECT CAST(SUM(sign_ins) AS BIGINT) AS n FROM sign_in_app_blocks"), 3);
        drop(store);
        for suffix in ["", "-wal", "-shm"] {
            std::fs::remove_file(format!("{}{suffix}", path.display())).ok();
        }
    }

    /// Columns only storage has: the tenant, the stored document, the summary of the policies'
    /// results (`ca_failed`) and the child rows' keys.
    const STORAGE_ONLY: &[&str] = &["tenant_id", "doc", "doc_extra", "ca_failed", "sign_in_id", "ordinal", "version"];

    #[test]
    fn the_rows_write_every_column_of_schema_rs() {
        let r = record();
        let (Some(policy), Some(risk)) = (r.policies.first(), r.risk_event_types.first()) else {
            panic!("the sample has a policy and a risk event type")
        };
        let inserted = |sql: String, table: &str| columns(&sql, table);
        assert_eq!(
            inserted(
                debug_query::<Sqlite, _>(&diesel::insert_into(sign_ins::table).values(&r.row)).to_string(),
                "sign_ins"
            ),
            schema_columns(sign_ins::table, "sign_ins")
        );
        assert_eq!(
            inserted(
                debug_query::<Sqlite, _>(&diesel::insert_into(sign_in_ca_policies::table).values(policy)).to_string(),
                "sign_in_ca_policies"
            ),
            schema_columns(sign_in_ca_policies::table, "sign_in_ca_policies")
        );
        assert_eq!(
            inserted(
                debug_query::<Sqlite, _>(&diesel::insert_into(sign_in_risk_event_types::table).values(risk))
                    .to_string(),
                "sign_in_risk_event_types"
            ),
            schema_columns(sign_in_risk_event_types::table, "sign_in_risk_event_types")
        );
    }

    #[test]
    fn the_registry_and_schema_rs_name_the_same_columns() {
        let mut registry: BTreeSet<String> = SIGN_INS
            .fields
            .iter()
            .filter_map(|f| match f.source {
                Source::Column(c) | Source::Ticks(c) => Some(c.to_owned()),
                Source::Document => None,
            })
            .collect();
        registry.extend(
            STORAGE_ONLY
                .iter()
                .filter(|c| ["tenant_id", "doc", "doc_extra", "ca_failed"].contains(c))
                .map(|c| (*c).to_owned()),
        );
        assert_eq!(registry, schema_columns(sign_ins::table, "sign_ins"), "sign_ins");
        for c in SIGN_INS.collections {
            let mut wanted: BTreeSet<String> =
                ["tenant_id", "created_ticks", SIGN_INS.child_key, "ordinal"].iter().map(|s| (*s).to_owned()).collect();
            match c.element {
                Element::Primitive { column, .. } => {
                    wanted.insert(column.to_owned());
                }
                Element::Complex { fields } => {
                    wanted.extend(fields.iter().filter_map(|f| match f.source {
                        Source::Column(col) => Some(col.to_owned()),
                        Source::Ticks(_) | Source::Document => None,
                    }));
                }
            }
            if let Some((column, _)) = c.discriminator {
                wanted.insert(column.to_owned());
            }
            let have = match c.table {
                "sign_in_ca_policies" => schema_columns(sign_in_ca_policies::table, c.table),
                "sign_in_risk_event_types" => schema_columns(sign_in_risk_event_types::table, c.table),
                other => panic!("{other} is not in schema.rs"),
            };
            assert_eq!(wanted, have, "{}", c.path);
        }
    }
}
