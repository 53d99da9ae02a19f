//! Every error page (4xx, 5xx) for people, in the site's layout: the middleware that renders
//! them from what `crate::error` left on the response.

use actix_session::SessionExt;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, StatusCode};
use actix_web::middleware::Next;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use payments_app::logsafe::clean;

use super::page::page_context;
use crate::access_log::RequestId;
use crate::auth::CurrentUser;
use crate::error::{AppError, ErrorPage};
use crate::state::AppState;

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
                .map(|e| clean(&e.to_string(), 200))
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
    let mut ctx = page_context(&state, &session, user.as_ref())?;
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
    let reference = req.extensions().get::<RequestId>().map(|r| r.0.clone());
    ctx.insert("reference", &reference);
    ctx.insert("status", &status.as_u16());
    ctx.insert("heading", heading);
    ctx.insert("message", &message);
    ctx.insert("what_to_do", what_to_do);
    state.templates.render("error.html", &ctx)
}
