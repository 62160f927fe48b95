//! Risky users: the current state per user, and an append-only history of every change, from
//! ingest or from an admin action. An action changes the user, appends history and writes its
//! directory audit event in one transaction: all three or none.

use std::collections::{HashMap, HashSet};

use diesel::sql_types::{BigInt, Nullable, Text};
use diesel::{QueryableByName, RunQueryDsl};
use domain::actions::{self, RiskyUserAction};
use domain::ids::{TenantId, derived_guid};
use domain::principal::Principal;
use domain::query::registry::{DIRECTORY_AUDITS, RISKY_USER_HISTORY, RISKY_USERS};
use serde_json::{Map, Value, json};

use crate::Store;
use crate::conn::Backend;
use crate::entities::{self, Record, delete_ids, insert_new};
use crate::error::StorageResult;
use crate::feed;
use crate::sign_ins::IngestOutcome;
use crate::sql::{Param, Sql};

/// One ingested change of a user's risk: the user's new state and the history item recording it.
#[derive(Debug, Clone)]
pub struct RiskyUserChange {
    user: Record,
    history: Record,
}

/// Properties of a history item that describe the change rather than the user.
const CHANGE_PROPERTIES: &[&str] = &["activity", "initiatedBy", "userId"];

impl RiskyUserChange {
    /// Reads an ingested record: a `riskyUser` (its `id` is the user's; it may carry `activity`
    /// and `initiatedBy` to describe the change) or a `riskyUserHistoryItem` (it has `userId`; its
    /// `id` is the history item's).
    ///
    /// # Errors
    /// A message naming the property and what is wrong with it.
    pub fn from_document(mut doc: Map<String, Value>) -> Result<Self, String> {
        let user_id = match doc.get("userId") {
            Some(Value::String(u)) => Some(u.clone()),
            None | Some(Value::Null) => None,
            Some(other) => return Err(format!("userId: {other} is not a user object id")),
        };
        let history_doc = if let Some(user_id) = user_id {
            let history = doc.clone();
            doc.insert("id".into(), user_id.into());
            history
        } else {
            let mut history = doc.clone();
            let key = |k: &str| doc.get(k).map(Value::to_string).unwrap_or_default();
            let user = doc.get("id").and_then(Value::as_str).unwrap_or_default().to_lowercase();
            let parts = [
                user.as_str(),
                &key("riskLastUpdatedDateTime"),
                &key("riskState"),
                &key("riskLevel"),
                &key("riskDetail"),
            ];
            history.insert("id".into(), derived_guid(&parts).into());
            history.insert("userId".into(), user.clone().into());
            history.entry("initiatedBy").or_insert(Value::Null);
            let detail = doc.get("riskDetail").cloned().unwrap_or(Value::Null);
            history.entry("activity").or_insert_with(|| json!({"riskEventTypes": [], "detail": detail}));
            history
        };
        for k in CHANGE_PROPERTIES {
            doc.remove(*k);
        }
        let user = Record::from_document(&RISKY_USERS, doc)?;
        let history = Record::from_document(&RISKY_USER_HISTORY, history_doc).map_err(|e| format!("history: {e}"))?;
        Ok(Self { user, history })
    }

    /// The user's id (lower case).
    #[must_use]
    pub fn user_id(&self) -> &str {
        self.user.id()
    }

    /// When the change happened (`riskLastUpdatedDateTime`, ticks).
    #[must_use]
    pub fn ticks(&self) -> i64 {
        self.user.ticks()
    }
}

/// Makes concurrent actions on the same users take turns (PostgreSQL; SQLite's writers already
/// do): a transaction-scoped advisory lock per (tenant, user), taken in id order so two actions on
/// overlapping users cannot deadlock. Each action then reads the state the previous one committed,
/// and writes its own history item and audit event on top of it.
fn lock_users(c: &mut crate::conn::AnyConnection, tenant: &TenantId, user_ids: &[String]) -> diesel::QueryResult<()> {
    let crate::conn::AnyConnection::Postgresql(pg) = c else { return Ok(()) };
    let mut ids: Vec<&String> = user_ids.iter().collect();
    ids.sort();
    ids.dedup();
    for id in ids {
        diesel::sql_query("SELECT 1 FROM (SELECT pg_advisory_xact_lock(hashtextextended($1, 0))) AS locked")
            .bind::<Text, _>(format!("risky-user {} {id}", tenant.as_str()))
            .execute(pg)?;
    }
    Ok(())
}

#[derive(QueryableByName)]
struct Current {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = BigInt)]
    created_ticks: i64,
    #[diesel(sql_type = Text)]
    doc: String,
    #[diesel(sql_type = Nullable<Text>)]
    doc_extra: Option<String>,
}

fn current_users(
    c: &mut crate::conn::AnyConnection,
    backend: Backend,
    tenant: &TenantId,
    ids: &[String],
    visible_from: Option<i64>,
) -> diesel::QueryResult<Vec<Current>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = Sql::new(backend);
    sql.push("SELECT id, created_ticks, doc, doc_extra FROM risky_users WHERE tenant_id = ")
        .bind(Param::Text(tenant.as_str().to_owned()));
    if let Some(from) = visible_from {
        entities::push_open_or_recent(&mut sql, "risky_users", from);
    }
    sql.push(" AND id IN ").bind_list(entities::id_params(ids));
    sql.load(c)
}

