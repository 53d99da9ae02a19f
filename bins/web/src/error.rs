//! The one place where errors become HTTP responses.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use payments_core::{ProviderError, WebhookError};
use payments_store::StoreError;

use crate::ingest::IngestError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,
    #[error("please log in")]
    LoginRequired,
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("the payment provider failed: {0}")]
    Provider(#[from] ProviderError),
    #[error("internal error: {0}")]
    Internal(String),
    /// Refused by a rate limit; the client may try again after `retry_after` seconds.
    #[error("{message}; try again in {retry_after} s")]
    TooMany { message: String, retry_after: u64 },
}

impl AppError {
    pub fn internal(e: impl std::fmt::Display) -> Self {
        AppError::Internal(e.to_string())
    }
}

impl From<actix_web::error::BlockingError> for AppError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        AppError::Internal(e.to_string())
    }
}

impl From<tera::Error> for AppError {
    fn from(e: tera::Error) -> Self {
        // tera's Display hides the cause chain.
        let mut msg = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            msg.push_str(": ");
            msg.push_str(&s.to_string());
            source = s.source();
        }
        AppError::Internal(msg)
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::LoginRequired => StatusCode::SEE_OTHER,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::Store(e) => store_status(e),
            AppError::Provider(ProviderError::Unavailable { .. }) => StatusCode::BAD_GATEWAY,
            AppError::Provider(ProviderError::AmountRefused(_) | ProviderError::Amount(_)) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            AppError::Provider(_) => StatusCode::BAD_GATEWAY,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            AppError::TooMany { .. } => StatusCode::TOO_MANY_REQUESTS,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if let AppError::LoginRequired = self {
            return HttpResponse::SeeOther()
                .insert_header(("Location", "/login"))
                .finish();
        }
        // Messages can quote what a client sent: escaped and bounded before they are logged or
        // echoed.
        let text = crate::logsafe::clean(&self.to_string(), 400);
        if status.is_server_error() {
            tracing::error!(error = %text, "request failed");
        } else {
            tracing::info!(error = %text, status = status.as_u16(), "request refused");
        }
        let message = match self {
            // Do not leak internals to browsers; the log has the details.
            AppError::Internal(_) => "Something went wrong on our side; the error was logged.".to_string(),
            AppError::Store(e) if e.is_transient() => {
                "The database is unavailable right now; please try again shortly.".to_string()
            }
            _ => text,
        };
        let mut resp = HttpResponse::build(status);
        if let AppError::TooMany { retry_after, .. } = self {
            resp.insert_header(("Retry-After", retry_after.to_string()));
        }
        resp.content_type("text/html; charset=utf-8")
            .body(format!(
                "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
                 <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{code}</title>\
                 <link rel=\"stylesheet\" href=\"/static/app.css\"></head><body><main class=\"error\">\
                 <h1>{code} {reason}</h1><p>{msg}</p><p><a href=\"/me\">Back to My Usage</a></p></main></body></html>",
                code = status.as_u16(),
                reason = status.canonical_reason().unwrap_or(""),
                msg = html_escape(&message),
            ))
    }
}

fn store_status(e: &StoreError) -> StatusCode {
    match e {
        e if e.is_transient() => StatusCode::SERVICE_UNAVAILABLE,
        StoreError::NotFound(_) => StatusCode::NOT_FOUND,
        StoreError::Conflict(_) | StoreError::ReceiptNotPayable { .. } => StatusCode::CONFLICT,
        StoreError::Invalid(_) | StoreError::Rejected(_) => StatusCode::BAD_REQUEST,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The HTTP status a refused webhook gets: the sender's fault is 4xx (no retry helps), not
/// being able to verify right now is 503 (the provider retries).
pub fn webhook_error_status(e: &WebhookError) -> StatusCode {
    match e {
        WebhookError::Upstream(_) => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::BAD_REQUEST,
    }
}

/// The HTTP status of a store failure while processing a webhook.
pub fn webhook_store_status(e: &StoreError) -> StatusCode {
    if e.is_transient() {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    }
}

/// The HTTP status of a verified webhook the store gave no outcome for: a full queue, a stopped
/// writer or a transient database failure is 503 (the provider delivers again later).
pub fn webhook_ingest_status(e: &IngestError) -> StatusCode {
    match e {
        IngestError::QueueFull { .. } | IngestError::WriterStopped => StatusCode::SERVICE_UNAVAILABLE,
        IngestError::Store(e) => webhook_store_status(e),
    }
}

pub fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#x27;")
}
