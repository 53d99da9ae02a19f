//! Refunds (requested here, answered by the provider, reported by webhooks) and disputes.

use payments_core::{EventKind, MinorUnits, RefundReport, RefundState};
use payments_store::*;

use super::{audit_count, event, receipt_with_checkout, thb};

/// Alice's receipt of THB 1,234.50, paid through the checkout `ext`.
pub(super) fn paid(store: &Store, ext: &str) -> (ReceiptRow, PaymentRow) {
    let (receipt, payment) = receipt_with_checkout(store, ext);
    let paid = store
        .handle_verified_event(&event(
            "evt_paid",
            EventKind::PaymentSucceeded,
            ext,
            Some(thb(123_450)),
        ))
        .unwrap();
    assert!(
        matches!(paid, EventOutcome::Finalize(FinalizeOutcome::Finalized { .. })),
        "{paid:?}"
    );
    (receipt, payment)
}

fn now(store: &Store, p: &PaymentRow) -> (PaymentRow, ReceiptStatus) {
    let p = store.payment_by_public_id(&p.public_id).unwrap().unwrap();
    let r = store.receipt(p.receipt_id).unwrap().unwrap();
    (p, r.status().unwrap())
}

fn accepted(id: &str, amount: i64) -> RefundAnswer {
    RefundAnswer::Accepted {
        external_id: id.into(),
        amount_minor: Some(amount),
        state: RefundState::Succeeded,
    }
}

fn refund_event(id: &str, ext: &str, total: Option<i64>, one: Option<(&str, i64)>) -> VerifiedEvent {
    refund_event_in(
        id,
        ext,
        total,
        one.map(|(rid, amount)| (rid, amount, RefundState::Succeeded)),
    )
}

/// A refund event with the provider's cumulative `total` and/or the one refund it names, in
/// the given state.
pub(super) fn refund_event_in(
    id: &str,
    ext: &str,
    total: Option<i64>,
    one: Option<(&str, i64, RefundState)>,
) -> VerifiedEvent {
    let mut ev = event(
        id,
        EventKind::Refunded {
            amount: total.map(MinorUnits),
        },
        ext,
        None,
    );
    ev.refund = one.map(|(rid, amount, state)| RefundReport {
        id: rid.into(),
        amount: Some(MinorUnits(amount)),
        state,
    });
    ev
}

