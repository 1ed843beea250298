//! `apitoken list` in pages: `--limit` and `--after` walk a listing exactly once in every
//! order and with filters, `next: CURSOR` on stderr says where to continue, and `--all`
//! streams a listing larger than one request's page in the shape of SPEC §6.

use crate::common::{stderr, stdout, Daemon};
use crate::{assert_code, assert_token_object, ids, json};

/// The cursor `apitoken list --limit` wrote to stderr, if any.
fn next_cursor(out: &std::process::Output) -> Option<String> {
    stderr(out)
        .lines()
        .find_map(|l| l.strip_prefix("next: "))
        .map(String::from)
}

/// Every id of `args`, fetched `size` at a time by following `next:` cursors.
fn walk(d: &Daemon, args: &[&str], size: usize) -> Vec<String> {
    let size = size.to_string();
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..1000 {
        let mut full = vec!["list", "--json", "--limit", &size];
        full.extend_from_slice(args);
        if let Some(c) = &after {
            full.extend(["--after", c.as_str()]);
        }
        let out = d.cli(&full);
        let page = ids(&json(&out));
        assert!(page.len() <= size.parse().unwrap());
        seen.extend(page);
        match next_cursor(&out) {
            Some(c) => after = Some(c),
            None => return seen,
        }
    }
    panic!("the listing never ended");
}

/// Stores `n` tokens for `owner` straight into the daemon's database (the daemon keeps
/// no listing in memory), with names and times that tie and repeat.
fn insert_rows(d: &Daemon, owner: &str, n: usize) {
    let mut db = rusqlite::Connection::open(d.db_path()).unwrap();
    db.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
    let tx = db.transaction().unwrap();
    for i in 0..n {
        tx.execute(
            "INSERT INTO tokens (id, owner, name, hash, created_at, created_by, expires_at)
             VALUES (?1, ?2, ?3, '$sha256$v=1$x', ?4, 'root', ?5)",
            rusqlite::params![
                format!("P{i:07}"),
                owner,
                format!("bulk {}", i % 10),
                1_700_000_000 + (i / 3) as i64,
                (i % 4 != 0).then_some(4_000_000_000 + (i % 7) as i64),
            ],
        )
        .unwrap();
    }
    tx.commit().unwrap();
}

#[test]
fn list_limit_after_walks_every_order_once() {
    let d = Daemon::start();
    insert_rows(&d, "atk-page-walk", 23);
    for order in [
        &["--all"][..],
        &["--all", "--sort", "name", "--reverse"],
        &["--all", "--sort", "expires"],
        &["--all", "--sort", "expires", "--reverse"],
        &["--all", "--sort", "last-used"],
        &["--all", "--sort", "user"],
    ] {
        let whole = ids(&json(&d.cli(&[&["list", "--json"][..], order].concat())));
        assert_eq!(whole.len(), 23);
        for size in [1, 5, 23] {
            assert_eq!(walk(&d, order, size), whole, "{order:?} in pages of {size}");
        }
    }
}

#[test]
fn list_limit_after_keeps_filters() {
    let d = Daemon::start();
    insert_rows(&d, "atk-page-filter", 40);
    insert_rows_other(&d);
    let args = [
        "--user",
        "atk-page-filter",
        "--name",
        "BULK 3",
        "--sort",
        "created",
    ];
    let whole = ids(&json(&d.cli(&[&["list", "--json"][..], &args].concat())));
    assert_eq!(whole.len(), 4, "{whole:?}");
    assert_eq!(walk(&d, &args, 3), whole);
}

/// A second owner whose tokens a filtered listing must never show.
fn insert_rows_other(d: &Daemon) {
    let db = rusqlite::Connection::open(d.db_path()).unwrap();
    db.execute(
        "INSERT INTO tokens (id, owner, name, hash, created_at, created_by)
         VALUES ('Q0000001', 'atk-page-other', 'bulk 3', '$sha256$v=1$x', 1700000000, 'root')",
        [],
    )
    .unwrap();
}

#[test]
fn list_limit_without_more_writes_no_cursor() {
    let d = Daemon::start();
    insert_rows(&d, "atk-page-exact", 4);
    let out = d.cli(&["list", "--all", "--limit", "4"]);
    assert_code(&out, 0);
    assert_eq!(next_cursor(&out), None, "{}", stderr(&out));
    let out = d.cli(&["list", "--all", "--limit", "3"]);
    assert!(next_cursor(&out).is_some());
    // Human output: a header and three rows.
    assert_eq!(stdout(&out).lines().count(), 4, "{}", stdout(&out));
}

#[test]
fn list_after_cursor_of_other_order_or_damaged_is_refused() {
    let d = Daemon::start();
    insert_rows(&d, "atk-page-bad", 5);
    let out = d.cli(&["list", "--all", "--limit", "2", "--sort", "name"]);
    let cursor = next_cursor(&out).unwrap();
    let other = d.cli(&["list", "--all", "--after", &cursor, "--sort", "created"]);
    assert_code(&other, 1);
    assert!(
        stderr(&other).contains("sorted by name"),
        "{}",
        stderr(&other)
    );
    let reversed = d.cli(&[
        "list",
        "--all",
        "--after",
        &cursor,
        "--sort",
        "name",
        "--reverse",
    ]);
    assert_code(&reversed, 1);
    let damaged = d.cli(&["list", "--all", "--after", "ca.zz.P0000001"]);
    assert_code(&damaged, 1);
    assert!(
        stderr(&damaged).contains("not a cursor"),
        "{}",
        stderr(&damaged)
    );
}

#[test]
fn list_all_streams_past_one_page_in_spec_shape() {
    let d = Daemon::start();
    // More than two of the CLI's requests (1000 tokens each).
    insert_rows(&d, "atk-page-stream", 2500);
    let out = d.cli(&["list", "--all", "--json"]);
    let list = json(&out);
    let got = ids(&list);
    assert_eq!(got.len(), 2500);
    let mut unique = got.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 2500, "a row was listed twice");
    for t in list.as_array().unwrap().iter().step_by(499) {
        assert_token_object(t);
    }
    // Oldest first, the default order, across page boundaries.
    let created: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["created"].as_str().unwrap())
        .collect();
    assert!(created.windows(2).all(|w| w[0] <= w[1]));
    let table = d.cli(&["list", "--all"]);
    assert_code(&table, 0);
    let text = stdout(&table);
    assert_eq!(text.lines().count(), 2501);
    assert_eq!(text.lines().filter(|l| l.starts_with("ID ")).count(), 1);
    assert!(stderr(&table).is_empty(), "{}", stderr(&table));
}

#[test]
fn list_json_of_nothing_is_an_empty_array() {
    let d = Daemon::start();
    let out = d.cli(&["list", "--user", "atk-page-none", "--json"]);
    assert_eq!(out.stdout, b"[]\n");
    let out = d.cli(&["list", "--user", "atk-page-none"]);
    assert_eq!(out.stdout, b"No tokens.\n");
}
