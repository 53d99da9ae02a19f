//! The adapter on the provider's own evidence (see `evidence.rs`): every published payload
//! through `parse_webhook` and judged against the meaning its documentation gives it, every
//! declared event kind backed by at least one, and the published signature vectors verified
//! with the vector's own secret.

use super::evidence::{Evidence, Expect, PublishedEvent};
use super::{ensure, fail, skip, AdapterFixture, Check, Cx, Secret, Verdict};
use crate::webhook::{EventKind, WebhookError, WebhookEvent, WebhookRequest};

/// The fixture's evidence, loaded; a skip only for an adapter that says why it has none.
pub(crate) fn load(f: &dyn AdapterFixture) -> Result<Evidence, Verdict> {
    match f.evidence_dir() {
        Some(dir) => Evidence::load(&dir).map_err(|e| fail(format!("the evidence folder: {e}"))),
        None => Err(match f.no_evidence_because() {
            Some(why) => skip(format!("no published evidence: {why}")),
            None => fail(
                "the fixture names no evidence folder (hook evidence_dir): an adapter is judged on the \
                 provider's published payloads, signature vectors and example requests",
            ),
        }),
    }
}

/// The folder reads, and every event kind the fixture declares is backed by a published payload.
pub async fn kinds(cx: &Cx<'_>) -> Check {
    let evidence = cx.evidence()?;
    let missing: Vec<&str> =
        cx.f.event_kinds()
            .into_iter()
            .filter(|k| !evidence.events.iter().any(|e| e.covers == *k))
            .map(|k| k.label())
            .collect();
    ensure!(
        missing.is_empty(),
        "declared event kinds without a published payload in {}/events: {}",
        evidence.dir.display(),
        missing.join(", ")
    );
    Ok(())
}

/// Every published payload, sent as the provider sends it, means what its documentation says.
pub async fn events(cx: &Cx<'_>) -> Check {
    let evidence = cx.evidence()?;
    if evidence.events.is_empty() {
        return Err(skip("the evidence folder holds no published event"));
    }
    let mut problems = Vec::new();
    for published in &evidence.events {
        if let Err(why) = replay(cx, published).await {
            problems.push(format!("{} ({}): {why}", published.file, published.source));
        }
    }
    ensure!(problems.is_empty(), "{}", problems.join("\n"));
    Ok(())
}

async fn replay(cx: &Cx<'_>, published: &PublishedEvent) -> Result<(), String> {
    for served in &published.served {
        if !cx.f.serve(served).await {
            return Err(format!(
                "the fixture cannot answer {} {} as published (hook serve)",
                served.method, served.path
            ));
        }
    }
    let now = cx.f.now();
    let header_id = cx.f.event_id_header().and_then(|h| {
        published
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(h))
            .map(|(_, v)| v.clone())
    });
    let mut headers = match &header_id {
        Some(id) => cx.f.sign_with_event_id(&published.body, now, id),
        None => cx.f.sign(&published.body, now, Secret::Current),
    }
    .unwrap_or_default();
    for (k, v) in &published.headers {
        if !headers.iter().any(|(h, _)| h.eq_ignore_ascii_case(k)) {
            headers.push((k.clone(), v.clone()));
        }
    }
    let request = WebhookRequest::new(headers, published.body.clone(), now);
    let event =
        cx.f.provider()
            .parse_webhook(&request)
            .await
            .map_err(|e| format!("refused: {e}"))?;
    let problems = judge(&published.expect, &event);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

fn kind_name(kind: &EventKind) -> String {
    serde_json::to_value(kind)
        .ok()
        .and_then(|v| v["kind"].as_str().map(str::to_string))
        .unwrap_or_else(|| format!("{kind:?}"))
}

