//! The storage layer's guarantees: SQLite pragmas on every pooled connection, and the two
//! migration folders in step.

use civitas::db::DbConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use std::collections::BTreeMap;
use std::path::Path;

use crate::helpers::{Node, NodeDatabase, TestApp, backend_is_postgres};

#[derive(QueryableByName)]
struct JournalMode {
    #[diesel(sql_type = Text)]
    journal_mode: String,
}

#[derive(QueryableByName)]
struct BusyTimeout {
    #[diesel(sql_type = BigInt)]
    timeout: i64,
}

#[derive(QueryableByName)]
struct Synchronous {
    #[diesel(sql_type = BigInt)]
    synchronous: i64,
}

#[derive(QueryableByName)]
struct ForeignKeys {
    #[diesel(sql_type = BigInt)]
    foreign_keys: i64,
}

#[actix_web::test]
async fn every_pooled_sqlite_connection_has_the_pragmas() {
    if backend_is_postgres() {
        return;
    }
    let app = TestApp::spawn_with(|config| config.db_pool_size = 4).await;
    let pool = app.state.pool.clone();
    actix_web::web::block(move || {
        // Hold every connection at once, so each one is checked, not one reused four times.
        let mut held: Vec<_> = (0..pool.max_size()).map(|_| pool.get().unwrap()).collect();
        assert_eq!(held.len(), 4);
        for conn in &mut held {
            let DbConnection::Sqlite(conn) = &mut **conn else {
                panic!("expected SQLite");
            };
            let mode: JournalMode = diesel::sql_query("PRAGMA journal_mode")
                .get_result(conn)
                .unwrap();
            assert_eq!(mode.journal_mode, "wal");
            let busy: BusyTimeout = diesel::sql_query("PRAGMA busy_timeout")
                .get_result(conn)
                .unwrap();
            assert_eq!(busy.timeout, 5000);
            let sync: Synchronous = diesel::sql_query("PRAGMA synchronous")
                .get_result(conn)
                .unwrap();
            assert_eq!(sync.synchronous, 1, "NORMAL");
            let fk: ForeignKeys = diesel::sql_query("PRAGMA foreign_keys")
                .get_result(conn)
                .unwrap();
            assert_eq!(fk.foreign_keys, 1);
        }
    })
    .await
    .unwrap();
}

fn migrations_in(dir: &Path) -> BTreeMap<String, Vec<String>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| {
            let entry = entry.unwrap();
            let mut files: Vec<String> = std::fs::read_dir(entry.path())
                .unwrap()
                .map(|f| f.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            files.sort();
            (entry.file_name().to_string_lossy().into_owned(), files)
        })
        .collect()
}

#[test]
fn the_two_migration_folders_stay_in_step() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let sqlite = migrations_in(&root.join("sqlite"));
    let postgres = migrations_in(&root.join("postgres"));
    assert!(!sqlite.is_empty());
    assert_eq!(
        sqlite, postgres,
        "migrations/sqlite and migrations/postgres differ"
    );
    for files in sqlite.values() {
        assert_eq!(files, &["down.sql", "up.sql"]);
    }
}

/// `civitas migrate` on a new database applies every migration and says how many (it
/// used to migrate before its own run and report none); run again, it applies none.
#[test]
fn migrate_reports_the_migrations_it_applied() {
    let dir = tempfile::tempdir().unwrap();
    let database = NodeDatabase::fresh(dir.path());
    let node = Node::new(&database.url, dir.path());
    let migrate = || node.cli(&["migrate"], "").trim().to_owned();
    let folder = if database.is_postgres() {
        "postgres"
    } else {
        "sqlite"
    };
    let all = migrations_in(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("migrations")
            .join(folder),
    );
    assert_eq!(migrate(), format!("{} migration(s) applied", all.len()));
    assert_eq!(migrate(), "0 migration(s) applied");
}

#[actix_web::test]
async fn a_migrated_database_accepts_a_second_migration_run() {
    let app = TestApp::spawn().await;
    let output = app.cli(&["migrate"], None);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "0 migration(s) applied"
    );
}
