//! The kept sums against the same figures counted from the rows: the receipts' sums
//! (`receipt_sums`, kept by triggers) after every kind of change a receipt goes through, for
//! every filter they serve, before and after the pending changes are folded; My Usage's unbilled
//! sums (`usage_unbilled_sums`, kept by the store) after imports, billing and voids.

use payments_core::{EventKind, MinorUnits};
use payments_store::*;

use super::{event, thb, usage};

const DAY: i64 = 86_400;

fn filters(today: i64) -> Vec<ReceiptFilter> {
    let mut out = vec![ReceiptFilter::default()];
    for user in [None, Some("alice"), Some("bob"), Some("nobody")] {
        for status in [
            None,
            Some("unpaid"),
            Some("paid"),
            Some("partially_refunded"),
            Some("refunded"),
            Some("void"),
        ] {
            for (since, until) in [
                (None, None),
                (Some(today), Some(today + DAY)),
                (Some(today - DAY), Some(today)),
                (Some(today + DAY), None),
                (None, Some(today + DAY)),
            ] {
                out.push(ReceiptFilter {
                    status: status.map(str::to_string),
                    username: user.map(str::to_string),
                    since,
                    until,
                    ..ReceiptFilter::default()
                });
            }
        }
    }
    out
}

fn kept_equal_added_up(store: &Store, when: &str) {
    let today = payments_core::unix_now() / DAY * DAY;
    for f in filters(today) {
        let kept = store
            .receipt_totals(&f)
            .unwrap()
            .expect("kept for user, status and days");
        let added = store.receipt_totals_added_up(&f).unwrap();
        assert_eq!(kept, added, "{when}: {f:?}");
    }
}

/// Receipts created, paid, paid twice, refunded in part and in full, voided; the sums follow.
fn receipt_sums_follow_every_change(store: &Store) {
    store.create_user("alice", "h", Role::User).unwrap();
    store.create_user("bob", "h", Role::User).unwrap();
    let mut rows = Vec::new();
    for i in 0..6 {
        rows.push(usage("alice", &format!("a{i}"), 1_000 + i));
        rows.push(usage("bob", &format!("b{i}"), 2_000 + i));
    }
    store.import_usage(&rows, "test").unwrap();
    kept_equal_added_up(store, "no receipts");
    let mut receipts = Vec::new();
    for name in ["alice", "bob"] {
        let user = store.user_by_username(name).unwrap().unwrap();
        for record in store.usage_for_user(user.id).unwrap() {
            receipts.push(
                store
                    .create_receipt_from_usage(user.id, &[record.id], "test")
                    .unwrap(),
            );
        }
    }
    kept_equal_added_up(store, "created");
    // Pay four of them (alice's first two, bob's first two).
    let paid: Vec<&ReceiptRow> = [0, 1, 6, 7].iter().map(|&i| &receipts[i]).collect();
    for (n, r) in paid.iter().enumerate() {
        let intent = store.create_payment_for_receipt(r.id, "dummy").unwrap();
        let ext = format!("cs_sums_{n}");
        store
            .attach_provider_checkout(intent.payment().id, &ext, "http://127.0.0.1/pay", "test")
            .unwrap();
        store
            .handle_verified_event(&event(
                &format!("evt_paid_{n}"),
                EventKind::PaymentSucceeded,
                &ext,
                Some(thb(r.total_minor)),
            ))
            .unwrap();
    }
    kept_equal_added_up(store, "paid");
    store.fold_receipt_sums().unwrap();
    kept_equal_added_up(store, "paid, folded");
    // A part refunded, then all of another.
    store
        .handle_verified_event(&event(
            "evt_part",
            EventKind::Refunded {
                amount: Some(MinorUnits(100)),
            },
            "cs_sums_0",
            None,
        ))
        .unwrap();
    store
        .handle_verified_event(&event(
            "evt_all",
            EventKind::Refunded { amount: None },
            "cs_sums_2",
            None,
        ))
        .unwrap();
    kept_equal_added_up(store, "refunded");
    // Voided.
    store
        .void_receipt(receipts[3].id, "issued by mistake", "admin")
        .unwrap();
    kept_equal_added_up(store, "voided");
    store.fold_receipt_sums().unwrap();
    kept_equal_added_up(store, "folded again");
    let all = store.receipt_totals(&ReceiptFilter::default()).unwrap().unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].receipts, 12);
    assert!(
        all[0].received_minor > 0 && all[0].refunded_minor > 100,
        "{all:?}"
    );
    // A provider filter over few receipts is added up; with a search too.
    let by_provider = ReceiptFilter {
        provider: Some("dummy".into()),
        ..ReceiptFilter::default()
    };
    assert_eq!(
        store.receipt_totals(&by_provider).unwrap(),
        Some(store.receipt_totals_added_up(&by_provider).unwrap())
    );
}

