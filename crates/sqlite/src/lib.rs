//! How our embedded SQLite stores (the hub's buckets, the trace store) open a database: WAL
//! (readers never wait for the writer), the durability the store chooses, a busy timeout, and
//! a schema versioned by `PRAGMA user_version` and migrated by the binary itself — one
//! migration a transaction, so a crash between two leaves a version that says what was done.
//! A file made by a newer build is refused rather than misread.

use rusqlite::Connection;
use std::time::Duration;

/// How sure a committed write is to survive a power cut.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// `synchronous=FULL`: a commit is on disk when it returns (the hub acknowledges a push
    /// only then).
    Full,
    /// `synchronous=NORMAL`: a power cut may lose the last commits, never corrupt the file
    /// (the trace store, at 20 000 records a second).
    Normal,
}

/// Longest wait for another connection's lock.
const BUSY: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Sql(#[from] rusqlite::Error),
    /// The file's schema is newer than the migrations this build knows.
    #[error("the database's schema is version {found}, newer than this build's {known}")]
    Newer { found: u32, known: u32 },
}

/// Sets up `conn` (WAL, `durability`, the busy timeout) and applies `migrations[found..upto]`
/// in order, each with its version; `migrations.len()` is the schema's version. `upto` below
/// it leaves a file at an older version (tests of migration make such files).
pub fn prepare(
    conn: &mut Connection,
    durability: Durability,
    migrations: &[&str],
    upto: usize,
) -> Result<(), OpenError> {
    conn.pragma_update(None, "journal_mode", "WAL")?;
    let sync = match durability {
        Durability::Full => "FULL",
        Durability::Normal => "NORMAL",
    };
    conn.pragma_update(None, "synchronous", sync)?;
    conn.busy_timeout(BUSY)?;
    let found = version(conn)?;
    let known = u32::try_from(migrations.len()).unwrap_or(u32::MAX);
    if found > known {
        return Err(OpenError::Newer { found, known });
    }
    for (i, sql) in migrations
        .iter()
        .enumerate()
        .take(upto)
        .skip(found as usize)
    {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i + 1)?;
        tx.commit()?;
    }
    Ok(())
}

/// The schema version stored in the file.
pub fn version(conn: &Connection) -> Result<u32, rusqlite::Error> {
    conn.pragma_query_value(None, "user_version", |r| r.get(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIGRATIONS: [&str; 2] = [
        "CREATE TABLE a (x INTEGER);",
        "ALTER TABLE a ADD COLUMN y TEXT;",
    ];

    fn temp(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("pv-sqlite-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("db")
    }

    /// What SQLite itself says after opening: the pragmas took, each migration ran once.
    #[test]
    fn migrates_in_order_once_and_refuses_newer_files() {
        let path = temp("migrate");
        let mut conn = Connection::open(&path).unwrap();
        prepare(&mut conn, Durability::Full, &MIGRATIONS, 1).unwrap();
        assert_eq!(version(&conn).unwrap(), 1);
        prepare(&mut conn, Durability::Full, &MIGRATIONS, 2).unwrap();
        assert_eq!(version(&conn).unwrap(), 2);
        // Again: nothing to do (an ALTER run twice would fail).
        prepare(&mut conn, Durability::Normal, &MIGRATIONS, 2).unwrap();
        let mode: String = conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        let sync: i64 = conn
            .pragma_query_value(None, "synchronous", |r| r.get(0))
            .unwrap();
        assert_eq!(sync, 1, "NORMAL is 1 (FULL 2)");
        conn.execute("INSERT INTO a (x, y) VALUES (1, 'z')", [])
            .unwrap();
        conn.pragma_update(None, "user_version", 3).unwrap();
        match prepare(&mut conn, Durability::Full, &MIGRATIONS, 2) {
            Err(OpenError::Newer { found: 3, known: 2 }) => {}
            other => panic!("{other:?}"),
        }
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }
}
