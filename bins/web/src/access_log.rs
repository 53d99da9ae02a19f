//! One access-log line per request, with the client-supplied request target escaped and
//! bounded (see `logsafe`), secret query values and the metrics token redacted (see `redact`).
//! A handler can mark its response [`Quiet`] when the request was already accounted for in an
//! aggregated form (refused webhooks), so junk cannot grow the log.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage};

use payments_app::logsafe::bounded;

use crate::redact;
use crate::state::AppState;

/// Marks a response whose request must not get its own access-log line.
#[derive(Debug, Clone, Copy)]
pub struct Quiet;

/// The request's id, kept on the request for pages that show it (error pages quote it as the
/// reference to give support).
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// The request's id: the one a proxy sent in `X-Request-Id` when it is short and plain, else a
/// new random one. Every log line of the request carries it (a tracing span) and so does the
/// response.
fn request_id(req: &ServiceRequest, metrics_token: Option<&str>) -> String {
    let sent = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 64)
        .filter(|v| v.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)))
        .filter(|v| metrics_token.is_none_or(|t| t.is_empty() || !v.contains(t)));
    match sent {
        Some(id) => id.to_string(),
        None => payments_app::random_token(8).unwrap_or_else(|_| "-".into()),
    }
}

pub async fn access_log(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    use tracing::Instrument;
    let token = metrics_token(&req);
    let id = request_id(&req, token.as_deref());
    req.extensions_mut().insert(RequestId(id.clone()));
    let span = tracing::info_span!("request", id = %id);
    let mut result = logged(req, next, token).instrument(span).await;
    if let (Ok(res), Ok(value)) = (&mut result, HeaderValue::from_str(&id)) {
        res.headers_mut()
            .insert(HeaderName::from_static("x-request-id"), value);
    }
    result
}

/// The metrics token, when `/metrics` is enabled: it is never logged, whatever carries it.
fn metrics_token(req: &ServiceRequest) -> Option<String> {
    req.app_data::<web::Data<AppState>>()
        .and_then(|state| state.config.metrics_token.clone())
}

async fn logged<B: MessageBody>(
    req: ServiceRequest,
    next: Next<B>,
    token: Option<String>,
) -> Result<ServiceResponse<B>, actix_web::Error> {
    let start = Instant::now();
    let peer = req.peer_addr().map_or_else(|| "-".to_string(), |a| a.to_string());
    let target = redact::request_target(req.uri().path(), req.uri().query(), token.as_deref());
    let line = format!("{} {}", req.method(), bounded(&target));
    let result = next.call(req).await;
    let ms = start.elapsed().as_millis();
    match &result {
        Ok(res) => {
            if res.request().extensions().get::<Quiet>().is_none()
                && res.response().extensions().get::<Quiet>().is_none()
            {
                tracing::info!(target: "access", "{peer} \"{line}\" {} {ms}ms", res.status().as_u16());
            }
        }
        Err(e) => {
            tracing::info!(target: "access", "{peer} \"{line}\" error {} {ms}ms", bounded(&e.to_string()))
        }
    }
    result
}
