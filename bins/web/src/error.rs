//! The one place where errors become HTTP responses.

use actix_session::SessionExt;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, StatusCode};
use actix_web::middleware::Next;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError};
use payments_core::{ProviderError, WebhookError};
use payments_store::StoreError;

use crate::auth::CurrentUser;
use crate::ingest::IngestError;
use crate::state::AppState;

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
            AppError::Forbidden(_) | AppError::Csrf => StatusCode::FORBIDDEN,
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

/// What an [`AppError`] response says, kept on the response for [`error_pages`].
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

/// Every error page (4xx, 5xx) in the site's layout, with the navigation of whoever is logged
/// in, a heading, what went wrong and what to do next. Wraps the routes inside the session
/// middleware. Pages a handler rendered itself (an HTML body without [`ErrorPage`]) and the
/// machine endpoints (webhook, status JSON, metrics, health) are left as they are.
pub async fn error_pages(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let machine = is_machine_path(req.path());
    let res = next.call(req).await?;
    let status = res.status();
    if machine || !(status.is_client_error() || status.is_server_error()) {
        return Ok(res.map_into_left_body());
    }
    let page = res.response().extensions().get::<ErrorPage>().cloned();
    let handler_page = page.is_none()
        && res
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("text/html"));
    if handler_page {
        return Ok(res.map_into_left_body());
    }
    // actix's own refusals (no route, wrong method, an unreadable path or query) carry their
    // reason as the response's error.
    let (message, csrf) = match page {
        Some(p) => (p.message, p.csrf),
        None => (
            res.response()
                .error()
                .map(|e| crate::logsafe::clean(&e.to_string(), 200))
                .unwrap_or_default(),
            false,
        ),
    };
    let (http_req, res) = res.into_parts();
    match render_error_page(&http_req, status, &message, csrf).await {
        Ok(body) => {
            let mut res = res.set_body(body).map_into_boxed_body();
            res.headers_mut().insert(
                header::CONTENT_TYPE,
                header::HeaderValue::from_static("text/html; charset=utf-8"),
            );
            Ok(ServiceResponse::new(http_req, res).map_into_right_body())
        }
        Err(e) => {
            tracing::error!(error = %e, "could not render the error page");
            Ok(ServiceResponse::new(http_req, res).map_into_left_body())
        }
    }
}

/// Paths answered to programs, not people: their errors keep their own bodies.
fn is_machine_path(path: &str) -> bool {
    path == "/payments/webhook"
        || path == "/metrics"
        || path == "/healthz"
        || (path.starts_with("/payments/") && path.ends_with("/status"))
}

/// The heading, and the sentence saying what to do, for each kind of error page.
fn advice(status: StatusCode, csrf: bool) -> (&'static str, &'static str) {
    match status.as_u16() {
        400 => (
            "This request could not be used",
            "Go back, correct what the message above names, and send it again.",
        ),
        403 if csrf => (
            "This form has expired",
            "Forms only work from a page opened in your current session. Go back, reload the page \
             (you may need to fill the form in again) and send it again.",
        ),
        403 => (
            "Not allowed",
            "Your account may not do this. If you think it should, ask an administrator.",
        ),
        404 => (
            "Page not found",
            "Check the address, or go to My Usage and follow the links from there.",
        ),
        405 => (
            "That does not work here",
            "Use the buttons and links of the site's pages rather than typing this address.",
        ),
        409 => (
            "This cannot be done now",
            "The receipt or payment has changed since the page was loaded. Open it again to see \
             where it stands.",
        ),
        413 => (
            "Too much was sent",
            "Send less at once, for example by selecting fewer records.",
        ),
        422 => (
            "This cannot be done",
            "The message above says why. Go back and choose something else, or contact support.",
        ),
        429 => (
            "Too many attempts",
            "Wait for the time named above, then try again.",
        ),
        503 => (
            "Temporarily unavailable",
            "Nothing was lost. Please try again in a minute; if it keeps happening, contact support.",
        ),
        code if code >= 500 => (
            "Something went wrong on our side",
            "Please try again in a few minutes; if it keeps happening, contact support and give \
             them the reference below.",
        ),
        _ => (
            "This request could not be completed",
            "Go back and try again, or go to My Usage.",
        ),
    }
}

/// What an error page says when the error brought no message of its own.
fn default_message(status: StatusCode) -> &'static str {
    match status.as_u16() {
        404 => "There is no page at this address, or it is not one you may see.",
        405 => "This address does not take that kind of request.",
        code if code >= 500 => "Something went wrong on our side.",
        _ => "The request could not be completed.",
    }
}

/// "missing field" → "Missing field." (messages are written for logs, pages show sentences).
fn as_sentence(message: &str) -> String {
    let message = message.trim();
    let mut chars = message.chars();
    let mut out: String = match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => return String::new(),
    };
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

async fn render_error_page(
    req: &HttpRequest,
    status: StatusCode,
    message: &str,
    csrf: bool,
) -> Result<String, AppError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| AppError::internal("no state"))?;
    let session = req.get_session();
    // Whoever is logged in keeps their navigation; a database that is down leaves it out.
    let user = CurrentUser::extract(req).await.ok();
    let mut ctx = crate::routes::page_context(&state, &session, user.as_ref())?;
    let (heading, mut what_to_do) = advice(status, csrf);
    if user.is_none() && status == StatusCode::NOT_FOUND {
        what_to_do = "Check the address, or log in and follow the links from there.";
    }
    let message = match status {
        StatusCode::NOT_FOUND => default_message(status).to_string(),
        _ if csrf => "The form was sent from a page that is too old (or from another site), so \
                      nothing was done."
            .to_string(),
        // The heading says what happened; the log has the details.
        _ if status.is_server_error() && status != StatusCode::SERVICE_UNAVAILABLE => {
            "Your request was not completed, and the error was logged.".to_string()
        }
        _ if message.is_empty() => default_message(status).to_string(),
        _ => as_sentence(message.trim_start_matches("forbidden: ")),
    };
    // The id every log line of this request carries: what support needs to find it.
    let reference = req
        .extensions()
        .get::<crate::access_log::RequestId>()
        .map(|r| r.0.clone());
    ctx.insert("reference", &reference);
    ctx.insert("status", &status.as_u16());
    ctx.insert("heading", heading);
    ctx.insert("message", &message);
    ctx.insert("what_to_do", what_to_do);
    state.templates.render("error.html", &ctx)
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
