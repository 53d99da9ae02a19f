//! `/healthz` (is the database reachable) and `/metrics` (the counters) for operators.

use std::time::Duration;

use actix_web::{web, HttpRequest, HttpResponse};
use payments_app::accounts::constant_time_eq;
use serde_json::json;

use crate::state::AppState;

/// How long `/healthz` waits for a pooled connection; the whole check gives up a little later.
pub const HEALTH_TIMEOUT: Duration = Duration::from_secs(1);

/// `GET /healthz`: 200 when the database answers within [`HEALTH_TIMEOUT`], 503 otherwise.
pub async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    let ping = state.db(|s| s.ping_within(HEALTH_TIMEOUT));
    let reachable = matches!(
        actix_web::rt::time::timeout(HEALTH_TIMEOUT * 2, ping).await,
        Ok(Ok(()))
    );
    let body = json!({
        "status": if reachable { "ok" } else { "unavailable" },
        "database": {
            "backend": state.store().backend(),
            "reachable": reachable,
            "durability": state.store().durability().as_str(),
        },
        "provider": state.provider_names()[0],
        "providers": state.provider_names(),
    });
    if reachable {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

/// `GET /metrics`: the process's counters in the Prometheus text format, only with
/// `METRICS_TOKEN` set and only for `Authorization: Bearer <METRICS_TOKEN>` (else 404).
pub async fn metrics(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let Some(token) = state.config.metrics_token.as_deref() else {
        return HttpResponse::NotFound().finish();
    };
    let sent = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if !constant_time_eq(sent.as_bytes(), token.as_bytes()) {
        return HttpResponse::NotFound().finish();
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.app.metrics_text())
}
