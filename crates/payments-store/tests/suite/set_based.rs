//! A batch of nothing but plain payment successes is written set-based (one statement per kind
//! of write): checked against the same events written one by one, and for falling back to event
//! by event when what the batch read first is out of date.

use payments_core::{EventKind, RefundState};
use payments_store::*;

use super::refunds::refund_event_in;
use super::{audit_for, event, payment_state, receipt_status, receipts_with_checkouts, thb, usage};

/// What a finalized event left, with its own ids taken out: comparable across receipts.
fn footprint(store: &Store, receipt: &ReceiptRow, payment: &PaymentRow, event_id: &str) -> Vec<String> {
    let mut out = vec![
        format!("{:?}", receipt_status(store, receipt)),
        format!(
            "paid_at set: {}",
            store.receipt(receipt.id).unwrap().unwrap().paid_at.is_some()
        ),
        format!("{:?}", payment_state(store, payment)),
    ];
    let mut refs: Vec<String> = (store.payment_references(payment.id).unwrap().iter())
        .map(|r| r.replace(&payment_ext(payment), "EXT"))
        .collect();
    refs.sort();
    out.extend(refs);
    for action in ["payment.finalize", "payment.webhook"] {
        for entry in audit_for(store, action, receipt.id) {
            out.push(format!(
                "{} {} {} {:?} {}",
                entry.actor,
                entry.action,
                entry
                    .subject
                    .replace(&payment.public_id, "PAYMENT")
                    .replace(event_id, "EVENT"),
                entry.payment_id == Some(payment.id),
                entry
                    .detail
                    .replace(event_id, "EVENT")
                    .replace(&payment_ext(payment), "EXT"),
            ));
        }
    }
    out
}

fn payment_ext(payment: &PaymentRow) -> String {
    payment.external_id.clone().unwrap_or_default()
}

fn a_batch_of_plain_successes_is_written_set_based_as_event_by_event(store: &Store) {
    let rows = receipts_with_checkouts(store, &["set_1", "set_2", "set_3", "one_1", "one_2", "one_3"]);
    let amount = Some(thb(100_000));
    let paid = |(i, (_, p)): (usize, &(ReceiptRow, PaymentRow))| {
        let ext = payment_ext(p);
        let mut ev = event(&format!("evt_{ext}"), EventKind::PaymentSucceeded, &ext, amount);
        // One reveals a further id of its payment (as Stripe's checkout names its PaymentIntent).
        if i % 3 == 0 {
            ev.references = vec![format!("pi_{ext}"), ext.clone()];
        }
        ev
    };
    let events: Vec<VerifiedEvent> = rows.iter().enumerate().map(paid).collect();
    let before = store.set_based_batches();

    // The first three in one batch, the others one by one.
    let batch = store.handle_verified_events(&events[..3]).unwrap();
    assert_eq!(
        store.set_based_batches(),
        before + 1,
        "the batch was written set-based"
    );
    let single: Vec<_> = events[3..]
        .iter()
        .map(|ev| store.handle_verified_event(ev))
        .collect();
    assert_eq!(store.set_based_batches(), before + 1);
    for (i, outcome) in batch.into_iter().chain(single).enumerate() {
        let (receipt, payment) = &rows[i];
        assert_eq!(
            outcome.unwrap(),
            EventOutcome::Finalize(FinalizeOutcome::Finalized {
                payment_id: payment.id,
                receipt_id: receipt.id
            })
        );
    }
    // Each receipt of the batch left exactly what its counterpart written alone left.
    for i in 0..3 {
        let set = footprint(store, &rows[i].0, &rows[i].1, &events[i].event_id);
        let alone = footprint(store, &rows[i + 3].0, &rows[i + 3].1, &events[i + 3].event_id);
        assert_eq!(set, alone, "receipt {i}");
        assert_eq!(set.len(), if i == 0 { 7 } else { 6 }, "{set:?}");
    }
    // The further id was recorded: an event naming only it finds the payment.
    let mut intent = event("evt_pi_set_1", EventKind::PaymentSucceeded, "pi_set_1", amount);
    intent.external_payment_id = Some("pi_set_1".into());
    assert_eq!(
        store.handle_verified_event(&intent).unwrap(),
        EventOutcome::Finalize(FinalizeOutcome::AlreadyFinalized {
            payment_id: rows[0].1.id
        })
    );
    // Stored once, processed: a redelivery of the batch is answered duplicate, event by event.
    let again = store.handle_verified_events(&events[..3]).unwrap();
    assert_eq!(store.set_based_batches(), before + 1);
    for outcome in again {
        assert_eq!(
            outcome.unwrap(),
            EventOutcome::Duplicate {
                previous: "finalized".into()
            }
        );
    }
    // All receipts' kept sums follow the set-based writes too.
    store.fold_receipt_sums().unwrap();
    let all = ReceiptFilter::default();
    assert_eq!(
        store.receipt_totals(&all).unwrap().unwrap(),
        store.receipt_totals_added_up(&all).unwrap()
    );
}

