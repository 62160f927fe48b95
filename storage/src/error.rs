//! The storage layer's error type. `api` maps each variant to one HTTP status.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum StorageError {
    /// The database cannot be reached: worth retrying later.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// Every connection of the pool stayed busy with other requests past the wait: worth retrying
    /// later, and the database itself is up.
    #[error("every database connection is busy: {0}")]
    Busy(String),
    /// A database URL or setting we cannot use.
    #[error("{0}")]
    Config(String),
    /// Migrations failed at start.
    #[error("migrations failed: {0}")]
    Migration(String),
    /// A query ran past the statement timeout.
    #[error("the query ran longer than the statement timeout (statement_timeout_ms)")]
    Timeout,
    /// Any other database error (logged by the caller, never shown to a client).
    #[error("database error: {0}")]
    Database(diesel::result::Error),
}

impl From<diesel::result::Error> for StorageError {
    fn from(e: diesel::result::Error) -> Self {
        match &e {
            // PostgreSQL's `statement_timeout`; SQLite's statement interrupted by `budget.rs`.
            diesel::result::Error::DatabaseError(_, info)
                if info.message().contains("statement timeout") || info.message() == "interrupted" =>
            {
                Self::Timeout
            }
            // The connection is gone (server restarted, backend terminated): the pool replaces it,
            // and the request is worth retrying.
            _ if crate::conn::is_connection_lost(&e) => Self::Unavailable(e.to_string()),
            // SQLite's writer lock held past the busy timeout.
            diesel::result::Error::DatabaseError(_, info)
                if info.message().contains("database is locked") || info.message().contains("database is busy") =>
            {
                Self::Unavailable(e.to_string())
            }
            _ => Self::Database(e),
        }
    }
}

impl From<diesel::r2d2::PoolError> for StorageError {
    fn from(e: diesel::r2d2::PoolError) -> Self {
        Self::Unavailable(e.to_string())
    }
}

pub type StorageResult<T> = Result<T, StorageError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Info(&'static str);

    impl diesel::result::DatabaseErrorInformation for Info {
        fn message(&self) -> &str {
            self.0
        }
        fn details(&self) -> Option<&str> {
            None
        }
        fn hint(&self) -> Option<&str> {
            None
        }
        fn table_name(&self) -> Option<&str> {
            None
        }
        fn column_name(&self) -> Option<&str> {
            None
        }
        fn constraint_name(&self) -> Option<&str> {
            None
        }
        fn statement_position(&self) -> Option<i32> {
            None
        }
    }

    #[test]
    fn statement_timeouts_are_told_apart() {
        let e = diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::Unknown,
            Box::new(Info("canceling statement due to statement timeout")),
        );
        assert!(matches!(StorageError::from(e), StorageError::Timeout));
        let e =
            diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::Unknown, Box::new(Info("other")));
        assert!(matches!(StorageError::from(e), StorageError::Database(_)));
    }
}
