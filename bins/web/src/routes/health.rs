use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::state::AppState;

/// `GET /healthz`: 200 when the database answers, 503 otherwise.
pub async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    let reachable = state.db(|s| s.ping()).await.is_ok();
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