fn unbilled_kept_equal_counted(store: &Store, when: &str) {
    let day = 86_400;
    let ranges = [
        (None, None),
        (Some(1_700_000_000 / day * day), None),
        (None, Some(1_700_000_000 / day * day + day)),
        (
            Some(1_700_000_000 / day * day - day),
            Some(1_700_000_000 / day * day + 2 * day),
        ),
        (Some(day), Some(2 * day)),
        (Some(1_699_999_999), Some(1_700_000_001)),
        (None, Some(day)),
    ];
    for name in ["alice", "bob"] {
        let user = store.user_by_username(name).unwrap().unwrap();
        for (since, until) in ranges {
            assert_eq!(
                store.unbilled_totals(user.id, since, until).unwrap(),
                store.unbilled_totals_counted(user.id, since, until).unwrap(),
                "{when}: {name} {since:?}..{until:?}"
            );
        }
    }
}

/// My Usage's kept unbilled sums follow imports (also one refused as a whole), billing chosen
/// records and all in some dates, and voiding.
fn unbilled_sums_follow_imports_billing_and_voids(store: &Store) {
    store.create_user("alice", "h", Role::User).unwrap();
    store.create_user("bob", "h", Role::User).unwrap();
    let mut rows = Vec::new();
    for i in 0..30 {
        let mut row = usage(
            if i % 3 == 0 { "bob" } else { "alice" },
            &format!("j{i}"),
            100 + i,
        );
        // Around one day, and a few before 1970.
        row.ended_at = if i % 10 == 9 {
            -90_000 - i
        } else {
            1_700_000_000 - 50_000 + i * 3_000
        };
        rows.push(row);
    }
    store.import_usage(&rows, "test").unwrap();
    unbilled_kept_equal_counted(store, "imported");
    // A file with a repeated job is refused whole: the sums are as they were.
    assert!(store
        .import_usage(&[usage("alice", "new", 5), usage("alice", "j1", 5)], "test")
        .is_err());
    unbilled_kept_equal_counted(store, "refused import");
    let alice = store.user_by_username("alice").unwrap().unwrap();
    let mine: Vec<i64> = store
        .usage_for_user(alice.id)
        .unwrap()
        .iter()
        .take(4)
        .map(|u| u.id)
        .collect();
    let chosen = store.create_receipt_from_usage(alice.id, &mine, "test").unwrap();
    unbilled_kept_equal_counted(store, "billed chosen");
    let day = 1_700_000_000 / 86_400 * 86_400;
    let (dated, _) = store
        .create_receipt_for_unbilled(alice.id, Some(day), Some(day + 86_400), "test")
        .unwrap();
    unbilled_kept_equal_counted(store, "billed a day");
    store.void_receipt(chosen.id, "wrong records", "admin").unwrap();
    unbilled_kept_equal_counted(store, "voided");
    store.void_receipt(dated.id, "wrong day", "admin").unwrap();
    unbilled_kept_equal_counted(store, "voided again");
    let all = store.unbilled_totals(alice.id, None, None).unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].2, 20, "all of alice's records are unbilled again: {all:?}");
}

crate::store_tests!(
    receipt_sums_follow_every_change,
    unbilled_sums_follow_imports_billing_and_voids
);
