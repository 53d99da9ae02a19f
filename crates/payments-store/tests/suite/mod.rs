use payments_core::{Currency, EventKind, Money};
use payments_store::*;

mod receipt_sums;
mod refund_books;
mod refunds;
mod set_based;

fn thb(amount: i64) -> Money {
    Money::new(amount, Currency::from_code("THB").unwrap())
}

fn usage(username: &str, job: &str, cost: i64) -> NewUsage {
    NewUsage {
        username: username.into(),
        job_id: job.into(),
        description: format!("job {job}"),
        cpu_core_seconds: 3600,
        gpu_seconds: 0,
        ended_at: 1_700_000_000,
        cost: thb(cost),
    }
}

/// A user with an unpaid receipt of THB 1,234.50 and an attached checkout.
fn receipt_with_checkout(store: &Store, ext: &str) -> (ReceiptRow, PaymentRow) {
    store.create_user("alice", "hash", Role::User).unwrap();
    let alice = store.user_by_username("alice").unwrap().unwrap();
    store
        .import_usage(
            &[usage("alice", "j1", 100_000), usage("alice", "j2", 23_450)],
            "test",
        )
        .unwrap();
    let ids: Vec<i64> = store
        .usage_for_user(alice.id)
        .unwrap()
        .iter()
        .map(|u| u.id)
        .collect();
    let receipt = store.create_receipt_from_usage(alice.id, &ids, "test").unwrap();
    let intent = store.create_payment_for_receipt(receipt.id, "dummy").unwrap();
    let payment = store
        .attach_provider_checkout(intent.payment().id, ext, "http://127.0.0.1/pay", "user:alice")
        .unwrap();
    (receipt, payment)
}

fn event(id: &str, kind: EventKind, ext: &str, amount: Option<Money>) -> VerifiedEvent {
    VerifiedEvent {
        provider: "dummy".into(),
        event_id: id.into(),
        raw_type: kind.label().to_string(),
        kind,
        external_payment_id: Some(ext.into()),
        payment_ref: None,
        references: Vec::new(),
        refund: None,
        amount,
        verified_by: "hmac-sha256".into(),
        raw_payload: "{}".into(),
        received_at: 1,
    }
}

fn audit_count(store: &Store, action: &str) -> i64 {
    store
        .audit_log(&AuditQuery {
            action: Some(action.into()),
            limit: 1000,
            ..AuditQuery::default()
        })
        .unwrap()
        .1
}

fn users_are_unique(store: &Store) {
    store.create_user("bob", "h", Role::Admin).unwrap();
    let err = store.create_user("bob", "h", Role::User).unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict(ref m) if m.contains("bob")),
        "{err}"
    );
    assert_eq!(store.count_users().unwrap(), 1);
    assert_eq!(
        store.user_by_username("bob").unwrap().unwrap().role().unwrap(),
        Role::Admin
    );
    store.ping().unwrap();
}

fn import_is_all_or_nothing(store: &Store) {
    store.create_user("alice", "h", Role::User).unwrap();
    let bad = [
        usage("alice", "j1", 1),
        usage("mallory", "j2", 1),
        usage("alice", "j1", 1),
    ];
    match store.import_usage(&bad, "test").unwrap_err() {
        StoreError::Rejected(problems) => {
            let idx: Vec<usize> = problems.iter().map(|p| p.index).collect();
            assert_eq!(idx, vec![1, 2], "{problems:?}");
            assert!(problems[0].message.contains("mallory"));
        }
        other => panic!("{other}"),
    }
    let alice = store.user_by_username("alice").unwrap().unwrap();
    assert!(
        store.usage_for_user(alice.id).unwrap().is_empty(),
        "nothing imported"
    );
    assert_eq!(store.import_usage(&[usage("alice", "j1", 5)], "test").unwrap(), 1);
    assert!(matches!(
        store.import_usage(&[usage("alice", "j1", 5)], "test"),
        Err(StoreError::Rejected(_))
    ));
    assert_eq!(store.usage_for_user(alice.id).unwrap().len(), 1);
}

/// A file of several chunks on either backend (1,000 rows per chunk on SQLite, 20,000 through the
/// staging table on PostgreSQL): a job repeated in a later chunk, a job stored by an earlier
/// import and an unknown user after thousands of good rows are each named, and nothing is kept;
/// a dry run of a clean file writes nothing; the clean file then imports whole, and again on the
/// same connections (the staging table goes with each transaction).
fn import_across_chunks_refuses_any_problem(store: &Store) {
    store.create_user("alice", "h", Role::User).unwrap();
    store.create_user("bob", "h", Role::User).unwrap();
    assert_eq!(
        store
            .import_usage(&[usage("alice", "old-1", 1), usage("bob", "old-2", 2)], "test")
            .unwrap(),
        2
    );
    let clean: Vec<NewUsage> = (0..50_000)
        .map(|i| usage(if i % 3 == 0 { "bob" } else { "alice" }, &format!("j{i}"), i))
        .collect();
    let run = |rows: &[NewUsage], dry_run: bool| {
        let mut lines = rows.iter().enumerate().map(|(i, row)| {
            Ok(ImportLine {
                line: i as u64 + 2,
                row: row.clone(),
            })
        });
        let mut reads = Vec::new();
        let outcome = store
            .import_usage_lines(&mut lines, "test", dry_run, &mut |read| reads.push(read))
            .unwrap();
        assert_eq!(reads.last().copied(), Some(rows.len() as u64), "{reads:?}");
        outcome
    };
    let mut bad = clean.clone();
    bad[41_001] = usage("alice", "j1", 1); // j1 (line 3) again, two chunks later on either backend
    bad[30_000] = usage("bob", "old-2", 1); // stored before this import
    bad[48_500] = usage("mallory", "m1", 1); // after 48,000 good rows
    let outcome = run(&bad, false);
    assert!(!outcome.committed);
    assert_eq!(outcome.read, 50_000);
    assert_eq!(outcome.problem_count, 3, "{:?}", outcome.problems);
    assert_eq!(
        outcome.problems,
        vec![
            "line 30002: job \"old-2\" of bob was already imported".to_string(),
            "line 41003: job \"j1\" of alice appears twice in this file".to_string(),
            "line 48502: unknown user \"mallory\"".to_string(),
        ]
    );
    let alice = store.user_by_username("alice").unwrap().unwrap();
    let bob = store.user_by_username("bob").unwrap().unwrap();
    let stored =
        |s: &Store| s.usage_for_user(alice.id).unwrap().len() + s.usage_for_user(bob.id).unwrap().len();
    assert_eq!(stored(store), 2, "nothing of the refused file kept");

    let dry = run(&clean, true);
    assert!(!dry.committed);
    assert_eq!((dry.imported, dry.problem_count), (50_000, 0));
    assert_eq!(stored(store), 2, "a dry run keeps nothing");

    let outcome = run(&clean, false);
    assert!(outcome.committed, "{:?}", outcome.problems);
    assert_eq!(outcome.imported, 50_000);
    assert_eq!(stored(store), 50_002);
    let again = run(&clean, false);
    assert!(!again.committed);
    assert_eq!(again.problem_count, 50_000);
    assert_eq!(again.problems.len(), 100);
    assert_eq!(
        again.problems[0],
        "line 2: job \"j0\" of bob was already imported"
    );
    assert_eq!(stored(store), 50_002);
}