/// A receipt that stopped being unpaid after the batch read it (voided here by hand, as another
/// writer would): the set-based statements are undone and every event gets its own outcome.
fn a_set_based_batch_out_of_date_is_written_event_by_event(store: &Store) {
    let rows = receipts_with_checkouts(store, &["late_1", "late_2", "late_3"]);
    let amount = Some(thb(100_000));
    let events: Vec<VerifiedEvent> = rows
        .iter()
        .map(|(_, p)| {
            let ext = payment_ext(p);
            event(&format!("evt_{ext}"), EventKind::PaymentSucceeded, &ext, amount)
        })
        .collect();
    store
        .execute_sql_for_tests(&format!(
            "UPDATE receipts SET status = 'void' WHERE id = {}",
            rows[1].0.id
        ))
        .unwrap();
    let before = (store.set_based_batches(), store.set_based_batches_undone());
    let out = store.handle_verified_events(&events).unwrap();
    assert_eq!(
        (store.set_based_batches(), store.set_based_batches_undone()),
        (before.0, before.1 + 1),
        "tried, undone, then event by event"
    );
    let out: Vec<EventOutcome> = out.into_iter().map(Result::unwrap).collect();
    assert!(matches!(
        out[0],
        EventOutcome::Finalize(FinalizeOutcome::Finalized { .. })
    ));
    assert!(
        matches!(&out[1], EventOutcome::Finalize(FinalizeOutcome::ReceiptNotPayable { receipt_status, .. }) if receipt_status == "void"),
        "{:?}",
        out[1]
    );
    assert!(matches!(
        out[2],
        EventOutcome::Finalize(FinalizeOutcome::Finalized { .. })
    ));
    assert_eq!(receipt_status(store, &rows[0].0), ReceiptStatus::Paid);
    assert_eq!(receipt_status(store, &rows[1].0), ReceiptStatus::Void);
    assert_eq!(receipt_status(store, &rows[2].0), ReceiptStatus::Paid);
    // Nothing of the undone attempt is left: one finalize entry per receipt, one event each.
    for (receipt, _) in &rows {
        assert_eq!(audit_for(store, "payment.finalize", receipt.id).len(), 1);
        assert_eq!(audit_for(store, "payment.webhook", receipt.id).len(), 1);
    }
}

/// Not set-based, not even tried: a single event, a mismatch, two events of one payment, a
/// failure among successes, a redelivery.
fn only_batches_of_plain_successes_are_written_set_based(store: &Store) {
    let rows = receipts_with_checkouts(
        store,
        &["no_1", "no_2", "no_3", "no_4", "no_5", "no_6", "no_7", "no_9"],
    );
    let amount = Some(thb(100_000));
    let before = (store.set_based_batches(), store.set_based_batches_undone());
    let one = event("evt_no_1", EventKind::PaymentSucceeded, "no_1", amount);
    store.handle_verified_events(std::slice::from_ref(&one)).unwrap();
    let mismatch = vec![
        event("evt_no_2", EventKind::PaymentSucceeded, "no_2", amount),
        event("evt_no_3", EventKind::PaymentSucceeded, "no_3", Some(thb(99_999))),
    ];
    let out = store.handle_verified_events(&mismatch).unwrap();
    assert!(matches!(
        out[1],
        Ok(EventOutcome::Finalize(FinalizeOutcome::Mismatch { .. }))
    ));
    let twice = vec![
        event("evt_no_3a", EventKind::PaymentSucceeded, "no_3", amount),
        event("evt_no_3b", EventKind::PaymentSucceeded, "no_3", amount),
    ];
    let out = store.handle_verified_events(&twice).unwrap();
    assert!(matches!(
        out[1],
        Ok(EventOutcome::Finalize(FinalizeOutcome::AlreadyFinalized { .. }))
    ));
    // A failure reported with the full amount is not a success.
    let failed = vec![
        event("evt_no_4", EventKind::PaymentSucceeded, "no_4", amount),
        event("evt_no_5", EventKind::PaymentFailed, "no_5", amount),
    ];
    let out = store.handle_verified_events(&failed).unwrap();
    assert!(!matches!(out[1], Ok(EventOutcome::Finalize(_))), "{:?}", out[1]);
    // A redelivery of an event stored before, with a new one (no_5's payment, paid after all).
    let redelivered = vec![
        event("evt_no_2", EventKind::PaymentSucceeded, "no_2", amount),
        event("evt_no_5b", EventKind::PaymentSucceeded, "no_5", amount),
    ];
    let out = store.handle_verified_events(&redelivered).unwrap();
    assert!(
        matches!(out[0], Ok(EventOutcome::Duplicate { .. })),
        "{:?}",
        out[0]
    );
    // One event id naming two payments (the second delivery is a duplicate of the first).
    let reused = vec![
        event("evt_no_6", EventKind::PaymentSucceeded, "no_6", amount),
        event("evt_no_6", EventKind::PaymentSucceeded, "no_7", amount),
    ];
    let out = store.handle_verified_events(&reused).unwrap();
    assert!(
        matches!(out[1], Ok(EventOutcome::Duplicate { .. })),
        "{:?}",
        out[1]
    );
    // An event stored before but kept open (it came before its checkout was attached), delivered
    // again once it is: the event-by-event way processes it again.
    let bob = store.user_by_username("bob").unwrap().unwrap();
    store
        .import_usage(&[usage("bob", "job-no_8", 100_000)], "test")
        .unwrap();
    let record = (store.usage_for_user(bob.id).unwrap().into_iter())
        .find(|u| u.job_id == "job-no_8")
        .unwrap();
    let receipt_8 = store
        .create_receipt_from_usage(bob.id, &[record.id], "test")
        .unwrap();
    let early = event("evt_no_8", EventKind::PaymentSucceeded, "no_8", amount);
    assert_eq!(
        store.handle_verified_event(&early).unwrap(),
        EventOutcome::UnknownPayment
    );
    let intent = store.create_payment_for_receipt(receipt_8.id, "dummy").unwrap();
    store
        .attach_provider_checkout(intent.payment().id, "no_8", "http://127.0.0.1/pay", "user:bob")
        .unwrap();
    let again = vec![
        early,
        event("evt_no_9", EventKind::PaymentSucceeded, "no_9", amount),
    ];
    let out = store.handle_verified_events(&again).unwrap();
    assert!(
        matches!(
            out[0],
            Ok(EventOutcome::Finalize(FinalizeOutcome::Finalized { .. }))
        ),
        "{:?}",
        out[0]
    );
    assert_eq!(
        (store.set_based_batches(), store.set_based_batches_undone()),
        before,
        "none of them was tried set-based"
    );
    assert_eq!(receipt_status(store, &receipt_8), ReceiptStatus::Paid);
    for (i, (receipt, _)) in rows.iter().enumerate() {
        let expected = if i == 6 {
            ReceiptStatus::Unpaid
        } else {
            ReceiptStatus::Paid
        };
        assert_eq!(receipt_status(store, receipt), expected, "no_{}", i + 1);
    }
}

