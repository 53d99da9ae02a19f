//! `POST /payments/webhook`: the exact raw body and headers go to the active adapter.

use actix_web::{web, HttpRequest, HttpResponse};
use payments_core::{unix_now, WebhookRequest};

use payments_app::webhook::{process_webhook, WebhookReply};

use crate::error::webhook_status;
use crate::state::AppState;

pub async fn receive(state: web::Data<AppState>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let headers = req
        .headers()
        .iter()
        .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str().to_string(), v.to_string())))
        .collect();
    let request = WebhookRequest::new(headers, body.to_vec(), unix_now());
    let started = std::time::Instant::now();
    let reply = process_webhook(&state.app, request).await;
    state.app.metrics().webhook(
        state.provider_name(),
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