fn receipts_bill_each_record_once(store: &Store) {
    store.create_user("alice", "h", Role::User).unwrap();
    store.create_user("eve", "h", Role::User).unwrap();
    store
        .import_usage(
            &[
                usage("alice", "a1", 150),
                usage("alice", "a2", 250),
                usage("eve", "e1", 7),
            ],
            "t",
        )
        .unwrap();
    let alice = store.user_by_username("alice").unwrap().unwrap();
    let eve = store.user_by_username("eve").unwrap().unwrap();
    let a: Vec<i64> = store
        .usage_for_user(alice.id)
        .unwrap()
        .iter()
        .map(|u| u.id)
        .collect();
    let e: Vec<i64> = store
        .usage_for_user(eve.id)
        .unwrap()
        .iter()
        .map(|u| u.id)
        .collect();
    assert!(matches!(
        store.create_receipt_from_usage(alice.id, &e, "t"),
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        store.create_receipt_from_usage(alice.id, &[], "t"),
        Err(StoreError::Invalid(_))
    ));
    let r = store.create_receipt_from_usage(alice.id, &a, "t").unwrap();
    assert_eq!(r.total().unwrap(), thb(400));
    assert_eq!(r.status().unwrap(), ReceiptStatus::Unpaid);
    assert_eq!(store.usage_for_receipt(r.id).unwrap().len(), 2);
    assert!(matches!(
        store.create_receipt_from_usage(alice.id, &a, "t"),
        Err(StoreError::Invalid(_))
    ));
    assert_eq!(store.receipts_for_user(alice.id).unwrap().len(), 1);
    assert_eq!(store.all_receipts(10, 0).unwrap()[0].1, "alice");
}

fn intents_are_reused_and_paid_receipts_refused(store: &Store) {
    let (receipt, payment) = receipt_with_checkout(store, "dummy_x");
    assert_eq!(payment.state().unwrap(), PaymentState::Pending);
    assert!(payment.public_id.starts_with("pay_") && payment.public_id.len() == 28);
    assert_eq!(
        payment.idempotency_key,
        format!("pay:{}:checkout:0", payment.public_id)
    );
    match store.create_payment_for_receipt(receipt.id, "dummy").unwrap() {
        IntentOutcome::Reused(p) => assert_eq!(p.id, payment.id),
        other => panic!("expected reuse, got {other:?}"),
    }
    // Another provider retires the old intent.
    let other = store.create_payment_for_receipt(receipt.id, "stripe").unwrap();
    assert!(matches!(other, IntentOutcome::Created(ref p) if p.id != payment.id));
    assert_eq!(
        store
            .payment_by_public_id(&payment.public_id)
            .unwrap()
            .unwrap()
            .state()
            .unwrap(),
        PaymentState::Canceled
    );
    let p = other.payment().clone();
    let outcome = store
        .finalize_success_if_amount_matches(&p.public_id, Some(thb(123_450)), "t", "test")
        .unwrap();
    assert!(
        matches!(outcome, FinalizeOutcome::Finalized { .. }),
        "{outcome:?}"
    );
    // Money for the retired intent arrives late: the receipt is left as it is; the money is kept
    // as a second payment, flagged, for an operator to refund.
    let late = store
        .finalize_success_if_amount_matches(&payment.public_id, Some(thb(123_450)), "t", "test")
        .unwrap();
    assert_eq!(
        late,
        FinalizeOutcome::ReceiptNotPayable {
            payment_id: payment.id,
            receipt_status: "paid".into()
        }
    );
    let kept = store.payment_by_public_id(&payment.public_id).unwrap().unwrap();
    assert!(kept.second_payment, "{kept:?}");
    assert_eq!(kept.state().unwrap(), PaymentState::Succeeded);
    let err = store.create_payment_for_receipt(receipt.id, "dummy").unwrap_err();
    assert!(
        matches!(err, StoreError::ReceiptNotPayable { ref status, .. } if status == "paid"),
        "{err}"
    );
    assert_eq!(audit_count(store, "payment.intent"), 1);
}

fn finalize_requires_exact_amount_and_currency(store: &Store) {
    let (receipt, payment) = receipt_with_checkout(store, "dummy_y");
    let id = &payment.public_id;
    for wrong in [
        Some(thb(123_449)),
        Some(thb(123_451)),
        Some(Money::new(123_450, Currency::from_code("USD").unwrap())),
        None,
    ] {
        let outcome = store
            .finalize_success_if_amount_matches(id, wrong, "t", "test")
            .unwrap();
        assert!(
            matches!(outcome, FinalizeOutcome::Mismatch { got, .. } if got == wrong),
            "{outcome:?}"
        );
    }
    assert_eq!(
        store.receipt(receipt.id).unwrap().unwrap().status().unwrap(),
        ReceiptStatus::Unpaid
    );
    assert_eq!(
        store.payment_by_public_id(id).unwrap().unwrap().state().unwrap(),
        PaymentState::Pending
    );
    assert_eq!(
        audit_count(store, "payment.finalize"),
        4,
        "every refused attempt is audited"
    );
    let ok = store
        .finalize_success_if_amount_matches(id, Some(thb(123_450)), "t", "test")
        .unwrap();
    assert_eq!(
        ok,
        FinalizeOutcome::Finalized {
            payment_id: payment.id,
            receipt_id: receipt.id
        }
    );
    let r = store.receipt(receipt.id).unwrap().unwrap();
    assert_eq!(r.status().unwrap(), ReceiptStatus::Paid);
    assert!(r.paid_at.is_some());
    assert_eq!(
        store
            .finalize_success_if_amount_matches(id, Some(thb(123_450)), "t", "test")
            .unwrap(),
        FinalizeOutcome::AlreadyFinalized {
            payment_id: payment.id
        }
    );
    assert_eq!(
        store
            .finalize_success_if_amount_matches("pay_nope", Some(thb(1)), "t", "test")
            .unwrap(),
        FinalizeOutcome::UnknownPayment
    );
    assert_eq!(audit_count(store, "payment.finalize"), 6);
}

