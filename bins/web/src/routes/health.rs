use std::time::Duration;

use actix_web::{web, HttpResponse};
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
            "backend": state.store.backend(),
            "reachable": reachable,
            "durability": state.store.durability().as_str(),
        },
        "provider": state.provider_name(),
    });
    if reachable {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}