fn refund_steps(store: &Store, receipt: i64) -> Vec<String> {
    let (rows, _) = store
        .audit_log(&AuditQuery {
            action: Some("payment.refund".into()),
            receipt_id: Some(receipt),
            limit: 100,
            offset: 0,
        })
        .unwrap();
    let mut steps: Vec<String> = rows
        .iter()
        .map(|r| {
            serde_json::from_str::<serde_json::Value>(&r.detail).unwrap()["step"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    steps.reverse();
    steps
}

pub fn partial_then_full_refund_from_the_admin(store: &Store) {
    let (receipt, payment) = paid(store, "dummy_ref1");
    let first = store
        .request_refund(&payment.public_id, 50_000, "half the jobs failed", "user:root")
        .unwrap();
    assert_eq!(first.status, "requested");
    assert_eq!(first.seq, Some(1));
    assert_eq!(
        first.idempotency_key.as_deref(),
        Some(format!("pay:{}:refund:1", payment.public_id).as_str())
    );
    // Stored before the provider answers: nothing refunded yet, the amount is reserved.
    assert_eq!(now(store, &payment).1, ReceiptStatus::Paid);
    let err = store
        .request_refund(&payment.public_id, 73_451, "too much", "user:root")
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Invalid(ref m) if m.contains("734.50")),
        "{err}"
    );
    let done = store
        .record_refund_answer(first.id, &accepted("re_1", 50_000), "user:root")
        .unwrap();
    assert_eq!(
        (done.status.as_str(), done.external_id.as_deref()),
        ("succeeded", Some("re_1"))
    );
    // The refund's id is one more reference of the payment: an event naming only it is matched.
    assert!(store
        .payment_references(payment.id)
        .unwrap()
        .contains(&"re_1".to_string()));
    let mut only_refund = event("evt_only_re", EventKind::Disputed, "re_1", None);
    only_refund.external_payment_id = None;
    only_refund.references = vec!["re_1".into()];
    assert_eq!(
        store.handle_verified_event(&only_refund).unwrap(),
        EventOutcome::Disputed {
            payment_id: payment.id
        }
    );
    let (p, r) = now(store, &payment);
    assert_eq!(
        (p.refunded_minor, p.display_status(), r),
        (50_000, "partially_refunded", ReceiptStatus::PartiallyRefunded)
    );

    let second = store
        .request_refund(&payment.public_id, 73_450, "the rest", "user:root")
        .unwrap();
    assert_eq!(second.seq, Some(2));
    store
        .record_refund_answer(second.id, &accepted("re_2", 73_450), "user:root")
        .unwrap();
    let (p, r) = now(store, &payment);
    assert_eq!(
        (p.refunded_minor, p.state().unwrap(), r),
        (123_450, PaymentState::Refunded, ReceiptStatus::Refunded)
    );
    let err = store
        .request_refund(&payment.public_id, 1, "more", "user:root")
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict(ref m) if m.contains("refunded in full")),
        "{err}"
    );
    assert_eq!(store.refunds_for_receipt(receipt.id).unwrap().len(), 2);
    assert_eq!(
        refund_steps(store, receipt.id),
        [
            "requested",
            "provider_answer",
            "settled",
            "requested",
            "provider_answer",
            "settled"
        ]
    );
    // A late success event does not undo the refund.
    let late = store
        .handle_verified_event(&event(
            "evt_late",
            EventKind::PaymentSucceeded,
            "dummy_ref1",
            Some(thb(123_450)),
        ))
        .unwrap();
    assert!(
        matches!(
            late,
            EventOutcome::Finalize(FinalizeOutcome::AlreadyFinalized { .. })
        ),
        "{late:?}"
    );
    assert_eq!(now(store, &payment).1, ReceiptStatus::Refunded);
}

pub fn refunds_are_refused_before_payment_and_without_reason(store: &Store) {
    let (receipt, payment) = receipt_with_checkout(store, "dummy_ref2");
    let err = store
        .request_refund(&payment.public_id, 100, "r", "user:root")
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict(ref m) if m.contains("only a paid payment")),
        "{err}"
    );
    store
        .handle_verified_event(&event(
            "evt_p2",
            EventKind::PaymentSucceeded,
            "dummy_ref2",
            Some(thb(123_450)),
        ))
        .unwrap();
    for (amount, reason) in [(0, "r"), (-5, "r"), (100, "  ")] {
        let err = store
            .request_refund(&payment.public_id, amount, reason, "user:root")
            .unwrap_err();
        assert!(
            matches!(err, StoreError::Invalid(_)),
            "{amount} {reason:?}: {err}"
        );
    }
    assert!(store.refunds_for_receipt(receipt.id).unwrap().is_empty());
    assert_eq!(audit_count(store, "payment.refund"), 0);
}

pub fn refused_answers_free_the_amount_and_unknown_ones_keep_it(store: &Store) {
    let (_, payment) = paid(store, "dummy_ref3");
    let a = store
        .request_refund(&payment.public_id, 100_000, "r", "user:root")
        .unwrap();
    // No answer: the amount stays reserved, a second large refund is refused.
    let a = store
        .record_refund_answer(
            a.id,
            &RefundAnswer::Unknown {
                error: "timeout".into(),
            },
            "user:root",
        )
        .unwrap();
    assert_eq!(a.status, "requested");
    assert!(store
        .request_refund(&payment.public_id, 100_000, "r", "user:root")
        .is_err());
    // Refused for good: free again.
    let a = store
        .record_refund_answer(
            a.id,
            &RefundAnswer::Refused {
                error: "insufficient balance".into(),
            },
            "user:root",
        )
        .unwrap();
    assert_eq!(
        (a.status.as_str(), a.error.as_deref()),
        ("failed", Some("insufficient balance"))
    );
    let b = store
        .request_refund(&payment.public_id, 100_000, "r", "user:root")
        .unwrap();
    assert_eq!(b.seq, Some(2));
    // A failed refund stays failed, whatever comes later.
    let a = store
        .record_refund_answer(a.id, &accepted("re_x", 100_000), "user:root")
        .unwrap();
    assert_eq!(a.status, "failed");
    assert_eq!(now(store, &payment).0.refunded_minor, 0);
}

