//! The databases of a run: created fresh, connected to exactly as the service connects, measured,
//! and dropped at the end.

use std::path::{Path, PathBuf};

use anyhow::Context;
use diesel::connection::SimpleConnection;
use diesel::sql_types::{BigInt, Text};
use diesel::{Connection, PgConnection, QueryableByName, SqliteConnection};
use storage::conn::AnyConnection;
use storage::sql::{Param, Sql};

/// One database.
#[derive(Debug, Clone)]
pub enum Db {
    Sqlite {
        path: PathBuf,
    },
    /// `server` is a URL without a database (`postgres://postgres@127.0.0.1:5432`).
    Postgres {
        server: String,
        name: String,
    },
}

#[derive(QueryableByName)]
pub struct Count {
    #[diesel(sql_type = BigInt)]
    pub n: i64,
}

#[derive(QueryableByName)]
pub struct TextRow {
    #[diesel(sql_type = Text)]
    pub v: String,
}

impl Db {
    /// The URL idtrail takes (`IDTRAIL_DATABASE_URL`).
    pub fn url(&self) -> String {
        match self {
            Self::Sqlite { path } => format!("sqlite://{}", path.display()),
            Self::Postgres { server, name } => format!("{}/{name}", server.trim_end_matches('/')),
        }
    }

    fn admin(server: &str) -> anyhow::Result<PgConnection> {
        let url = format!("{}/postgres", server.trim_end_matches('/'));
        PgConnection::establish(&url).with_context(|| format!("connecting to {url}"))
    }

    /// Drops the database (or file) if it exists and creates it empty.
    pub fn recreate(&self) -> anyhow::Result<()> {
        self.drop_if_exists()?;
        if let Self::Postgres { server, name } = self {
            Self::admin(server)?.batch_execute(&format!("CREATE DATABASE {name}"))?;
        }
        Ok(())
    }

    pub fn drop_if_exists(&self) -> anyhow::Result<()> {
        match self {
            Self::Sqlite { path } => {
                for suffix in ["", "-wal", "-shm"] {
                    let p = PathBuf::from(format!("{}{suffix}", path.display()));
                    if p.exists() {
                        std::fs::remove_file(&p).with_context(|| format!("removing {}", p.display()))?;
                    }
                }
            }
            Self::Postgres { server, name } => {
                Self::admin(server)?.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))?;
            }
        }
        Ok(())
    }

    /// A connection set up as the service sets up its own (`storage::conn`), prepared statements
    /// included.
    pub fn connect(&self) -> anyhow::Result<AnyConnection> {
        let mut c = self.connect_unprepared()?;
        storage::conn::reuse_statements(&mut c, storage::prepared::DEFAULT_CAPACITY);
        Ok(c)
    }

    /// A connection that parses and plans every statement anew (as idtrail did before it prepared them).
    pub fn connect_unprepared(&self) -> anyhow::Result<AnyConnection> {
        match self {
            Self::Sqlite { path } => {
                let mut c = SqliteConnection::establish(&path.to_string_lossy())?;
                c.batch_execute(storage::conn::SQLITE_SESSION)?;
                Ok(AnyConnection::Sqlite(c))
            }
            Self::Postgres { .. } => {
                let mut c = PgConnection::establish(&self.url())?;
                // The session idtrail's pooled connections get, with the baseline's own statement
                // limit (the service's is its `statement_timeout_ms`).
                c.batch_execute(storage::conn::POSTGRES_SESSION)?;
                c.batch_execute("SET statement_timeout = '30s'")?;
                Ok(AnyConnection::Postgresql(c))
            }
        }
    }

    /// A connection without the service's statement timeout, for setup and maintenance
    /// (`VACUUM ANALYZE` of millions of rows takes minutes).
    pub fn connect_unbounded(&self) -> anyhow::Result<AnyConnection> {
        let mut c = self.connect()?;
        if let AnyConnection::Postgresql(_) = c {
            c.batch_execute("SET statement_timeout = 0")?;
        }
        Ok(c)
    }

    /// Bytes on disk (SQLite: the database file, without its WAL).
    pub fn size_bytes(&self, conn: &mut AnyConnection) -> anyhow::Result<u64> {
        match self {
            // The database file only; the WAL is reported on its own.
            Self::Sqlite { path } => Ok(std::fs::metadata(path).map_or(0, |m| m.len())),
            Self::Postgres { .. } => {
                let n = scalar(conn, "SELECT pg_database_size(current_database()) AS n", &[])?;
                Ok(u64::try_from(n).unwrap_or(0))
            }
        }
    }
}

/// `text` with each `?` bound to the next of `params` (numbered for PostgreSQL by `Sql::bind`).
pub fn with_params(conn: &AnyConnection, text: &str, params: &[Param]) -> Sql {
    let mut sql = Sql::new(conn.backend());
    let mut parts = text.split('?');
    sql.push(parts.next().unwrap_or(""));
    for (part, p) in parts.zip(params) {
        sql.bind(p.clone()).push(part);
    }
    sql
}

/// Runs a query returning one BIGINT column named `n`.
pub fn scalar(conn: &mut AnyConnection, text: &str, params: &[Param]) -> anyhow::Result<i64> {
    let sql = with_params(conn, text, params);
    let rows: Vec<Count> = sql.load(conn).with_context(|| format!("running {text}"))?;
    Ok(rows.first().map_or(0, |r| r.n))
}

/// Runs a built statement returning one BIGINT column named `n`.
pub fn scalar_sql(conn: &mut AnyConnection, sql: &Sql) -> anyhow::Result<i64> {
    let rows: Vec<Count> = sql.load(conn).with_context(|| format!("running {}", sql.text()))?;
    Ok(rows.first().map_or(0, |r| r.n))
}

/// Runs a query returning one TEXT column named `v`.
pub fn texts(conn: &mut AnyConnection, text: &str, params: &[Param]) -> anyhow::Result<Vec<String>> {
    let sql = with_params(conn, text, params);
    let rows: Vec<TextRow> = sql.load(conn).with_context(|| format!("running {text}"))?;
    Ok(rows.into_iter().map(|r| r.v).collect())
}

pub fn execute(conn: &mut AnyConnection, text: &str) -> anyhow::Result<()> {
    conn.batch_execute(text).with_context(|| format!("running {text}"))
}

/// Free bytes on the file system holding `path` (`df`, so nothing unsafe is needed).
pub fn free_bytes(path: &Path) -> anyhow::Result<u64> {
    let out = std::process::Command::new("df").arg("-Pk").arg(path).output().context("running df")?;
    let text = String::from_utf8_lossy(&out.stdout);
    let kb: u64 = text
        .lines()
        .nth(1)
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("cannot read df output: {text}"))?;
    Ok(kb * 1024)
}