/// What differs between the documented meaning and the adapter's event.
pub(crate) fn judge(expect: &Expect, ev: &WebhookEvent) -> Vec<String> {
    let mut problems = Vec::new();
    let mut differ = |what: &str, want: String, got: String| {
        if want != got {
            problems.push(format!("{what} is {got}, the documentation says {want}"));
        }
    };
    differ("the event", expect.kind.clone(), kind_name(&ev.kind));
    if let Some(total) = &expect.refunded_total {
        let got = match &ev.kind {
            EventKind::Refunded { amount } => amount.map(|a| a.get()),
            _ => None,
        };
        differ("the refunded total", format!("{total:?}"), format!("{got:?}"));
    }
    if let Some(id) = &expect.event_id {
        differ("the event id", format!("{id:?}"), format!("{:?}", ev.event_id));
    }
    if let Some(id) = &expect.external_payment_id {
        differ(
            "the provider's payment id",
            format!("{id:?}"),
            format!("{:?}", ev.external_payment_id),
        );
    }
    if let Some(r) = &expect.payment_ref {
        differ(
            "our payment id",
            format!("{r:?}"),
            format!("{:?}", ev.payment_ref),
        );
    }
    if let Some(amount) = &expect.amount {
        let want = amount
            .as_ref()
            .map(|a| format!("{} {} minor units", a.currency.to_ascii_uppercase(), a.minor));
        let got = ev
            .amount
            .map(|m| format!("{} {} minor units", m.currency.code(), m.amount.get()));
        differ("the amount", format!("{want:?}"), format!("{got:?}"));
    }
    if let Some(refund) = &expect.refund {
        match (refund, &ev.refund) {
            (None, None) => {}
            (None, Some(got)) => differ("the refund", "none".into(), format!("{got:?}")),
            (Some(want), None) => differ("the refund", format!("{want:?}"), "none".into()),
            (Some(want), Some(got)) => {
                differ("the refund id", want.id.clone(), got.id.clone());
                if let Some(amount) = want.amount {
                    differ(
                        "the refund's amount",
                        amount.to_string(),
                        got.amount.map_or("none".into(), |a| a.get().to_string()),
                    );
                }
                if let Some(state) = &want.state {
                    let got_state = serde_json::to_value(got.state)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default();
                    differ("the refund's state", state.clone(), got_state);
                }
            }
        }
    }
    problems
}

/// The published signature vectors, each verified by the adapter configured with the vector's
/// secret at the vector's time: a valid one is not refused as a signature error, an invalid
/// one is. A scheme read differently (header name, encoding, prefix, signed message) fails here
/// whatever the fixture's own `sign` does.
pub async fn signatures(cx: &Cx<'_>) -> Check {
    let evidence = cx.evidence()?;
    let vectors = evidence.signatures.as_ref();
    let cases = vectors.map(|v| v.cases.as_slice()).unwrap_or_default();
    if cases.is_empty() {
        let signed = cx.f.sign(b"{}", cx.f.now(), Secret::Current).is_some();
        return if signed {
            Err(fail(
                "the webhooks are signed but signatures.json holds no vector made independently of \
                 the adapter (published by the provider or made with its official SDK)",
            ))
        } else {
            Err(skip(format!(
                "the provider's webhooks are not signed: {}",
                vectors.map_or("no signatures.json", |v| v.scheme.as_str())
            )))
        };
    }
    ensure!(
        cases.iter().any(|c| c.valid),
        "signatures.json has no valid vector: an adapter that refuses everything would pass"
    );
    let mut problems = Vec::new();
    for case in cases {
        let Some(adapter) = cx.f.verifier(case).await else {
            return Err(fail(
                "the fixture cannot configure the adapter with a vector's secret (hook verifier)",
            ));
        };
        let request = WebhookRequest::new(
            case.headers.clone(),
            case.body.clone().into_bytes(),
            case.received_at,
        );
        match (case.valid, adapter.parse_webhook(&request).await) {
            (true, Err(WebhookError::Signature(e))) => {
                problems.push(format!("{}: a valid vector was refused: {e}", case.name))
            }
            (false, Ok(ev)) => problems.push(format!(
                "{}: an invalid vector was accepted as {:?}",
                case.name, ev.kind
            )),
            (false, Err(e)) if !matches!(e, WebhookError::Signature(_)) => problems.push(format!(
                "{}: an invalid vector was refused as {e:?}, not as a signature error",
                case.name
            )),
            _ => {}
        }
    }
    ensure!(problems.is_empty(), "{}", problems.join("\n"));
    Ok(())
}
