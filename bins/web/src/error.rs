//! The one place where errors become HTTP responses.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use payments_app::logsafe::clean;
use payments_app::webhook::Answer;
use payments_core::ProviderError;
use payments_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,
    #[error("please log in")]
    LoginRequired,
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// A form whose CSRF token is missing or is not this session's (an old tab, an expired
    /// session, or a forged cross-site post).
    #[error("missing or invalid CSRF token; reload the page and try again")]
    Csrf,
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Conflict(String),
    /// What the application layer (and the store and the provider under it) failed with.
    #[error(transparent)]
    App(#[from] payments_app::Error),
    #[error("internal error: {0}")]
    Internal(String),
    /// Text no store may hold (a NUL character in a filter, a form field, a payment id): refused
    /// the same way on every backend, nothing changed.
    #[error(transparent)]
    Nul(#[from] payments_core::NulText),
    /// Refused by a rate limit; the client may try again after `retry_after` seconds.
    #[error("{message}; try again in {retry_after} s")]
    TooMany { message: String, retry_after: u64 },
}

impl AppError {
    pub fn internal(e: impl std::fmt::Display) -> Self {
        AppError::Internal(e.to_string())
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        AppError::App(e.into())
    }
}

impl From<ProviderError> for AppError {
    fn from(e: ProviderError) -> Self {
        AppError::App(e.into())
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
            AppError::Forbidden(_) | AppError::Csrf => StatusCode::FORBIDDEN,
            AppError::BadRequest(_) | AppError::Nul(_) => StatusCode::BAD_REQUEST,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::App(e) => app_status(e),
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
        let text = clean(&self.to_string(), 400);
        if status.is_server_error() {
            tracing::error!(error = %text, "request failed");
        } else {
            tracing::info!(error = %text, status = status.as_u16(), "request refused");
        }
        let message = match self {
            // Do not leak internals to browsers; the log has the details.
            AppError::Internal(_) | AppError::App(payments_app::Error::Internal(_)) => {
                "Something went wrong on our side; the error was logged.".to_string()
            }
            AppError::App(payments_app::Error::Store(e)) if e.is_transient() => {
                "The database is unavailable right now; please try again shortly.".to_string()
            }
            // Nor a provider's or the database's wording: payers get a short message.
            _ if status.is_server_error() => {
                "Something went wrong on our side; the error was logged.".to_string()
            }
            _ => text,
        };
        let mut resp = HttpResponse::build(status);
        if let AppError::TooMany { retry_after, .. } = self {
            resp.insert_header(("Retry-After", retry_after.to_string()));
        }
        // A bare page for clients that never pass the page middleware; [`error_pages`] renders
        // the full one from the `ErrorPage` left on the response.
        let mut resp = resp
            .content_type("text/html; charset=utf-8")
            .body(bare_page(status, &message));
        resp.extensions_mut().insert(ErrorPage {
            message,
            csrf: matches!(self, AppError::Csrf),
        });
        resp
    }
}

/// What an [`AppError`] response says, kept on the response for `routes::error_pages`.
#[derive(Debug, Clone)]
pub struct ErrorPage {
    /// Shown to the user: escaped by the template, already cleaned of internals.
    pub message: String,
    /// The CSRF check refused the form.
    pub csrf: bool,
}

fn bare_page(status: StatusCode, message: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{code}</title>\
         <link rel=\"stylesheet\" href=\"/static/app.css\"></head><body><main class=\"error\">\
         <h1>{code} {reason}</h1><p>{msg}</p><p><a href=\"/me\">Back to My Usage</a></p></main></body></html>",
        code = status.as_u16(),
        reason = status.canonical_reason().unwrap_or(""),
        msg = html_escape(message),
    )
}

/// The application's typed errors as HTTP statuses: what cannot be done now is 409, unusable
/// input 400, the store's errors by kind, a provider's refusal of the amount 422 and any other
/// provider failure 502.
fn app_status(e: &payments_app::Error) -> StatusCode {
    use payments_app::Error;
    match e {
        Error::Conflict(_) => StatusCode::CONFLICT,
        Error::Invalid(_) => StatusCode::BAD_REQUEST,
        Error::Store(e) => store_status(e),
        Error::Provider(ProviderError::AmountRefused(_) | ProviderError::Amount(_)) => {
            StatusCode::UNPROCESSABLE_ENTITY
        }
        Error::Provider(_) => StatusCode::BAD_GATEWAY,
        Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
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

/// The HTTP status of a webhook's answer: the sender's fault is 4xx (no retry helps), what may
/// pass (a full queue, the database or the provider out of reach) is 503 and the provider
/// delivers again later.
pub fn webhook_status(answer: Answer) -> StatusCode {
    match answer {
        Answer::Processed => StatusCode::OK,
        Answer::Refused => StatusCode::BAD_REQUEST,
        Answer::Mismatch => StatusCode::CONFLICT,
        Answer::UnknownPayment => StatusCode::UNPROCESSABLE_ENTITY,
        Answer::RetryLater => StatusCode::SERVICE_UNAVAILABLE,
        Answer::Failed => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

pub fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#x27;")
}
