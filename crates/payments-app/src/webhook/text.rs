//! A verified event's text, checked before anything of it is queued or stored: a NUL character
//! in any of it is refused here, for every provider alike, rather than failing in PostgreSQL (a
//! 500 the provider would retry for days) or being stored by SQLite (see `payments_core::text`).

use payments_core::{refuse_nul, EventKind, NulText, WebhookEvent};

/// The refusal code of such an event in the audit log and the metrics.
pub const CODE: &str = "nul_in_text";

/// `Ok` when no text of `event` that is stored (nor the body kept with it) holds a NUL character;
/// else which one does.
pub fn check(event: &WebhookEvent, raw_payload: &str) -> Result<(), NulText> {
    refuse_nul("the event id", &event.event_id)?;
    refuse_nul("the event type", &event.raw_type)?;
    if let EventKind::Other { raw_type } = &event.kind {
        refuse_nul("the event type", raw_type)?;
    }
    if let Some(id) = &event.external_payment_id {
        refuse_nul("the provider's payment id", id)?;
    }
    if let Some(reference) = &event.payment_ref {
        refuse_nul("the payment reference", reference)?;
    }
    for reference in &event.references {
        refuse_nul("a payment id the event names", reference)?;
    }
    if let Some(refund) = &event.refund {
        refuse_nul("the refund id", &refund.id)?;
    }
    refuse_nul("the body", raw_payload)
}

#[cfg(test)]
mod tests {
    use payments_core::{RefundReport, RefundState, SignatureVerdict};

    use super::*;

    fn event() -> WebhookEvent {
        WebhookEvent {
            provider: "dummy".into(),
            event_id: "evt_1".into(),
            raw_type: "refund.succeeded".into(),
            kind: EventKind::Refunded { amount: None },
            external_payment_id: Some("dummy_pay_1".into()),
            payment_ref: Some("pay_1".into()),
            references: vec!["ch_1".into()],
            amount: None,
            refund: Some(RefundReport {
                id: "re_1".into(),
                amount: None,
                state: RefundState::Succeeded,
            }),
            raw: serde_json::Value::Null,
            signature: SignatureVerdict::verified("hmac-sha256"),
        }
    }

    #[test]
    fn every_stored_text_is_checked_and_named() {
        assert_eq!(check(&event(), "{}"), Ok(()));
        type Spoil = fn(&mut WebhookEvent);
        let cases: [(Spoil, &str); 6] = [
            (|e| e.event_id.push('\0'), "the event id"),
            (|e| e.raw_type = "\0".into(), "the event type"),
            (
                |e| e.external_payment_id = Some("x\0".into()),
                "the provider's payment id",
            ),
            (|e| e.payment_ref = Some("pay_\0".into()), "the payment reference"),
            (|e| e.references.push("\0".into()), "a payment id the event names"),
            (
                |e| {
                    if let Some(r) = e.refund.as_mut() {
                        r.id = "re_\0".into();
                    }
                },
                "the refund id",
            ),
        ];
        for (spoil, what) in cases {
            let mut e = event();
            spoil(&mut e);
            assert_eq!(check(&e, "{}").map_err(|e| e.what), Err(what.to_string()));
        }
        let e = check(&event(), "id=tr_\0").unwrap_err();
        assert_eq!(e.what, "the body");
        let other = WebhookEvent {
            kind: EventKind::Other {
                raw_type: "x\0".into(),
            },
            ..event()
        };
        assert_eq!(
            check(&other, "{}").map_err(|e| e.what),
            Err("the event type".to_string())
        );
    }
}