pub fn twenty_concurrent_refund_requests_never_exceed_what_was_paid(store: &Store) {
    let (receipt, payment) = paid(store, "dummy_ref4");
    // THB 100.00 each: 12 fit into THB 1,234.50, the 13th would not.
    let results: Vec<Result<RefundRow, StoreError>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..20)
            .map(|i| {
                let id = payment.public_id.clone();
                s.spawn(move || store.request_refund(&id, 10_000, "race", &format!("user:admin{i}")))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let ok = results.iter().filter(|r| r.is_ok()).count();
    let refused: Vec<String> = results
        .iter()
        .filter_map(|r| r.as_ref().err())
        .map(|e| e.to_string())
        .collect();
    let _ = std::io::Write::write_all(
        &mut std::io::stderr(),
        format!(
            "refund race ({}): {ok} stored, {} refused\n",
            store.backend(),
            refused.len()
        )
        .as_bytes(),
    );
    assert_eq!(ok, 12, "{refused:?}");
    assert!(refused.iter().all(|e| e.contains("more than the")), "{refused:?}");
    let rows = store.refunds_for_receipt(receipt.id).unwrap();
    let total: i64 = rows.iter().map(|r| r.amount_minor).sum();
    assert!(total <= 123_450);
    let mut seqs: Vec<i64> = rows.iter().filter_map(|r| r.seq).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=12).collect::<Vec<i64>>());
    // Each answered: the payment ends with exactly what was refunded.
    for r in &rows {
        store
            .record_refund_answer(
                r.id,
                &accepted(&format!("re_{}", r.id), r.amount_minor),
                "user:root",
            )
            .unwrap();
    }
    let (p, status) = now(store, &payment);
    assert_eq!(
        (p.refunded_minor, status),
        (120_000, ReceiptStatus::PartiallyRefunded)
    );
}

pub fn webhook_refunds_count_once_whether_cumulative_or_per_refund(store: &Store) {
    // Cumulative totals (Stripe amount_refunded, PayPal total_refunded_amount).
    let (receipt, payment) = paid(store, "dummy_cum");
    let o = store
        .handle_verified_event(&refund_event("evt_c1", "dummy_cum", Some(60_000), None))
        .unwrap();
    assert!(
        matches!(o, EventOutcome::StateChanged { ref state, .. } if state == "partially_refunded"),
        "{o:?}"
    );
    // The same total again (another event about the same refund) changes nothing.
    let o = store
        .handle_verified_event(&refund_event("evt_c2", "dummy_cum", Some(60_000), None))
        .unwrap();
    assert!(matches!(o, EventOutcome::Ignored { .. }), "{o:?}");
    let o = store
        .handle_verified_event(&refund_event("evt_c3", "dummy_cum", Some(123_450), None))
        .unwrap();
    assert!(
        matches!(o, EventOutcome::StateChanged { ref state, .. } if state == "refunded"),
        "{o:?}"
    );
    assert_eq!(now(store, &payment).1, ReceiptStatus::Refunded);
    let rows = store.refunds_for_receipt(receipt.id).unwrap();
    assert_eq!(
        rows.iter().map(|r| r.amount_minor).collect::<Vec<_>>(),
        [60_000, 63_450]
    );
    assert!(rows.iter().all(|r| r.origin == "provider"));
}

