//! Tenants (id, display name, license tier) and server-wide settings such as signing keys.

use diesel::prelude::*;
use domain::ids::{LicenseTier, TenantId};

use crate::Store;
use crate::error::StorageResult;
use crate::schema::{server_settings, tenants};

/// A tenant as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub id: TenantId,
    pub display_name: Option<String>,
    pub tier: LicenseTier,
    pub created_ticks: i64,
}

#[derive(Queryable, Insertable)]
#[diesel(table_name = tenants)]
struct TenantRow {
    id: String,
    display_name: Option<String>,
    license_tier: String,
    created_ticks: i64,
}

impl TenantRow {
    fn into_tenant(self) -> Option<Tenant> {
        Some(Tenant {
            id: TenantId::parse(&self.id).ok()?,
            display_name: self.display_name,
            tier: LicenseTier::parse(&self.license_tier).ok()?,
            created_ticks: self.created_ticks,
        })
    }
}

impl Store {
    /// The tenant `id`, if known.
    ///
    /// # Errors
    /// Database errors.
    pub fn tenant(&self, id: &TenantId) -> StorageResult<Option<Tenant>> {
        let mut conn = self.conn()?;
        let row = tenants::table.find(id.as_str()).first::<TenantRow>(&mut **conn).optional()?;
        Ok(row.and_then(TenantRow::into_tenant))
    }

    /// Every tenant, by id.
    ///
    /// # Errors
    /// Database errors.
    pub fn tenants(&self) -> StorageResult<Vec<Tenant>> {
        let mut conn = self.conn()?;
        let rows = tenants::table.order(tenants::id).load::<TenantRow>(&mut **conn)?;
        Ok(rows.into_iter().filter_map(TenantRow::into_tenant).collect())
    }

    /// Creates the tenant or changes its tier (and its name, when given).
    ///
    /// # Errors
    /// Database errors.
    pub fn set_tenant(&self, id: &TenantId, display_name: Option<&str>, tier: LicenseTier) -> StorageResult<Tenant> {
        let mut conn = self.conn()?;
        conn.transaction(|c| {
            let updated = match display_name {
                Some(name) => diesel::update(tenants::table.find(id.as_str()))
                    .set((tenants::license_tier.eq(tier.as_str()), tenants::display_name.eq(name)))
                    .execute(c)?,
                None => diesel::update(tenants::table.find(id.as_str()))
                    .set(tenants::license_tier.eq(tier.as_str()))
                    .execute(c)?,
            };
            if updated == 0 {
                diesel::insert_into(tenants::table)
                    .values(TenantRow {
                        id: id.as_str().to_owned(),
                        display_name: display_name.map(str::to_owned),
                        license_tier: tier.as_str().to_owned(),
                        created_ticks: self.clock().now_ticks(),
                    })
                    .execute(c)?;
            }
            Ok::<_, diesel::result::Error>(())
        })?;
        drop(conn);
        self.forget_tier(id);
        self.tenant(id)?.ok_or(crate::StorageError::Database(diesel::result::Error::NotFound))
    }

    /// The tenant `id`, created with `default_tier` if it is new (a tenant first seen at ingest).
    ///
    /// # Errors
    /// Database errors.
    pub fn ensure_tenant(&self, id: &TenantId, default_tier: LicenseTier) -> StorageResult<Tenant> {
        if let Some(t) = self.tenant(id)? {
            return Ok(t);
        }
        let mut conn = self.conn()?;
        let inserted = diesel::insert_into(tenants::table)
            .values(TenantRow {
                id: id.as_str().to_owned(),
                display_name: None,
                license_tier: default_tier.as_str().to_owned(),
                created_ticks: self.clock().now_ticks(),
            })
            .execute(&mut **conn);
        drop(conn);
        self.forget_tier(id);
        match inserted {
            // Another request created it meanwhile: theirs stands.
            Ok(_)
            | Err(diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)) => {
                self.tenant(id)?.ok_or(crate::StorageError::Database(diesel::result::Error::NotFound))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The server setting `name`, created with `make()` on first use. Every instance sharing the
    /// database sees the same value (paging keys must verify on every instance).
    ///
    /// # Errors
    /// Database errors.
    pub fn setting_or_insert(&self, name: &str, make: impl FnOnce() -> String) -> StorageResult<String> {
        let mut conn = self.conn()?;
        let existing =
            server_settings::table.find(name).select(server_settings::value).first::<String>(&mut **conn).optional()?;
        if let Some(v) = existing {
            return Ok(v);
        }
        let value = make();
        let inserted = diesel::insert_into(server_settings::table)
            .values((server_settings::name.eq(name), server_settings::value.eq(&value)))
            .execute(&mut **conn);
        match inserted {
            Ok(_) => Ok(value),
            Err(diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)) => {
                Ok(server_settings::table.find(name).select(server_settings::value).first::<String>(&mut **conn)?)
            }
            Err(e) => Err(e.into()),
        }
    }
}
