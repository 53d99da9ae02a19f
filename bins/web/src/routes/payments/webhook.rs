//! `POST /payments/webhook/{provider}`: the exact raw body and headers go to that provider's
//! adapter (enabled or retired). `POST /payments/webhook` serves the one enabled provider; with
//! several it is 404, naming each provider's URL.

use actix_web::{web, HttpRequest, HttpResponse};
use payments_core::{unix_now, WebhookRequest};

use payments_app::webhook::{process_webhook, WebhookReply};

use crate::error::webhook_status;
use crate::state::AppState;

/// `POST /payments/webhook`: the only enabled provider's webhook.
pub async fn receive(state: web::Data<AppState>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let enabled = state.app.providers().enabled();
    if enabled.len() != 1 {
        let urls = webhook_urls(&state, enabled.iter());
        return HttpResponse::NotFound().json(serde_json::json!({
            "result": "not_found",
            "message": format!(
                "several payment providers are enabled: each has its own webhook URL: {}",
                urls.join(", ")
            ),
            "webhook_urls": urls,
        }));
    }
    let provider = enabled[0].provider.clone();
    deliver(&state, provider, &req, body).await
}

/// `POST /payments/webhook/{provider}`.
pub async fn receive_for(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let name = path.into_inner();
    let Some(provider) = state.app.providers().get(&name).map(|p| p.provider.clone()) else {
        let known = webhook_urls(&state, state.app.providers().all());
        return HttpResponse::NotFound().json(serde_json::json!({
            "result": "not_found",
            "message": format!(
                "no payment provider {:?} here; webhook URLs: {}",
                payments_app::logsafe::bounded(&name),
                known.join(", ")
            ),
        }));
    };
    deliver(&state, provider, &req, body).await
}

/// Each provider's own webhook URL.
fn webhook_urls<'a>(
    state: &AppState,
    providers: impl Iterator<Item = &'a payments_app::ActiveProvider>,
) -> Vec<String> {
    providers
        .map(|p| {
            state
                .config
                .url(&format!("/payments/webhook/{}", p.provider.name()))
        })
        .collect()
}

async fn deliver(
    state: &AppState,
    provider: std::sync::Arc<dyn payments_core::PaymentProvider>,
    req: &HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let headers = req
        .headers()
        .iter()
        .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str().to_string(), v.to_string())))
        .collect();
    let request = WebhookRequest::new(headers, body.to_vec(), unix_now());
    let started = std::time::Instant::now();
    let reply = process_webhook(&state.app, &provider, request).await;
    state.app.metrics().webhook(
        provider.name(),
        &reply.result,
        webhook_status(reply.answer).as_u16(),
        started.elapsed(),
    );
    respond(reply)
}

pub fn respond(reply: WebhookReply) -> HttpResponse {
    // Refusals are audited and logged per kind and minute (see `refusals`), not per request.
    let quiet = reply.result == "refused";
    let mut response = HttpResponse::build(webhook_status(reply.answer));
    if let Some(secs) = reply.retry_after {
        response.insert_header(("Retry-After", secs.to_string()));
    }
    let mut resp = response.json(reply);
    if quiet {
        resp.extensions_mut().insert(crate::access_log::Quiet);
    }
    resp
}