pub fn per_refund_events_are_summed_by_refund_id(store: &Store) {
    let (receipt, payment) = paid(store, "dummy_per");
    let o = store
        .handle_verified_event(&refund_event(
            "evt_r1",
            "dummy_per",
            None,
            Some(("rfnd_1", 60_000)),
        ))
        .unwrap();
    assert!(
        matches!(o, EventOutcome::StateChanged { ref state, .. } if state == "partially_refunded"),
        "{o:?}"
    );
    // Another event naming the same refund: counted once.
    let o = store
        .handle_verified_event(&refund_event(
            "evt_r1b",
            "dummy_per",
            None,
            Some(("rfnd_1", 60_000)),
        ))
        .unwrap();
    assert!(matches!(o, EventOutcome::Ignored { .. }), "{o:?}");
    assert_eq!(now(store, &payment).0.refunded_minor, 60_000);
    let o = store
        .handle_verified_event(&refund_event(
            "evt_r2",
            "dummy_per",
            None,
            Some(("rfnd_2", 63_450)),
        ))
        .unwrap();
    assert!(
        matches!(o, EventOutcome::StateChanged { ref state, .. } if state == "refunded"),
        "{o:?}"
    );
    let (p, status) = now(store, &payment);
    assert_eq!(
        (p.refunded_minor, p.state().unwrap(), status),
        (123_450, PaymentState::Refunded, ReceiptStatus::Refunded)
    );
    // A refund beyond what was paid is never recorded.
    let o = store
        .handle_verified_event(&refund_event("evt_r3", "dummy_per", None, Some(("rfnd_3", 1))))
        .unwrap();
    assert!(
        matches!(o, EventOutcome::RefundRefused { ref reason, .. } if reason.contains("exceed")),
        "{o:?}"
    );
    assert_eq!(o.label(), "refund_refused");
    assert_eq!(store.refunds_for_receipt(receipt.id).unwrap().len(), 2);
}

pub fn a_webhook_before_the_answer_completes_our_refund(store: &Store) {
    let (receipt, payment) = paid(store, "dummy_early");
    let ours = store
        .request_refund(&payment.public_id, 23_450, "r", "user:root")
        .unwrap();
    // The provider's event about our refund arrives before its answer to our call.
    store
        .handle_verified_event(&refund_event(
            "evt_e1",
            "dummy_early",
            None,
            Some(("re_early", 23_450)),
        ))
        .unwrap();
    let row = store.refund(ours.id).unwrap().unwrap();
    assert_eq!(
        (row.status.as_str(), row.external_id.as_deref()),
        ("succeeded", Some("re_early"))
    );
    let row = store
        .record_refund_answer(ours.id, &accepted("re_early", 23_450), "user:root")
        .unwrap();
    assert_eq!(row.status, "succeeded");
    let rows = store.refunds_for_receipt(receipt.id).unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(now(store, &payment).0.refunded_minor, 23_450);
    // A cumulative total that includes it adds nothing.
    store
        .handle_verified_event(&refund_event("evt_e2", "dummy_early", Some(23_450), None))
        .unwrap();
    assert_eq!(store.refunds_for_receipt(receipt.id).unwrap().len(), 1);
}

pub fn disputes_are_recorded_against_the_payment(store: &Store) {
    let (receipt, payment) = paid(store, "dummy_dp");
    let o = store
        .handle_verified_event(&event(
            "evt_dp",
            EventKind::Disputed,
            "dummy_dp",
            Some(thb(123_450)),
        ))
        .unwrap();
    assert_eq!(
        o,
        EventOutcome::Disputed {
            payment_id: payment.id
        }
    );
    assert_eq!(o.label(), "dispute_recorded");
    let again = store
        .handle_verified_event(&event(
            "evt_dp",
            EventKind::Disputed,
            "dummy_dp",
            Some(thb(123_450)),
        ))
        .unwrap();
    assert!(matches!(again, EventOutcome::Duplicate { .. }));
    let disputes = store.disputes_for_receipt(receipt.id).unwrap();
    assert_eq!(disputes.len(), 1);
    assert_eq!(disputes[0].amount_minor, Some(123_450));
    assert_eq!(
        store.disputed_receipts(&[receipt.id, receipt.id + 100]).unwrap(),
        [receipt.id]
    );
    assert_eq!(audit_count(store, "payment.dispute"), 1);
}

crate::store_tests!(
    partial_then_full_refund_from_the_admin,
    refunds_are_refused_before_payment_and_without_reason,
    refused_answers_free_the_amount_and_unknown_ones_keep_it,
    twenty_concurrent_refund_requests_never_exceed_what_was_paid,
    webhook_refunds_count_once_whether_cumulative_or_per_refund,
    per_refund_events_are_summed_by_refund_id,
    a_webhook_before_the_answer_completes_our_refund,
    disputes_are_recorded_against_the_payment,
);