fn webhook_events_are_idempotent(store: &Store) {
    let (receipt, _) = receipt_with_checkout(store, "dummy_z");
    let ev = event(
        "evt_1",
        EventKind::PaymentSucceeded,
        "dummy_z",
        Some(thb(123_450)),
    );
    let first = store.handle_verified_event(&ev).unwrap();
    assert!(
        matches!(first, EventOutcome::Finalize(FinalizeOutcome::Finalized { .. })),
        "{first:?}"
    );
    let again = store.handle_verified_event(&ev).unwrap();
    assert_eq!(
        again,
        EventOutcome::Duplicate {
            previous: "finalized".into()
        }
    );
    // Another event id for the same payment is not a duplicate but finds it already paid.
    let other = store
        .handle_verified_event(&event(
            "evt_2",
            EventKind::PaymentSucceeded,
            "dummy_z",
            Some(thb(123_450)),
        ))
        .unwrap();
    assert!(
        matches!(
            other,
            EventOutcome::Finalize(FinalizeOutcome::AlreadyFinalized { .. })
        ),
        "{other:?}"
    );
    // A late failure never undoes the success.
    let late = store
        .handle_verified_event(&event("evt_3", EventKind::PaymentFailed, "dummy_z", None))
        .unwrap();
    assert!(matches!(late, EventOutcome::Ignored { .. }), "{late:?}");
    assert_eq!(
        store.receipt(receipt.id).unwrap().unwrap().status().unwrap(),
        ReceiptStatus::Paid
    );
    assert_eq!(audit_count(store, "payment.webhook"), 4);
    assert_eq!(audit_count(store, "payment.finalize"), 1);
}

fn mismatched_event_changes_nothing_and_stays_refused(store: &Store) {
    let (receipt, payment) = receipt_with_checkout(store, "dummy_m");
    let ev = event("evt_m", EventKind::PaymentSucceeded, "dummy_m", Some(thb(1)));
    let outcome = store.handle_verified_event(&ev).unwrap();
    assert!(
        matches!(outcome, EventOutcome::Finalize(FinalizeOutcome::Mismatch { .. })),
        "{outcome:?}"
    );
    assert_eq!(
        store.handle_verified_event(&ev).unwrap(),
        EventOutcome::Duplicate {
            previous: "mismatch".into()
        }
    );
    assert_eq!(
        store.receipt(receipt.id).unwrap().unwrap().status().unwrap(),
        ReceiptStatus::Unpaid
    );
    assert_eq!(
        store
            .payment_by_public_id(&payment.public_id)
            .unwrap()
            .unwrap()
            .state()
            .unwrap(),
        PaymentState::Pending
    );
    // The genuine event (its own id) still finalizes.
    let genuine = event(
        "evt_genuine",
        EventKind::PaymentSucceeded,
        "dummy_m",
        Some(thb(123_450)),
    );
    assert!(matches!(
        store.handle_verified_event(&genuine).unwrap(),
        EventOutcome::Finalize(FinalizeOutcome::Finalized { .. })
    ));
}

fn unprocessed_events_are_processed_again(store: &Store) {
    // Unknown payment: recorded but left open, so a redelivery is tried again.
    let early = event(
        "evt_early",
        EventKind::PaymentSucceeded,
        "dummy_late",
        Some(thb(123_450)),
    );
    assert_eq!(
        store.handle_verified_event(&early).unwrap(),
        EventOutcome::UnknownPayment
    );
    assert_eq!(
        store.record_webhook_event(&early).unwrap(),
        RecordOutcome::Reprocess(1)
    );
    let (receipt, _) = receipt_with_checkout(store, "dummy_late");
    assert!(matches!(
        store.handle_verified_event(&early).unwrap(),
        EventOutcome::Finalize(FinalizeOutcome::Finalized { .. })
    ));
    assert_eq!(
        store.receipt(receipt.id).unwrap().unwrap().status().unwrap(),
        ReceiptStatus::Paid
    );
}

fn capture_required_then_completed(store: &Store) {
    let (receipt, payment) = receipt_with_checkout(store, "order_1");
    let approved = event("WH-1", EventKind::CaptureRequired, "order_1", Some(thb(123_450)));
    let EventOutcome::CaptureRequired {
        event_row_id,
        external_id,
        ..
    } = store.handle_verified_event(&approved).unwrap()
    else {
        panic!("expected capture required");
    };
    assert_eq!(external_id, "order_1");
    assert_eq!(
        store
            .payment_by_public_id(&payment.public_id)
            .unwrap()
            .unwrap()
            .state()
            .unwrap(),
        PaymentState::RequiresCapture
    );
    // The capture call failed: the redelivery asks for the capture again.
    assert!(matches!(
        store.handle_verified_event(&approved).unwrap(),
        EventOutcome::CaptureRequired { .. }
    ));
    let done = store
        .complete_capture(
            Some(event_row_id),
            &payment.public_id,
            Some(thb(123_450)),
            "t",
            "capture",
        )
        .unwrap();
    assert!(matches!(done, FinalizeOutcome::Finalized { .. }));
    assert_eq!(
        store.handle_verified_event(&approved).unwrap(),
        EventOutcome::Duplicate {
            previous: "finalized".into()
        }
    );
    assert_eq!(
        store.receipt(receipt.id).unwrap().unwrap().status().unwrap(),
        ReceiptStatus::Paid
    );
    // An approval for another amount is never captured.
    let (_, p2) = {
        store.create_user("carol", "h", Role::User).unwrap();
        let carol = store.user_by_username("carol").unwrap().unwrap();
        store.import_usage(&[usage("carol", "c1", 5000)], "t").unwrap();
        let ids: Vec<i64> = store
            .usage_for_user(carol.id)
            .unwrap()
            .iter()
            .map(|u| u.id)
            .collect();
        let r = store.create_receipt_from_usage(carol.id, &ids, "t").unwrap();
        let i = store.create_payment_for_receipt(r.id, "dummy").unwrap();
        (
            r,
            store
                .attach_provider_checkout(i.payment().id, "order_2", "http://x/", "t")
                .unwrap(),
        )
    };
    // An approval for a closed intent is never captured.
    store
        .close_payment(&p2.public_id, PaymentState::Canceled, "t", "replaced")
        .unwrap();
    let closed = store
        .handle_verified_event(&event(
            "WH-3",
            EventKind::CaptureRequired,
            "order_2",
            Some(thb(5000)),
        ))
        .unwrap();
    assert!(matches!(closed, EventOutcome::Ignored { .. }), "{closed:?}");
    let i = store.create_payment_for_receipt(p2.receipt_id, "dummy").unwrap();
    let p2 = store
        .attach_provider_checkout(i.payment().id, "order_3", "http://x/", "t")
        .unwrap();
    let wrong = event("WH-2", EventKind::CaptureRequired, "order_3", Some(thb(4999)));
    assert!(matches!(
        store.handle_verified_event(&wrong).unwrap(),
        EventOutcome::Finalize(FinalizeOutcome::Mismatch { .. })
    ));
    assert_eq!(
        store
            .payment_by_public_id(&p2.public_id)
            .unwrap()
            .unwrap()
            .state()
            .unwrap(),
        PaymentState::Pending
    );
}