/// A refund the provider reported while a payment was still open here applies to its receipt
/// when the payment is finalized (event by event, `after_finalize`): a batch with such a payment
/// is undone and written event by event, and its receipt ends partly refunded.
fn a_payment_refunded_while_open_is_settled_in_a_batch(store: &Store) {
    let rows = receipts_with_checkouts(store, &["early_1", "early_2"]);
    store
        .handle_verified_event(&refund_event_in(
            "evt_early_refund",
            "early_1",
            None,
            Some(("re_early_1", 1_000, RefundState::Succeeded)),
        ))
        .unwrap();
    let amount = Some(thb(100_000));
    let events = vec![
        event("evt_early_1", EventKind::PaymentSucceeded, "early_1", amount),
        event("evt_early_2", EventKind::PaymentSucceeded, "early_2", amount),
    ];
    let before = (store.set_based_batches(), store.set_based_batches_undone());
    let out = store.handle_verified_events(&events).unwrap();
    for outcome in out {
        assert!(matches!(
            outcome,
            Ok(EventOutcome::Finalize(FinalizeOutcome::Finalized { .. }))
        ));
    }
    assert_eq!(
        receipt_status(store, &rows[0].0),
        ReceiptStatus::PartiallyRefunded
    );
    assert_eq!(receipt_status(store, &rows[1].0), ReceiptStatus::Paid);
    assert_eq!(
        (store.set_based_batches(), store.set_based_batches_undone()),
        (before.0, before.1 + 1)
    );
}

/// The batch keeps its savepoints' journal in memory on SQLite, and gives the connection back to
/// the pool with temporary storage on disk again (the default, 0), for everything else.
#[test]
fn a_batch_gives_its_sqlite_connection_back_with_temporary_storage_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("one.db").display());
    let one = PoolOptions {
        max_size: 1,
        ..PoolOptions::default()
    };
    let store = Store::open(&url, &one).unwrap();
    let rows = receipts_with_checkouts(&store, &["tmp_1", "tmp_2"]);
    let events: Vec<VerifiedEvent> = ["tmp_1", "tmp_2"]
        .iter()
        .map(|ext| {
            event(
                &format!("evt_{ext}"),
                EventKind::PaymentSucceeded,
                ext,
                Some(thb(100_000)),
            )
        })
        .collect();
    assert_eq!(store.sqlite_pragma_for_tests("temp_store").unwrap(), Some(0));
    store.handle_verified_events(&events).unwrap();
    assert_eq!(store.set_based_batches(), 1, "two events are a batch");
    assert_eq!(receipt_status(&store, &rows[1].0), ReceiptStatus::Paid);
    assert_eq!(store.sqlite_pragma_for_tests("temp_store").unwrap(), Some(0));
}

crate::store_tests!(
    a_batch_of_plain_successes_is_written_set_based_as_event_by_event,
    a_set_based_batch_out_of_date_is_written_event_by_event,
    only_batches_of_plain_successes_are_written_set_based,
    a_payment_refunded_while_open_is_settled_in_a_batch,
);
