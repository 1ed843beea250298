//! Listings in pages: every order, with filters, and the audit trail.

use super::{event, record};
use crate::audit::Event;
use crate::store::{AuditQuery, Cursor, SortKey, Store, TokenFilter};

/// 40 tokens with ties and missing values in every sort column.
fn fleet(store: &dyn Store) {
    for i in 0..40i64 {
        let id = format!("t{i:07}");
        let mut t = record(&id, ["alice", "bob", "Carol", "al"][(i % 4) as usize]);
        t.name = ["deploy", "Deploy", "laptop", "é"][(i % 3) as usize].into();
        t.created_at = 100 + i % 7;
        t.expires_at = (i % 5 != 0).then_some(1000 + i % 3);
        t.last_used_at = (i % 2 == 0).then_some(500 - i % 4);
        store
            .insert_token(&t, &event("token.create", &t.owner))
            .unwrap();
    }
}

/// Reads the whole listing of `base` in pages of `size`, following cursors.
fn pages(store: &dyn Store, base: &TokenFilter, size: u32) -> Vec<String> {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let filter = TokenFilter {
            after: after.clone(),
            limit: Some(size),
            ..base.clone()
        };
        let page = store.tokens_filtered(&filter).unwrap();
        out.extend(page.iter().map(|t| t.id.clone()));
        match page.last() {
            Some(last) if page.len() == size as usize => {
                let c = Cursor::after(last, base.sort, base.descending);
                // Through the text form, as a client would hand it back.
                after = Some(Cursor::decode(&c.encode()).unwrap());
            }
            _ => return out,
        }
    }
}

pub fn paging_every_order_visits_each_row_once(store: &dyn Store) {
    fleet(store);
    let sorts = [
        SortKey::Created,
        SortKey::Expires,
        SortKey::LastUsed,
        SortKey::User,
        SortKey::Name,
        SortKey::Id,
    ];
    for sort in sorts {
        for descending in [false, true] {
            let base = TokenFilter {
                sort,
                descending,
                ..TokenFilter::default()
            };
            let whole: Vec<String> = store
                .tokens_filtered(&base)
                .unwrap()
                .into_iter()
                .map(|t| t.id)
                .collect();
            assert_eq!(whole.len(), 40);
            for size in [1, 3, 7, 40, 100] {
                assert_eq!(
                    pages(store, &base, size),
                    whole,
                    "{sort:?} desc={descending} size={size}"
                );
            }
        }
    }
    // NULL sorts first ascending: never-expiring tokens lead the expiry order.
    let by_expiry = store
        .tokens_filtered(&TokenFilter {
            sort: SortKey::Expires,
            ..TokenFilter::default()
        })
        .unwrap();
    assert!(by_expiry[..8].iter().all(|t| t.expires_at.is_none()));
    assert!(by_expiry[8..].iter().all(|t| t.expires_at.is_some()));
}

pub fn paging_with_filter_and_cursor(store: &dyn Store) {
    fleet(store);
    let base = TokenFilter {
        owner: Some("bob".into()),
        name: Some("DEPLOY".into()),
        never_used: true,
        sort: SortKey::LastUsed,
        descending: true,
        ..TokenFilter::default()
    };
    let whole: Vec<String> = store
        .tokens_filtered(&base)
        .unwrap()
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert!(!whole.is_empty());
    assert_eq!(pages(store, &base, 2), whole);
}

pub fn audit_page_continues_before_cursor(store: &dyn Store) {
    for i in 0..25 {
        let user = if i % 2 == 0 { "alice" } else { "bob" };
        store
            .append_event(&Event::new("token.reuse", i).with("user", user))
            .unwrap();
    }
    let mut seen = Vec::new();
    let mut before = None;
    loop {
        let q = AuditQuery {
            user: Some("alice".into()),
            since: 4,
            before,
            limit: 3,
        };
        let page = store.audit_page(&q).unwrap();
        seen.extend(page.iter().map(|r| r.time));
        match page.last() {
            Some(last) => before = Some(last.seq),
            None => break,
        }
    }
    let expected: Vec<i64> = (4..25).rev().filter(|t| t % 2 == 0).collect();
    assert_eq!(seen, expected);
}