fn refunds_and_expiry_change_state(store: &Store) {
    let (receipt, payment) = receipt_with_checkout(store, "dummy_r");
    let exp = store
        .handle_verified_event(&event("e1", EventKind::PaymentPending, "dummy_r", None))
        .unwrap();
    assert!(matches!(exp, EventOutcome::Ignored { .. }));
    store
        .handle_verified_event(&event(
            "e2",
            EventKind::PaymentSucceeded,
            "dummy_r",
            Some(thb(123_450)),
        ))
        .unwrap();
    let partial = store
        .handle_verified_event(&event(
            "e3",
            EventKind::Refunded {
                amount: Some(payments_core::MinorUnits(100)),
            },
            "dummy_r",
            None,
        ))
        .unwrap();
    assert!(
        matches!(partial, EventOutcome::StateChanged { ref state, .. } if state == "partially_refunded"),
        "{partial:?}"
    );
    assert_eq!(
        store.receipt(receipt.id).unwrap().unwrap().status().unwrap(),
        ReceiptStatus::PartiallyRefunded
    );
    let full = store
        .handle_verified_event(&event(
            "e4",
            EventKind::Refunded { amount: None },
            "dummy_r",
            None,
        ))
        .unwrap();
    assert!(
        matches!(full, EventOutcome::StateChanged { ref state, .. } if state == "refunded"),
        "{full:?}"
    );
    assert_eq!(
        store.receipt(receipt.id).unwrap().unwrap().status().unwrap(),
        ReceiptStatus::Refunded
    );
    assert_eq!(
        store
            .payment_by_public_id(&payment.public_id)
            .unwrap()
            .unwrap()
            .state()
            .unwrap(),
        PaymentState::Refunded
    );
}

fn closing_an_intent_lets_a_new_one_start(store: &Store) {
    let (receipt, payment) = receipt_with_checkout(store, "dummy_c");
    assert!(store
        .close_payment(
            &payment.public_id,
            PaymentState::Canceled,
            "user:alice",
            "cancelled"
        )
        .unwrap());
    assert!(!store
        .close_payment(&payment.public_id, PaymentState::Failed, "t", "again")
        .unwrap());
    let next = store.create_payment_for_receipt(receipt.id, "dummy").unwrap();
    assert!(matches!(next, IntentOutcome::Created(ref p) if p.id != payment.id));
}

fn audit_log_pages_and_filters(store: &Store) {
    let (receipt, _) = receipt_with_checkout(store, "dummy_a");
    for i in 0..25 {
        store
            .append_audit(
                &NewAudit::new("t", "test.entry", format!("n{i}"), serde_json::json!({})).receipt(receipt.id),
            )
            .unwrap();
    }
    let (page, total) = store
        .audit_log(&AuditQuery {
            action: Some("test.entry".into()),
            receipt_id: None,
            limit: 10,
            offset: 10,
        })
        .unwrap();
    assert_eq!(total, 25);
    assert_eq!(page.len(), 10);
    assert_eq!(page[0].subject, "n14", "newest first");
    let (by_receipt, n) = store
        .audit_log(&AuditQuery {
            action: None,
            receipt_id: Some(receipt.id),
            limit: 100,
            offset: 0,
        })
        .unwrap();
    assert_eq!(n, 27, "25 entries + receipt.create + payment.intent");
    assert!(by_receipt.iter().all(|e| e.receipt_id == Some(receipt.id)));
}

