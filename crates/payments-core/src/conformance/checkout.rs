//! Checkouts: their shape, the amount that reached the provider, and idempotency.

use super::amounts::{contains_number, Chosen, Class};
use super::{checkout_request, ensure, fail, money, skip, Check, Cx, Received};

/// A checkout has a non-empty provider id, an absolute http(s) URL, and echoes our key.
pub async fn shape(cx: &Cx<'_>) -> Check {
    let (_, amount) = cx.primary()?;
    let (req, session) = cx.checkout("shape", amount).await?;
    ensure!(!session.external_id.trim().is_empty(), "the checkout id is empty");
    let url = url::Url::parse(&session.redirect_url).map_err(|e| {
        fail(format!(
            "redirect URL {:?} is not absolute: {e}",
            session.redirect_url
        ))
    })?;
    ensure!(
        matches!(url.scheme(), "http" | "https") && url.host().is_some(),
        "redirect URL {:?} is not an absolute http(s) URL",
        session.redirect_url
    );
    ensure!(
        session.idempotency_key == req.idempotency_key,
        "the session reports idempotency key {:?}, the request had {:?}",
        session.idempotency_key,
        req.idempotency_key
    );
    Ok(())
}

/// The checkout-create requests the mock received that carry `payment_ref`.
async fn creates_for(cx: &Cx<'_>, payment_ref: &str) -> Result<Vec<Received>, super::Verdict> {
    let received =
        cx.f.received()
            .await
            .ok_or_else(|| skip("the fixture hands over no requests received by a provider mock"))?;
    Ok(received
        .into_iter()
        .filter(|r| cx.f.is_checkout_create(r) && r.text().contains(payment_ref))
        .collect())
}

/// The provider received exactly the chosen amount, in its own units.
pub async fn amount_on_wire(cx: &Cx<'_>, class: &Class, chosen: Option<Chosen>) -> Check {
    let c = class.chosen_or_skip(chosen)?;
    let amount = money(&c)?;
    let req = checkout_request(&cx.new_ref(class.name), amount);
    // What reached the provider is judged first, whatever the adapter then made of the answer.
    let created = cx.f.provider().create_checkout(&req).await;
    let creates = creates_for(cx, &req.payment_ref).await?;
    if creates.is_empty() {
        let why = match &created {
            Ok(_) => String::new(),
            Err(e) => format!(" (create_checkout failed: {e})"),
        };
        return Err(fail(format!(
            "no checkout-create request carrying our payment id {} reached the provider mock{why}",
            req.payment_ref
        )));
    }
    for r in &creates {
        let ok = match cx.f.amount_sent(r) {
            Some(sent) => sent.trim().trim_matches('"') == c.wire,
            None => contains_number(&r.text(), &c.wire),
        };
        ensure!(
            ok,
            "{amount} ({} decimals at the provider) must reach it as {}; {} {} sent {}",
            c.provider_decimals,
            c.wire,
            r.method,
            r.path,
            cx.f.amount_sent(r)
                .unwrap_or_else(|| String::from_utf8_lossy(&r.body).into_owned())
        );
    }
    created.map_err(|e| fail(format!("create_checkout of {amount} failed: {e}")))?;
    Ok(())
}

/// `check_amount` (which decides, before any call, whether the server offers this provider for
/// a receipt) takes what `create_checkout` takes: the amount of each currency class the suite
/// pays in, in a currency the fixture lists as supported, is not refused up front.
pub async fn amount_offered(cx: &Cx<'_>, class: &Class, chosen: Option<Chosen>) -> Check {
    let c = class.chosen_or_skip(chosen)?;
    let amount = money(&c)?;
    let req = checkout_request(&cx.new_ref(&format!("offered_{}", class.name)), amount);
    let created = cx.f.provider().create_checkout(&req).await;
    match (cx.f.provider().check_amount(amount), created) {
        (Ok(()), _) => Ok(()),
        (Err(e), Ok(_)) => Err(fail(format!(
            "check_amount refuses {amount} ({e}), yet create_checkout takes it: payers would not be offered \
             a provider that works"
        ))),
        (Err(e), Err(_)) => Err(fail(format!(
            "check_amount refuses {amount} ({e}), an amount in a currency the fixture lists as supported"
        ))),
    }
}

/// A checkout the provider created for another amount than asked is refused.
pub async fn other_amount_refused(cx: &Cx<'_>) -> Check {
    let (_, amount) = cx.primary()?;
    if !cx.f.answer_next_checkout_with_other_amount(amount).await {
        return Err(skip("the fixture cannot make the mock create another amount"));
    }
    let req = checkout_request(&cx.new_ref("other"), amount);
    let result = cx.f.provider().create_checkout(&req).await;
    ensure!(
        result.is_err(),
        "the provider created a checkout for another amount than {amount} and the adapter accepted it: {result:?}"
    );
    Ok(())
}

/// The same request twice: the same provider id.
pub async fn same_request_twice(cx: &Cx<'_>) -> Check {
    twice(cx).await.map(|_| ())
}

/// The same request twice leaves one checkout at the provider.
pub async fn one_checkout_at_provider(cx: &Cx<'_>) -> Check {
    let payment_ref = twice(cx).await?;
    one_checkout(cx, &payment_ref).await
}

/// Sends one request twice; the provider ids must agree. Returns our payment id.
async fn twice(cx: &Cx<'_>) -> Result<String, super::Verdict> {
    let (_, amount) = cx.primary()?;
    let (req, first) = cx.checkout("twice", amount).await?;
    let second =
        cx.f.provider()
            .create_checkout(&req)
            .await
            .map_err(|e| fail(format!("the same checkout request a second time failed: {e}")))?;
    ensure!(
        first.external_id == second.external_id,
        "the same request gave provider ids {} and {}",
        first.external_id,
        second.external_id
    );
    Ok(req.payment_ref)
}

async fn one_checkout(cx: &Cx<'_>, payment_ref: &str) -> Check {
    let n =
        cx.f.checkouts_at_provider(payment_ref)
            .await
            .ok_or_else(|| skip("the fixture cannot count the mock's checkouts"))?;
    ensure!(
        n == 1,
        "the provider holds {n} checkouts for payment {payment_ref}, not one"
    );
    Ok(())
}

/// The answer to a checkout-create is lost after it took effect: the adapter's retry (or the
/// caller's, with the same request) finds the same checkout and creates no second one.
pub async fn lost_answer(cx: &Cx<'_>) -> Check {
    let (_, amount) = cx.primary()?;
    if !cx.f.lose_next_checkout_answer().await {
        return Err(skip("the fixture cannot make the mock lose an answer"));
    }
    let req = checkout_request(&cx.new_ref("lost"), amount);
    let provider = cx.f.provider();
    let first = match provider.create_checkout(&req).await {
        Ok(s) => s,
        // No retry inside the adapter: the server retries the same request.
        Err(_) => provider
            .create_checkout(&req)
            .await
            .map_err(|e| fail(format!("retrying after a lost answer failed: {e}")))?,
    };
    let again = provider
        .create_checkout(&req)
        .await
        .map_err(|e| fail(format!("the same request after a lost answer failed: {e}")))?;
    ensure!(
        first.external_id == again.external_id,
        "after a lost answer the same request gave provider ids {} and {}",
        first.external_id,
        again.external_id
    );
    one_checkout(cx, &req.payment_ref).await
}