fn rollback(why: &str) -> diesel::result::Error {
    tracing::error!(why, "rolled back a risky-user change");
    diesel::result::Error::RollbackTransaction
}

impl Store {
    /// Stores ingested risky-user changes for `tenant`, all or nothing. Every change whose history
    /// item is new is appended to the history; a user's state is replaced only by a newer one.
    /// Nothing counts as expired: a closing change older than the tenant's window must still close
    /// the user's risk (an open state is kept whatever its age); the closed user is then invisible
    /// and the purge removes it.
    ///
    /// # Errors
    /// Database errors; nothing is stored then.
    pub fn ingest_risky_users(
        &self,
        tenant: &TenantId,
        mut changes: Vec<RiskyUserChange>,
    ) -> StorageResult<IngestOutcome> {
        let total = changes.len();
        changes.sort_by_key(|c| c.user.ticks());
        let mut seen = HashSet::new();
        let histories: Vec<Record> =
            changes.iter().filter(|c| seen.insert(c.history.id().to_owned())).map(|c| c.history.clone()).collect();
        // The newest state of each user in the batch.
        let mut latest: HashMap<String, Record> = HashMap::new();
        for c in changes {
            latest.insert(c.user.id().to_owned(), c.user);
        }
        let backend = self.backend();
        let inserted = self.write_transaction(|c| {
            let appended = insert_new(c, tenant, &histories)?.len();
            let ids: Vec<String> = latest.keys().cloned().collect();
            let stored: HashMap<String, i64> =
                current_users(c, backend, tenant, &ids, None)?.into_iter().map(|u| (u.id, u.created_ticks)).collect();
            let mut newer: Vec<Record> =
                latest.into_values().filter(|u| stored.get(u.id()).is_none_or(|t| u.ticks() > *t)).collect();
            // In the users' time order, so the feed's order within a batch does not depend on a hash.
            newer.sort_by(|a, b| (a.ticks(), a.id()).cmp(&(b.ticks(), b.id())));
            let replaced: Vec<String> =
                newer.iter().filter(|u| stored.contains_key(u.id())).map(|u| u.id().to_owned()).collect();
            delete_ids(c, backend, &RISKY_USERS, tenant.as_str(), &replaced)?;
            // `delete_ids` took the replaced users' earlier feed entries: each user is in the feed
            // once, at its latest change.
            let fresh = insert_new(c, tenant, &newer)?;
            feed::append(c, tenant, &fresh)?;
            Ok(appended)
        })?;
        Ok(IngestOutcome { inserted, duplicates: total - inserted, expired: 0 })
    }

    /// Applies `action` by `actor` to the tenant's risky users `user_ids` (lower-case GUIDs): sets
    /// their state, appends a history item each and writes a directory audit event each, in one
    /// transaction. Ids the tenant does not have (or no longer shows) are ignored. `request` is the
    /// request's correlation id. Returns the ids changed.
    ///
    /// # Errors
    /// Database errors; nothing is changed then.
    pub fn apply_risky_user_action(
        &self,
        action: RiskyUserAction,
        actor: &Principal,
        user_ids: &[String],
        request: &str,
    ) -> StorageResult<Vec<String>> {
        let tenant = &actor.tenant;
        let view = self.tenant_view(tenant)?;
        let now = self.clock().now_ticks();
        let backend = self.backend();
        let changed = self.write_transaction(|c| {
            lock_users(c, tenant, user_ids)?;
            let users = current_users(c, backend, tenant, user_ids, Some(view.risk_detections_from))?;
            let mut changed = Vec::with_capacity(users.len());
            let mut journal = Vec::with_capacity(users.len() * 2);
            for u in users {
                let mut doc: Map<String, Value> =
                    serde_json::from_str(&u.doc).map_err(|_| rollback("stored user is not JSON"))?;
                if let Some(extra) =
                    u.doc_extra.as_deref().and_then(|e| serde_json::from_str::<Map<String, Value>>(e).ok())
                {
                    doc.extend(extra);
                }
                let applied = actions::apply(action, actor, &doc, now, request);
                let user = Record::from_document(&RISKY_USERS, applied.user).map_err(|e| rollback(&e))?;
                let history = Record::from_document(&RISKY_USER_HISTORY, applied.history).map_err(|e| rollback(&e))?;
                let audit = Record::from_document(&DIRECTORY_AUDITS, applied.audit).map_err(|e| rollback(&e))?;
                delete_ids(c, backend, &RISKY_USERS, tenant.as_str(), std::slice::from_ref(&u.id))?;
                let mut written = insert_new(c, tenant, std::slice::from_ref(&user))?;
                written.extend(insert_new(c, tenant, std::slice::from_ref(&history))?);
                written.extend(insert_new(c, tenant, std::slice::from_ref(&audit))?);
                if written.len() != 3 {
                    return Err(rollback("a history item or audit event with the same id is already stored"));
                }
                journal.extend(written);
                changed.push(u.id);
            }
            feed::append(c, tenant, &journal)?;
            Ok(changed)
        })?;
        tracing::info!(tenant = %tenant, action = action.segment(), users = changed.len(), "risky-user action");
        Ok(changed)
    }
}
