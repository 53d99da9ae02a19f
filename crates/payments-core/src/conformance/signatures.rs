//! Signatures: missing, wrong, tampered, whitespace, stale, rotated.

use super::{ensure, fail, skip, Check, Cx, Secret, Verdict};
use crate::signature::SignatureError;
use crate::webhook::{WebhookError, WebhookRequest};

/// Headers for `body` signed with `secret` at `at`, or a skip when the fixture has none.
fn headers(cx: &Cx<'_>, body: &[u8], at: i64, secret: Secret) -> Result<Vec<(String, String)>, Verdict> {
    cx.f.sign(body, at, secret).ok_or_else(|| match secret {
        Secret::Previous => skip("the fixture configures no previous (rotated) secret"),
        _ => skip("the provider's webhooks carry no signature (verified by re-fetch)"),
    })
}

async fn refused(cx: &Cx<'_>, what: &str, req: WebhookRequest) -> Result<WebhookError, Verdict> {
    match cx.f.provider().parse_webhook(&req).await {
        Ok(ev) => Err(fail(format!("{what} was accepted as {:?}", ev.kind))),
        Err(e) => Ok(e),
    }
}

fn is_signature(e: &WebhookError) -> bool {
    matches!(e, WebhookError::Signature(_))
}

/// Without the signature header: `MissingHeader` naming it.
pub async fn missing(cx: &Cx<'_>) -> Check {
    let header =
        cx.f.signature_header()
            .ok_or_else(|| skip("the provider's webhooks carry no signature header"))?;
    let body = cx.sample_body().await?;
    let now = cx.f.now();
    let kept = headers(cx, &body, now, Secret::Current)?
        .into_iter()
        .filter(|(k, _)| !k.eq_ignore_ascii_case(header))
        .collect();
    let err = refused(
        cx,
        "a webhook without signature",
        WebhookRequest::new(kept, body, now),
    )
    .await?;
    ensure!(
        matches!(&err, WebhookError::Signature(SignatureError::MissingHeader(h)) if h.eq_ignore_ascii_case(header)),
        "a webhook without {header} was refused as {err:?}, not as MissingHeader({header})"
    );
    Ok(())
}

/// Signed with a secret the adapter does not know: refused as a signature error.
pub async fn wrong_secret(cx: &Cx<'_>) -> Check {
    let body = cx.sample_body().await?;
    let now = cx.f.now();
    let h = headers(cx, &body, now, Secret::Wrong)?;
    let err = refused(
        cx,
        "a webhook signed with a wrong secret",
        WebhookRequest::new(h, body, now),
    )
    .await?;
    ensure!(
        is_signature(&err),
        "a wrong secret was refused as {err:?}, not as a signature error"
    );
    Ok(())
}

/// The body changed after signing (a byte appended, a digit changed): refused.
pub async fn tampered(cx: &Cx<'_>) -> Check {
    let body = cx.sample_body().await?;
    let now = cx.f.now();
    let h = headers(cx, &body, now, Secret::Current)?;
    let mut appended = body.clone();
    appended.push(b' ');
    let mut digit = body.clone();
    if let Some(d) = digit.iter_mut().find(|b| b.is_ascii_digit()) {
        *d = if *d == b'9' { b'1' } else { *d + 1 };
    }
    for (what, tampered) in [("a byte appended", appended), ("a digit changed", digit)] {
        let err = refused(
            cx,
            &format!("a body with {what} after signing"),
            WebhookRequest::new(h.clone(), tampered, now),
        )
        .await?;
        ensure!(
            is_signature(&err),
            "a body with {what} after signing was refused as {err:?}, not as a signature error"
        );
    }
    Ok(())
}

/// The signature covers the exact bytes: a genuine body with surrounding whitespace verifies,
/// and the same body trimmed (signature over the untrimmed one) is refused.
pub async fn whitespace(cx: &Cx<'_>) -> Check {
    let body = cx.sample_body().await?;
    let mut padded = b"\n ".to_vec();
    padded.extend_from_slice(&body);
    padded.extend_from_slice(b" \n");
    let now = cx.f.now();
    let h = headers(cx, &padded, now, Secret::Current)?;
    let genuine = WebhookRequest::new(h.clone(), padded, now);
    if let Err(e) = cx.f.provider().parse_webhook(&genuine).await {
        return Err(fail(format!(
            "a genuine webhook whose body has leading and trailing whitespace was refused: {e}"
        )));
    }
    let err = refused(
        cx,
        "the body trimmed after signing",
        WebhookRequest::new(h, body, now),
    )
    .await?;
    ensure!(
        is_signature(&err),
        "the body trimmed after signing was refused as {err:?}, not as a signature error"
    );
    Ok(())
}

/// Signed longer ago than the tolerance: `OutsideTolerance`.
pub async fn stale(cx: &Cx<'_>) -> Check {
    let by =
        cx.f.stale_by()
            .ok_or_else(|| skip("the provider's signature carries no timestamp"))?;
    let body = cx.sample_body().await?;
    let now = cx.f.now();
    let h = headers(cx, &body, now - by, Secret::Current)?;
    let err = refused(cx, "a stale signature", WebhookRequest::new(h, body, now)).await?;
    ensure!(
        matches!(
            err,
            WebhookError::Signature(SignatureError::OutsideTolerance { .. })
        ),
        "a signature {by} s old was refused as {err:?}, not as OutsideTolerance"
    );
    Ok(())
}

/// During a rotation the previous secret still verifies.
pub async fn rotated(cx: &Cx<'_>) -> Check {
    let body = cx.sample_body().await?;
    let now = cx.f.now();
    let h = headers(cx, &body, now, Secret::Previous)?;
    match cx
        .f
        .provider()
        .parse_webhook(&WebhookRequest::new(h, body, now))
        .await
    {
        Ok(ev) => {
            ensure!(ev.signature.is_verified(), "verdict {:?}", ev.signature);
            Ok(())
        }
        Err(e) => Err(fail(format!(
            "a webhook signed with the previous secret was refused: {e}"
        ))),
    }
}
