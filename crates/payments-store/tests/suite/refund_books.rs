//! Refunds follow the provider both ways: one refund per confirmation page, failed refunds give
//! their amount back, a provider total that goes down is followed, refunds that arrive before the
//! payment is finalized apply when it is, the provider's refund list settles our rows, and an
//! admin can record what the provider cannot be asked about.

use payments_core::{refund_marker, EventKind, MinorUnits, ProviderRefund, RefundState};
use payments_store::*;

use super::refunds::{paid, refund_event_in};
use super::{event, receipt_with_checkout, thb};

fn state(store: &Store, p: &PaymentRow) -> (i64, String, ReceiptStatus) {
    let p = store.payment_by_public_id(&p.public_id).unwrap().unwrap();
    let r = store.receipt(p.receipt_id).unwrap().unwrap();
    (p.refunded_minor, p.status, r.status().unwrap())
}

fn listed(id: &str, amount: i64, status: &str, key: Option<&str>) -> ProviderRefund {
    ProviderRefund {
        refund_id: id.into(),
        amount: Some(MinorUnits(amount)),
        status: status.into(),
        marker: key.map(refund_marker),
    }
}

pub fn one_confirmation_page_makes_one_refund_however_often_it_is_posted(store: &Store) {
    let (receipt, payment) = paid(store, "dummy_once");
    let outcomes: Vec<RefundRequested> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..50)
            .map(|_| {
                let public_id = payment.public_id.clone();
                s.spawn(move || {
                    store
                        .request_refund_once(
                            &public_id,
                            3_100,
                            "job ran twice",
                            "",
                            "user:root",
                            "tok_page_1",
                        )
                        .unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let new = outcomes
        .iter()
        .filter(|o| matches!(o, RefundRequested::New(_)))
        .count();
    assert_eq!(new, 1, "exactly one of 50 posts makes the refund");
    let ids: Vec<i64> = outcomes.iter().map(|o| o.row().id).collect();
    assert!(
        ids.iter().all(|id| *id == ids[0]),
        "every post sees the same refund: {ids:?}"
    );
    assert_eq!(store.refunds_for_receipt(receipt.id).unwrap().len(), 1);
    // Another page (another token) is a deliberate second refund.
    let second = store
        .request_refund_once(&payment.public_id, 3_100, "again", "", "user:root", "tok_page_2")
        .unwrap();
    assert!(matches!(second, RefundRequested::New(_)));
    // A token is bound to its payment.
    let (_, other) = {
        let o = receipt_with_checkout_for(store, "bob", "dummy_once_b");
        (o.0, o.1)
    };
    let e = store
        .request_refund_once(&other.public_id, 100, "r", "", "user:root", "tok_page_1")
        .unwrap_err();
    assert!(
        matches!(e, StoreError::Invalid(ref m) if m.contains("another payment"))
            || matches!(e, StoreError::Conflict(_)),
        "{e:?}"
    );
}

/// Bob's receipt with a paid checkout `ext`.
fn receipt_with_checkout_for(store: &Store, user: &str, ext: &str) -> (ReceiptRow, PaymentRow) {
    store.create_user(user, "hash", Role::User).unwrap();
    let u = store.user_by_username(user).unwrap().unwrap();
    store
        .import_usage(
            &[NewUsage {
                username: user.into(),
                job_id: "b1".into(),
                description: "job b1".into(),
                cpu_core_seconds: 3600,
                gpu_seconds: 0,
                ended_at: 1_700_000_000,
                cost: thb(10_000),
            }],
            "test",
        )
        .unwrap();
    let ids: Vec<i64> = store.usage_for_user(u.id).unwrap().iter().map(|x| x.id).collect();
    let receipt = store.create_receipt_from_usage(u.id, &ids, "test").unwrap();
    let intent = store.create_payment_for_receipt(receipt.id, "dummy").unwrap();
    let payment = store
        .attach_provider_checkout(intent.payment().id, ext, "http://127.0.0.1/pay", "user:bob")
        .unwrap();
    store
        .handle_verified_event(&event(
            "evt_paid_b",
            EventKind::PaymentSucceeded,
            ext,
            Some(thb(10_000)),
        ))
        .unwrap();
    (receipt, payment)
}

pub fn a_refund_that_fails_later_gives_its_amount_back(store: &Store) {
    let (_, payment) = paid(store, "dummy_fail");
    let ours = store
        .request_refund(&payment.public_id, 3_100, "r", "user:root")
        .unwrap();
    let pending = RefundAnswer::Accepted {
        external_id: "re_1".into(),
        amount_minor: Some(3_100),
        state: RefundState::Pending,
    };
    store
        .record_refund_answer(ours.id, &pending, "user:root")
        .unwrap();
    // Stripe: charge.refunded counts the pending refund in its total.
    store
        .handle_verified_event(&refund_event_in(
            "evt_r1",
            "dummy_fail",
            Some(3_100),
            Some(("re_1", 3_100, RefundState::Pending)),
        ))
        .unwrap();
    assert_eq!(
        state(store, &payment),
        (3_100, "succeeded".into(), ReceiptStatus::PartiallyRefunded)
    );
    // Then the refund fails, and the total goes back down.
    store
        .handle_verified_event(&refund_event_in(
            "evt_r2",
            "dummy_fail",
            None,
            Some(("re_1", 3_100, RefundState::Failed)),
        ))
        .unwrap();
    assert_eq!(store.refund(ours.id).unwrap().unwrap().status, "failed");
    assert_eq!(
        state(store, &payment),
        (0, "succeeded".into(), ReceiptStatus::Paid)
    );
    store
        .handle_verified_event(&refund_event_in("evt_r3", "dummy_fail", Some(0), None))
        .unwrap();
    assert_eq!(
        state(store, &payment),
        (0, "succeeded".into(), ReceiptStatus::Paid)
    );
    // What the customer is owed can be refunded in full again.
    store
        .request_refund(&payment.public_id, 123_450, "r", "user:root")
        .unwrap();
}

pub fn a_succeeded_refund_that_fails_and_a_total_that_goes_down_are_followed(store: &Store) {
    let (_, payment) = paid(store, "dummy_down");
    let ours = store
        .request_refund(&payment.public_id, 123_450, "r", "user:root")
        .unwrap();
    let done = RefundAnswer::Accepted {
        external_id: "re_d".into(),
        amount_minor: Some(123_450),
        state: RefundState::Succeeded,
    };
    store.record_refund_answer(ours.id, &done, "user:root").unwrap();
    assert_eq!(
        state(store, &payment),
        (123_450, "refunded".into(), ReceiptStatus::Refunded)
    );
    // The provider's total goes down first (the refund failed), before the refund's own event.
    store
        .handle_verified_event(&refund_event_in("evt_d1", "dummy_down", Some(0), None))
        .unwrap();
    assert_eq!(
        state(store, &payment),
        (0, "succeeded".into(), ReceiptStatus::Paid)
    );
    store
        .handle_verified_event(&refund_event_in(
            "evt_d2",
            "dummy_down",
            None,
            Some(("re_d", 123_450, RefundState::Failed)),
        ))
        .unwrap();
    assert_eq!(store.refund(ours.id).unwrap().unwrap().status, "failed");
    assert_eq!(
        state(store, &payment),
        (0, "succeeded".into(), ReceiptStatus::Paid)
    );
}

pub fn a_refund_before_the_payment_is_finalized_applies_when_it_is(store: &Store) {
    let (receipt, payment) = receipt_with_checkout(store, "dummy_out_of_order");
    let o = store
        .handle_verified_event(&refund_event_in(
            "evt_early",
            "dummy_out_of_order",
            None,
            Some(("re_early", 1_000, RefundState::Succeeded)),
        ))
        .unwrap();
    assert!(
        matches!(o, EventOutcome::Ignored { ref reason } if reason.contains("applied when it is finalized")),
        "{o:?}"
    );
    assert_eq!(
        store.receipt(receipt.id).unwrap().unwrap().status().unwrap(),
        ReceiptStatus::Unpaid
    );
    store
        .handle_verified_event(&event(
            "evt_paid_late",
            EventKind::PaymentSucceeded,
            "dummy_out_of_order",
            Some(thb(123_450)),
        ))
        .unwrap();
    assert_eq!(
        state(store, &payment),
        (1_000, "succeeded".into(), ReceiptStatus::PartiallyRefunded)
    );
}

pub fn the_provider_list_settles_our_refunds(store: &Store) {
    let (_, payment) = paid(store, "dummy_list");
    let a = store
        .request_refund(&payment.public_id, 1_000, "a", "user:root")
        .unwrap();
    let b = store
        .request_refund(&payment.public_id, 2_000, "b", "user:root")
        .unwrap();
    for id in [a.id, b.id] {
        store
            .record_refund_answer(
                id,
                &RefundAnswer::Unknown {
                    error: "timeout".into(),
                },
                "user:root",
            )
            .unwrap();
    }
    let key_a = a.idempotency_key.as_deref();
    let sync = store
        .sync_refunds(
            payment.id,
            &[
                listed("re_a", 1_000, "pending", key_a),
                listed("re_x", 500, "succeeded", None),
            ],
            "reconcile",
        )
        .unwrap();
    assert_eq!(sync.changed, vec![(a.id, "pending".to_string())]);
    assert_eq!((sync.added, sync.not_listed.clone()), (1, vec![b.id]));
    assert_eq!(state(store, &payment).0, 500);
    let sync = store
        .sync_refunds(
            payment.id,
            &[
                listed("re_a", 1_000, "refunded", key_a),
                listed("re_x", 500, "succeeded", None),
            ],
            "reconcile",
        )
        .unwrap();
    assert_eq!(
        (sync.changed, sync.added),
        (vec![(a.id, "succeeded".to_string())], 0)
    );
    assert_eq!(state(store, &payment).0, 1_500);
    let row = store.refund(a.id).unwrap().unwrap();
    assert_eq!(row.external_id.as_deref(), Some("re_a"));
}

pub fn an_admin_records_what_the_provider_cannot_be_asked(store: &Store) {
    let (_, payment) = paid(store, "dummy_manual");
    let a = store
        .request_refund(&payment.public_id, 123_450, "a", "user:root")
        .unwrap();
    store
        .record_refund_answer(
            a.id,
            &RefundAnswer::Unknown {
                error: "timeout".into(),
            },
            "user:root",
        )
        .unwrap();
    assert!(store
        .request_refund(&payment.public_id, 1, "b", "user:root")
        .is_err());
    let e = store
        .record_refund_outcome(a.id, false, " ", "user:root")
        .unwrap_err();
    assert!(matches!(e, StoreError::Invalid(_)), "{e:?}");
    let row = store
        .record_refund_outcome(a.id, false, "not in the dashboard at 10:02", "user:root")
        .unwrap();
    assert_eq!(row.status, "failed");
    store
        .request_refund(&payment.public_id, 123_450, "b", "user:root")
        .unwrap();
    let e = store
        .record_refund_outcome(a.id, true, "x", "user:root")
        .unwrap_err();
    assert!(matches!(e, StoreError::Conflict(_)), "{e:?}");
}

crate::store_tests!(
    one_confirmation_page_makes_one_refund_however_often_it_is_posted,
    a_refund_that_fails_later_gives_its_amount_back,
    a_succeeded_refund_that_fails_and_a_total_that_goes_down_are_followed,
    a_refund_before_the_payment_is_finalized_applies_when_it_is,
    the_provider_list_settles_our_refunds,
    an_admin_records_what_the_provider_cannot_be_asked,
    a_second_success_for_a_paid_receipt_is_kept_flagged_and_refundable,
);

pub fn a_second_success_for_a_paid_receipt_is_kept_flagged_and_refundable(store: &Store) {
    // Checkout 1 expired here while the provider still accepted it; checkout 2 paid the receipt;
    // then the payer completes checkout 1 too.
    let (receipt, first) = receipt_with_checkout(store, "dummy_twice_1");
    assert!(store
        .close_payment(&first.public_id, PaymentState::Expired, "reconcile", "abandoned")
        .unwrap());
    let intent = store.create_payment_for_receipt(receipt.id, "dummy").unwrap();
    let paying = store
        .attach_provider_checkout(
            intent.payment().id,
            "dummy_twice_2",
            "http://127.0.0.1/pay",
            "user:alice",
        )
        .unwrap();
    store
        .handle_verified_event(&event(
            "evt_paid_2",
            EventKind::PaymentSucceeded,
            "dummy_twice_2",
            Some(thb(123_450)),
        ))
        .unwrap();
    let second = first;
    let first = paying;
    let o = store
        .handle_verified_event(&event(
            "evt_twice",
            EventKind::PaymentSucceeded,
            "dummy_twice_1",
            Some(thb(123_450)),
        ))
        .unwrap();
    assert!(
        matches!(
            o,
            EventOutcome::Finalize(FinalizeOutcome::ReceiptNotPayable { .. })
        ),
        "{o:?}"
    );
    let kept = store.payment_by_public_id(&second.public_id).unwrap().unwrap();
    assert_eq!((kept.status.as_str(), kept.second_payment), ("succeeded", true));
    assert_eq!(
        store.receipts_paid_twice(&[receipt.id, receipt.id + 1]).unwrap(),
        [receipt.id]
    );
    // Refunded in full from the receipt; the receipt stays paid by the first payment.
    let r = store
        .request_refund(&kept.public_id, 123_450, "paid twice", "user:root")
        .unwrap();
    let done = RefundAnswer::Accepted {
        external_id: "re_twice".into(),
        amount_minor: Some(123_450),
        state: RefundState::Succeeded,
    };
    store.record_refund_answer(r.id, &done, "user:root").unwrap();
    assert_eq!(
        state(store, &kept),
        (123_450, "refunded".into(), ReceiptStatus::Paid)
    );
    assert_eq!(state(store, &first).0, 0);
}