fn fifty_concurrent_finalizers_one_winner(store: &Store) {
    let (receipt, payment) = receipt_with_checkout(store, "dummy_race");
    let outcomes: Vec<FinalizeOutcome> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..50)
            .map(|i| {
                let id = payment.public_id.clone();
                s.spawn(move || {
                    store
                        .finalize_success_if_amount_matches(
                            &id,
                            Some(thb(123_450)),
                            &format!("thread{i}"),
                            "race",
                        )
                        .unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let finalized = outcomes
        .iter()
        .filter(|o| matches!(o, FinalizeOutcome::Finalized { .. }))
        .count();
    let already = outcomes
        .iter()
        .filter(|o| matches!(o, FinalizeOutcome::AlreadyFinalized { .. }))
        .count();
    let _ = std::io::Write::write_all(
        &mut std::io::stderr(),
        format!(
            "concurrency ({}): {finalized} finalized, {already} already finalized\n",
            store.backend()
        )
        .as_bytes(),
    );
    assert_eq!((finalized, already), (1, 49));
    assert_eq!(audit_count(store, "payment.finalize"), 1);
    assert_eq!(
        store.receipt(receipt.id).unwrap().unwrap().status().unwrap(),
        ReceiptStatus::Paid
    );
}

fn commits_are_durable_on_every_pooled_connection(store: &Store) {
    assert_eq!(store.durability(), Durability::Durable);
    let expected = match store.backend() {
        "sqlite" => "full",
        _ => "on",
    };
    // Four connections held at once: four distinct pooled connections, each customized.
    assert_eq!(store.durability_in_force(4).unwrap(), vec![expected; 4]);
}

/// Receipts of THB 1,000.00 for bob, each with a checkout whose provider id is `exts[i]`.
fn receipts_with_checkouts(store: &Store, exts: &[&str]) -> Vec<(ReceiptRow, PaymentRow)> {
    store.create_user("bob", "hash", Role::User).unwrap();
    let bob = store.user_by_username("bob").unwrap().unwrap();
    let rows: Vec<NewUsage> = exts
        .iter()
        .map(|ext| usage("bob", &format!("job-{ext}"), 100_000))
        .collect();
    store.import_usage(&rows, "test").unwrap();
    store
        .usage_for_user(bob.id)
        .unwrap()
        .iter()
        .zip(exts)
        .map(|(record, ext)| {
            let receipt = store
                .create_receipt_from_usage(bob.id, &[record.id], "test")
                .unwrap();
            let intent = store.create_payment_for_receipt(receipt.id, "dummy").unwrap();
            let payment = store
                .attach_provider_checkout(intent.payment().id, ext, "http://127.0.0.1/pay", "user:bob")
                .unwrap();
            (receipt, payment)
        })
        .collect()
}

fn receipt_status(store: &Store, receipt: &ReceiptRow) -> ReceiptStatus {
    store.receipt(receipt.id).unwrap().unwrap().status().unwrap()
}

fn payment_state(store: &Store, payment: &PaymentRow) -> PaymentState {
    store
        .payment_by_public_id(&payment.public_id)
        .unwrap()
        .unwrap()
        .state()
        .unwrap()
}

fn audit_for(store: &Store, action: &str, receipt: i64) -> Vec<AuditRow> {
    store
        .audit_log(&AuditQuery {
            action: Some(action.into()),
            receipt_id: Some(receipt),
            limit: 1000,
            offset: 0,
        })
        .unwrap()
        .0
}

/// Makes the webhook audit entry of `evt_boom` fail, after its event row, payment and receipt
/// were already written in its savepoint.
fn inject_failure_for_evt_boom(store: &Store) {
    let sql = match store.backend() {
        "sqlite" => {
            "CREATE TRIGGER boom BEFORE INSERT ON audit_log WHEN NEW.subject = 'event evt_boom' \
             BEGIN SELECT RAISE(ABORT, 'injected failure'); END;"
        }
        _ => {
            "CREATE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
               IF NEW.subject = 'event evt_boom' THEN RAISE EXCEPTION 'injected failure'; END IF; \
               RETURN NEW; END $$; \
             CREATE TRIGGER boom BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION boom();"
        }
    };
    store.execute_sql_for_tests(sql).unwrap();
}

fn a_mixed_batch_gives_each_event_its_own_outcome(store: &Store) {
    let rows = receipts_with_checkouts(store, &["b_ok", "b_dup", "b_mis", "b_boom"]);
    let [(r_ok, _), (r_dup, _), (r_mis, p_mis), (r_boom, p_boom)] = &rows[..] else {
        unreachable!()
    };
    let amount = Some(thb(100_000));
    let earlier = event("evt_earlier", EventKind::PaymentSucceeded, "b_dup", amount);
    assert!(matches!(
        store.handle_verified_event(&earlier).unwrap(),
        EventOutcome::Finalize(FinalizeOutcome::Finalized { .. })
    ));
    inject_failure_for_evt_boom(store);

    let batch = vec![
        event("evt_ok", EventKind::PaymentSucceeded, "b_ok", amount),
        earlier.clone(),
        event("evt_mis", EventKind::PaymentSucceeded, "b_mis", Some(thb(99_999))),
        event("evt_unknown", EventKind::PaymentSucceeded, "nobody", amount),
        event("evt_boom", EventKind::PaymentSucceeded, "b_boom", amount),
        // The same delivery twice in one batch: the second sees the first.
        event("evt_ok", EventKind::PaymentSucceeded, "b_ok", amount),
    ];
    let out = store.handle_verified_events(&batch).unwrap();
    assert_eq!(out.len(), 6);
    assert!(
        matches!(&out[0], Ok(EventOutcome::Finalize(FinalizeOutcome::Finalized { receipt_id, .. })) if *receipt_id == r_ok.id),
        "{:?}",
        out[0]
    );
    assert_eq!(
        out[1].as_ref().unwrap(),
        &EventOutcome::Duplicate {
            previous: "finalized".into()
        }
    );
    assert!(
        matches!(&out[2], Ok(EventOutcome::Finalize(FinalizeOutcome::Mismatch { payment_id, got, .. }))
            if *payment_id == p_mis.id && *got == Some(thb(99_999))),
        "{:?}",
        out[2]
    );
    assert_eq!(out[3].as_ref().unwrap(), &EventOutcome::UnknownPayment);
    let boom = out[4].as_ref().unwrap_err().to_string();
    assert!(boom.contains("injected failure"), "{boom}");
    assert_eq!(
        out[5].as_ref().unwrap(),
        &EventOutcome::Duplicate {
            previous: "finalized".into()
        }
    );

    // Rows: each event changed exactly what its own outcome says.
    let status = |r: &ReceiptRow| store.receipt(r.id).unwrap().unwrap().status().unwrap();
    assert_eq!(status(r_ok), ReceiptStatus::Paid);
    assert_eq!(status(r_dup), ReceiptStatus::Paid);
    assert_eq!(status(r_mis), ReceiptStatus::Unpaid);
    assert_eq!(
        status(r_boom),
        ReceiptStatus::Unpaid,
        "the failed event's savepoint was undone"
    );
    let state = |p: &PaymentRow| {
        store
            .payment_by_public_id(&p.public_id)
            .unwrap()
            .unwrap()
            .state()
            .unwrap()
    };
    assert_eq!(state(p_mis), PaymentState::Pending);
    assert_eq!(state(p_boom), PaymentState::Pending);
    // Events: the failed one was not recorded at all, the unknown one is open for a redelivery,
    // the mismatch is closed.
    assert!(matches!(
        store
            .record_webhook_event(&event(
                "evt_unknown",
                EventKind::PaymentSucceeded,
                "nobody",
                amount
            ))
            .unwrap(),
        RecordOutcome::Reprocess(_)
    ));
    assert_eq!(
        store.record_webhook_event(&batch[2]).unwrap(),
        RecordOutcome::Duplicate {
            outcome: "mismatch".into()
        }
    );
    // Audit, in the same transaction as each event: two webhook entries (delivery and the
    // duplicate) and one finalize for b_ok, the same for b_dup (earlier batch + this one), one
    // of each for the mismatch, nothing for the failed event, one webhook entry (no receipt) for
    // the unknown payment.
    let counts = |r: &ReceiptRow| {
        (
            audit_for(store, "payment.webhook", r.id).len(),
            audit_for(store, "payment.finalize", r.id).len(),
        )
    };
    assert_eq!(counts(r_ok), (2, 1));
    assert_eq!(counts(r_dup), (2, 1));
    assert_eq!(counts(r_mis), (1, 1));
    assert_eq!(counts(r_boom), (0, 0));
    assert!(audit_for(store, "payment.finalize", r_mis.id)[0]
        .detail
        .contains("mismatch"));
    assert_eq!(audit_count(store, "payment.webhook"), 2 + 2 + 1 + 1);

    // Once the failure is gone, the provider's redelivery of evt_boom is processed from scratch.
    store
        .execute_sql_for_tests("DROP TRIGGER boom ON audit_log")
        .or_else(|_| store.execute_sql_for_tests("DROP TRIGGER boom"))
        .unwrap();
    let again = store.handle_verified_events(&batch[4..5]).unwrap();
    assert!(
        matches!(
            &again[0],
            Ok(EventOutcome::Finalize(FinalizeOutcome::Finalized { .. }))
        ),
        "{again:?}"
    );
    assert_eq!(status(r_boom), ReceiptStatus::Paid);
}

/// A batch reads its events' stored rows and payments once, before its first write; events
/// later in the batch must still see what earlier ones wrote: a reference recorded by an earlier
/// event, a payment an earlier event finalized, a success a later failure must not undo.
fn a_batch_sees_what_its_earlier_events_wrote(store: &Store) {
    let rows = receipts_with_checkouts(store, &["s_1", "s_2"]);
    let [(r1, p1), (r2, p2)] = &rows[..] else {
        unreachable!()
    };
    let amount = Some(thb(100_000));
    let mut completed = event("evt_s1_completed", EventKind::PaymentSucceeded, "s_1", amount);
    completed.references = vec!["pi_s1".into()];
    // Naming only the id the first event revealed (as Stripe's payment_intent.succeeded does).
    let mut intent = event("evt_s1_intent", EventKind::PaymentSucceeded, "pi_s1", amount);
    intent.external_payment_id = Some("pi_s1".into());
    let batch = vec![
        completed,
        intent,
        event("evt_s2_paid", EventKind::PaymentSucceeded, "s_2", amount),
        // A late failure of a payment paid earlier in the same batch changes nothing.
        event("evt_s2_failed", EventKind::PaymentFailed, "s_2", None),
        // A second success of it is a no-op, not a second finalize.
        event("evt_s2_again", EventKind::PaymentSucceeded, "s_2", amount),
    ];
    let out = store.handle_verified_events(&batch).unwrap();
    let out: Vec<EventOutcome> = out.into_iter().map(Result::unwrap).collect();
    assert!(
        matches!(&out[0], EventOutcome::Finalize(FinalizeOutcome::Finalized { payment_id, .. }) if *payment_id == p1.id),
        "{:?}",
        out[0]
    );
    assert_eq!(
        out[1],
        EventOutcome::Finalize(FinalizeOutcome::AlreadyFinalized { payment_id: p1.id }),
        "matched by the reference the first event recorded"
    );
    assert!(
        matches!(&out[2], EventOutcome::Finalize(FinalizeOutcome::Finalized { payment_id, .. }) if *payment_id == p2.id)
    );
    assert!(
        matches!(&out[3], EventOutcome::Ignored { reason } if reason.contains("succeeded")),
        "{:?}",
        out[3]
    );
    assert_eq!(
        out[4],
        EventOutcome::Finalize(FinalizeOutcome::AlreadyFinalized { payment_id: p2.id })
    );
    for (receipt, payment) in [(r1, p1), (r2, p2)] {
        assert_eq!(receipt_status(store, receipt), ReceiptStatus::Paid);
        assert_eq!(payment_state(store, payment), PaymentState::Succeeded);
        assert_eq!(audit_for(store, "payment.finalize", receipt.id).len(), 1);
    }
    assert_eq!(audit_for(store, "payment.webhook", r1.id).len(), 2);
    assert_eq!(audit_for(store, "payment.webhook", r2.id).len(), 3);
    // Every event was recorded once and processed: each redelivery is a duplicate of its outcome.
    let again = store.handle_verified_events(&batch).unwrap();
    let previous: Vec<String> = again
        .into_iter()
        .map(|o| match o.unwrap() {
            EventOutcome::Duplicate { previous } => previous,
            other => panic!("expected a duplicate, got {other:?}"),
        })
        .collect();
    assert!(previous[3].starts_with("ignored: "), "{previous:?}");
    assert_eq!(
        [&previous[..3], &previous[4..]].concat(),
        ["finalized", "already_finalized", "finalized", "already_finalized"]
    );
}

/// Senders on several threads, three writers sharing the queue (as on PostgreSQL): everything
/// queued is written, in batches, and each sender gets its own outcome.
fn the_batch_writer_answers_every_sender(store: &Store) {
    let exts: Vec<String> = (0..40).map(|i| format!("w_{i}")).collect();
    let refs: Vec<&str> = exts.iter().map(String::as_str).collect();
    let rows = receipts_with_checkouts(store, &refs);
    let stats = payments_store::batch::WriterStats::default();
    let availability = payments_store::availability::Availability::default();
    let (tx, rx) = tokio::sync::mpsc::channel(8);
    let queue = std::sync::Mutex::new(rx);
    let outcomes: Vec<EventOutcome> = std::thread::scope(|s| {
        let writers: Vec<_> = (0..3)
            .map(|_| s.spawn(|| payments_store::batch::run_writer(store, &queue, 16, &stats, &availability)))
            .collect();
        let senders: Vec<_> = exts
            .iter()
            .enumerate()
            .map(|(i, ext)| {
                let tx = tx.clone();
                // Every fourth delivery is a mismatch; the rest pay.
                let amount = if i % 4 == 3 { thb(1) } else { thb(100_000) };
                let ev = event(
                    &format!("evt_w{i}"),
                    EventKind::PaymentSucceeded,
                    ext,
                    Some(amount),
                );
                s.spawn(move || {
                    let (pending, reply) = payments_store::batch::PendingEvent::new(ev);
                    tx.blocking_send(pending).unwrap();
                    reply.blocking_recv().unwrap().unwrap()
                })
            })
            .collect();
        drop(tx);
        let outcomes = senders.into_iter().map(|h| h.join().unwrap()).collect();
        for writer in writers {
            writer.join().unwrap();
        }
        outcomes
    });
    for (i, ((receipt, _), outcome)) in rows.iter().zip(&outcomes).enumerate() {
        let paid = store.receipt(receipt.id).unwrap().unwrap().status().unwrap() == ReceiptStatus::Paid;
        if i % 4 == 3 {
            assert!(
                matches!(outcome, EventOutcome::Finalize(FinalizeOutcome::Mismatch { .. })),
                "{outcome:?}"
            );
            assert!(!paid);
        } else {
            assert!(
                matches!(outcome, EventOutcome::Finalize(FinalizeOutcome::Finalized { receipt_id, .. }) if *receipt_id == receipt.id),
                "{outcome:?}"
            );
            assert!(paid);
        }
    }
    assert_eq!(stats.events(), 40);
    assert!(
        stats.batches() >= 3 && stats.batches() <= 40,
        "{} batches",
        stats.batches()
    );
    assert!(stats.largest_batch() <= 16);
    assert_eq!(stats.fallbacks(), 0);
    assert_eq!(stats.unreachable(), 0);
}

/// While the circuit says the database is unreachable, a writer answers every queued event
/// "unavailable" at once and writes nothing; once something answered again, the same events
/// are written.
fn the_batch_writer_refuses_at_once_while_the_database_is_unreachable(store: &Store) {
    let exts = ["u_0", "u_1", "u_2"];
    let rows = receipts_with_checkouts(store, &exts);
    let availability = payments_store::availability::Availability::default();
    let deliver = |availability: &payments_store::availability::Availability| {
        let stats = payments_store::batch::WriterStats::default();
        let (tx, rx) = tokio::sync::mpsc::channel(8);
        let queue = std::sync::Mutex::new(rx);
        let mut replies = Vec::new();
        for (i, ext) in exts.iter().enumerate() {
            let ev = event(
                &format!("evt_u{i}"),
                EventKind::PaymentSucceeded,
                ext,
                Some(thb(100_000)),
            );
            let (pending, reply) = payments_store::batch::PendingEvent::new(ev);
            tx.blocking_send(pending).unwrap();
            replies.push(reply);
        }
        drop(tx);
        payments_store::batch::run_writer(store, &queue, 16, &stats, availability);
        let outcomes: Vec<_> = replies.into_iter().map(|r| r.blocking_recv().unwrap()).collect();
        (outcomes, stats.unreachable())
    };
    availability.unreachable();
    let (outcomes, unreachable) = deliver(&availability);
    assert_eq!(unreachable, 1, "one batch, refused whole");
    for outcome in &outcomes {
        let e = outcome.as_ref().unwrap_err();
        assert!(e.is_transient() && e.is_unreachable(), "{e}");
        assert!(e.to_string().contains("has not answered"), "{e}");
    }
    for (receipt, _) in &rows {
        let status = store.receipt(receipt.id).unwrap().unwrap().status().unwrap();
        assert_eq!(status, ReceiptStatus::Unpaid, "nothing written");
    }
    availability.answered();
    let (outcomes, unreachable) = deliver(&availability);
    assert_eq!(unreachable, 0);
    for outcome in outcomes {
        assert!(
            matches!(
                outcome,
                Ok(EventOutcome::Finalize(FinalizeOutcome::Finalized { .. }))
            ),
            "{outcome:?}"
        );
    }
}

/// A verified non-success event for a payment we do not know is acknowledged ("unmatched",
/// audited); a failure or expiry once (processed), a refund or dispute stays processable (its
/// payment may become known), and a success for an unknown payment stays retryable (it can race
/// the checkout).
fn unmatched_non_success_events_are_acknowledged(store: &Store) {
    let webhook_entries = |store: &Store| -> Vec<AuditRow> {
        store
            .audit_log(&AuditQuery {
                action: Some("payment.webhook".into()),
                limit: 1000,
                ..AuditQuery::default()
            })
            .unwrap()
            .0
    };
    for (i, kind) in [
        EventKind::Refunded { amount: None },
        EventKind::Disputed,
        EventKind::PaymentFailed,
        EventKind::CheckoutExpired,
    ]
    .into_iter()
    .enumerate()
    {
        let id = format!("evt_unmatched_{i}");
        let ev = event(&id, kind.clone(), "nobody_knows_this", Some(thb(500)));
        let first = store.handle_verified_event(&ev).unwrap();
        assert_eq!(first, EventOutcome::Unmatched, "{kind:?}");
        assert_eq!(first.label(), "unmatched");
        let again = store.handle_verified_event(&ev).unwrap();
        if matches!(kind, EventKind::Refunded { .. } | EventKind::Disputed) {
            // Money out: kept unprocessed until its payment is known (learned by asking the
            // provider, or on a redelivery), never lost.
            assert_eq!(again, EventOutcome::Unmatched, "{kind:?} is processed again");
        } else {
            assert_eq!(
                again,
                EventOutcome::Duplicate {
                    previous: "unmatched".into()
                },
                "a redelivery of {kind:?} is a duplicate, not processed again"
            );
        }
        let entries = webhook_entries(store);
        assert!(
            entries
                .iter()
                .any(|e| e.subject == format!("event {id}") && e.detail.contains("\"outcome\":\"unmatched\"")),
            "{kind:?}: {entries:?}"
        );
    }
    // A success for an unknown payment: 'unknown_payment', not processed, tried again next time.
    let success = event(
        "evt_unknown_success",
        EventKind::PaymentSucceeded,
        "nobody",
        Some(thb(500)),
    );
    assert_eq!(
        store.handle_verified_event(&success).unwrap(),
        EventOutcome::UnknownPayment
    );
    assert_eq!(
        store.handle_verified_event(&success).unwrap(),
        EventOutcome::UnknownPayment
    );
    // Nothing of ours was touched.
    assert_eq!(audit_count(store, "payment.finalize"), 0);
}

/// Provider references: the checkout id is recorded at checkout, a verified event's new ids
/// (a PaymentIntent, a charge) are recorded for the payment it matched, and a later event naming
/// only one of those ids (a Stripe dispute with empty metadata) is matched.
fn events_are_matched_by_any_provider_reference(store: &Store) {
    let (receipt, payment) = receipt_with_checkout(store, "cs_test_ref");
    assert_eq!(store.payment_references(payment.id).unwrap(), vec!["cs_test_ref"]);
    let mut paid = event(
        "evt_paid",
        EventKind::PaymentSucceeded,
        "cs_test_ref",
        Some(thb(123_450)),
    );
    paid.references = vec!["pi_test_ref".into()];
    assert!(matches!(
        store.handle_verified_event(&paid).unwrap(),
        EventOutcome::Finalize(FinalizeOutcome::Finalized { .. })
    ));
    let mut refs = store.payment_references(payment.id).unwrap();
    refs.sort();
    assert_eq!(refs, vec!["cs_test_ref", "pi_test_ref"]);

    // The dispute names the PaymentIntent and the charge, no metadata, no checkout id.
    let mut dispute = event(
        "evt_dispute",
        EventKind::Disputed,
        "pi_test_ref",
        Some(thb(123_450)),
    );
    dispute.references = vec!["pi_test_ref".into(), "ch_test_ref".into()];
    let outcome = store.handle_verified_event(&dispute).unwrap();
    assert!(
        !matches!(outcome, EventOutcome::Unmatched | EventOutcome::UnknownPayment),
        "{outcome:?}"
    );
    let webhooks = audit_for(store, "payment.webhook", receipt.id);
    let entry = webhooks
        .iter()
        .find(|e| e.subject == "event evt_dispute")
        .unwrap_or_else(|| panic!("the dispute is audited on the receipt: {webhooks:?}"));
    assert_eq!(entry.payment_id, Some(payment.id));
    assert!(entry.detail.contains("\"kind\":\"disputed\""), "{}", entry.detail);
    assert!(store
        .payment_references(payment.id)
        .unwrap()
        .contains(&"ch_test_ref".to_string()));

    // A reference of one payment is never taken over by another; an unknown one stays unmatched.
    let mut stranger = event("evt_stranger", EventKind::Disputed, "pi_other", None);
    stranger.references = vec!["ch_other".into()];
    assert_eq!(
        store.handle_verified_event(&stranger).unwrap(),
        EventOutcome::Unmatched
    );
    // Another provider's identical id does not match this payment.
    let mut foreign = event("evt_foreign", EventKind::Disputed, "pi_test_ref", None);
    foreign.provider = "stripe-elsewhere".into();
    assert_eq!(
        store.handle_verified_event(&foreign).unwrap(),
        EventOutcome::Unmatched
    );
}

crate::store_tests!(
    events_are_matched_by_any_provider_reference,
    unmatched_non_success_events_are_acknowledged,
    a_mixed_batch_gives_each_event_its_own_outcome,
    a_batch_sees_what_its_earlier_events_wrote,
    the_batch_writer_answers_every_sender,
    the_batch_writer_refuses_at_once_while_the_database_is_unreachable,
    commits_are_durable_on_every_pooled_connection,
    users_are_unique,
    import_is_all_or_nothing,
    import_across_chunks_refuses_any_problem,
    receipts_bill_each_record_once,
    intents_are_reused_and_paid_receipts_refused,
    finalize_requires_exact_amount_and_currency,
    webhook_events_are_idempotent,
    mismatched_event_changes_nothing_and_stays_refused,
    unprocessed_events_are_processed_again,
    capture_required_then_completed,
    refunds_and_expiry_change_state,
    closing_an_intent_lets_a_new_one_start,
    audit_log_pages_and_filters,
    fifty_concurrent_finalizers_one_winner,
);

#[test]
fn relaxed_durability_is_in_force_only_when_asked_for() {
    let relaxed = PoolOptions {
        durability: Durability::Relaxed,
        ..PoolOptions::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("relaxed.db").display());
    let store = Store::open(&url, &relaxed).unwrap();
    assert_eq!(store.durability_in_force(3).unwrap(), vec!["normal"; 3]);
    assert_eq!(Durability::parse(" Relaxed "), Some(Durability::Relaxed));
    assert_eq!(Durability::parse("durable"), Some(Durability::Durable));
    assert_eq!(Durability::parse("fast"), None);
    assert_eq!(Durability::default(), Durability::Durable);
}

#[test]
#[cfg_attr(
    postgres_tests_ignored,
    ignore = "needs PostgreSQL: set TEST_DATABASE_URL and use --all-features (see README)"
)]
fn relaxed_durability_on_postgres_is_synchronous_commit_off() {
    let Some(pg) = payments_store::testing::postgres("relaxed_durability") else {
        return;
    };
    let relaxed = PoolOptions {
        durability: Durability::Relaxed,
        ..PoolOptions::default()
    };
    let store = Store::open(&pg.url, &relaxed).unwrap();
    assert_eq!(store.durability_in_force(3).unwrap(), vec!["off"; 3]);
    drop(store);
}

#[test]
fn database_urls_pick_the_backend() {
    assert_eq!(
        parse_url("sqlite://data/app.db").unwrap(),
        Target::Sqlite("data/app.db".into())
    );
    assert_eq!(
        parse_url("sqlite:///var/lib/x.db").unwrap(),
        Target::Sqlite("/var/lib/x.db".into())
    );
    assert!(matches!(
        parse_url("postgres://u:p@h/db").unwrap(),
        Target::Postgres(_)
    ));
    assert!(matches!(
        parse_url("postgresql://h/db").unwrap(),
        Target::Postgres(_)
    ));
    let err = parse_url("mysql://h/db").unwrap_err().to_string();
    assert!(err.contains("mysql") && err.contains("sqlite://"), "{err}");
    assert!(parse_url("sqlite://").is_err());
    assert_eq!(
        redact("postgres://me:secret@db:5432/x"),
        "postgres://me:***@db:5432/x"
    );
    #[cfg(not(feature = "postgres"))]
    {
        let err = Store::open("postgres://u:p@127.0.0.1/db", &PoolOptions::default()).unwrap_err();
        assert!(err.to_string().contains("--features postgres"), "{err}");
    }
}
