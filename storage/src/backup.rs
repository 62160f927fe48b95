//! Backups of a SQLite database while the service runs: `VACUUM INTO` a new file.
//!
//! `VACUUM INTO` reads the database in one read transaction, so the copy is the database as of one
//! commit (never half a batch), and in WAL mode the writer goes on committing meanwhile. The copy
//! is also compacted. PostgreSQL has its own tools (`pg_dump`, continuous archiving): nothing here.

use diesel::RunQueryDsl;
use diesel::sql_types::Text;

use crate::conn::{AnyConnection, DatabaseUrl};
use crate::error::{StorageError, StorageResult};

/// Writes a consistent copy of the SQLite database at `url` into the new file `target`.
///
/// # Errors
/// [`StorageError::Config`] for a PostgreSQL URL; [`StorageError::Unavailable`] when the
/// database cannot be opened; database errors (`target` exists, the disk is full, ...).
pub fn vacuum_into(url: &DatabaseUrl, target: &str) -> StorageResult<()> {
    let DatabaseUrl::Sqlite { .. } = url else {
        return Err(StorageError::Config("VACUUM INTO backs up SQLite databases only".into()));
    };
    let mut conn = crate::conn::establish(url).map_err(|e| StorageError::Unavailable(e.to_string()))?;
    let AnyConnection::Sqlite(c) = &mut conn else {
        return Err(StorageError::Config("VACUUM INTO backs up SQLite databases only".into()));
    };
    diesel::sql_query("VACUUM INTO ?").bind::<Text, _>(target).execute(c)?;
    Ok(())
}
