//! The HTTP server: middleware, sessions, routes, and the background tasks of `web serve`.

use std::net::TcpListener;

use actix_session::config::{CookieContentSecurity, PersistentSession};
use actix_session::SessionMiddleware;
use actix_web::cookie::{time::Duration as CookieDuration, Key, SameSite};
use actix_web::dev::Server;
use actix_web::{middleware, web, App, HttpServer};

use crate::routes;
use crate::state::AppState;

/// `MAX_CONNECTIONS` per worker, lowered so that all workers together stay 100 below the
/// process's open-file limit (read from `/proc/self/limits` where there is one): past that
/// limit accepting fails and nobody, `/healthz` included, gets in.
pub fn connection_cap(configured: usize, workers: usize) -> usize {
    let soft_limit = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3))
                .and_then(|n| n.parse::<usize>().ok())
        });
    match soft_limit {
        Some(limit) => {
            let budget = limit.saturating_sub(100) / workers.max(1);
            let cap = configured.min(budget.max(16));
            if cap < configured {
                tracing::warn!(
                    "MAX_CONNECTIONS lowered from {configured} to {cap} per worker: the open-file limit is {limit} \
                     for {workers} workers (raise it with `ulimit -n` or LimitNOFILE=)"
                );
            }
            cap
        }
        None => configured,
    }
}

/// Every response's policy: scripts, styles, images and fetches from this site only, no inline
/// script or style, no plugins, no framing; forms post here, or to an https provider checkout
/// after a redirect.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self' https:; frame-ancestors 'none'";

/// The HTTP server on an already bound listener (tests bind 127.0.0.1:0).
pub fn server(state: AppState, listener: TcpListener, workers: usize) -> std::io::Result<Server> {
    let secret = state.config.session_secret.clone().unwrap_or_default();
    let key = Key::derive_from(secret.as_bytes());
    let secure = state.config.secure_cookies();
    let thanks_path = state.config.app.success_path.clone();
    let max_connections = connection_cap(state.config.max_connections, workers);
    let sessions = crate::sessions::DbSessionStore::new(state.store().clone());
    let data = web::Data::new(state);
    // Every 10 s: counted webhook refusals are audited once their minute is over, the login
    // limiters forget idle keys, the receipts' pending sums are folded; every minute, ended
    // sessions are deleted.
    let flusher = data.clone();
    actix_web::rt::spawn(async move {
        let mut tick = actix_web::rt::time::interval(std::time::Duration::from_secs(10));
        for round in 0u64.. {
            tick.tick().await;
            payments_app::webhook::flush_refusals(&flusher.app).await;
            flusher.login_guard.tidy();
            // PostgreSQL: the receipts' sums take in what the triggers left pending.
            if let Err(e) = flusher.db(|s| s.fold_receipt_sums()).await {
                tracing::warn!(error = %e, "could not fold the receipts' pending sums");
            }
            if round % 6 != 0 {
                continue;
            }
            let now = payments_core::unix_now();
            let idle = i64::try_from(crate::sessions::IDLE.as_secs()).unwrap_or(1800);
            if let Err(e) = flusher
                .db(move |s| s.delete_stale_sessions(now, now - idle))
                .await
            {
                tracing::warn!(error = %e, "could not delete ended sessions");
            }
        }
    });
    // Reconciliation: a cycle every RECONCILE_INTERVAL_SECS (none when it is 0).
    actix_web::rt::spawn(payments_app::reconcile::run_forever(data.app.clone()));
    Ok(HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(web::FormConfig::default().limit(64 * 1024))
            // Inside the session middleware: error pages show who is logged in.
            .wrap(middleware::from_fn(routes::error_pages::error_pages))
            .wrap(
                SessionMiddleware::builder(sessions.clone(), key.clone())
                    .cookie_name("portal_session".into())
                    .cookie_secure(secure)
                    .cookie_http_only(true)
                    .cookie_same_site(SameSite::Lax)
                    .cookie_content_security(CookieContentSecurity::Private)
                    .session_lifecycle(PersistentSession::default().session_ttl(CookieDuration::seconds(
                        i64::try_from(crate::sessions::ABSOLUTE.as_secs()).unwrap_or(43_200),
                    )))
                    .build(),
            )
            .wrap(
                // Added where a handler set none: pages are never cached (static files say
                // otherwise), no inline script or style runs, nothing frames the site.
                middleware::DefaultHeaders::new()
                    .add(("Content-Security-Policy", CONTENT_SECURITY_POLICY))
                    .add(("Cache-Control", "no-store"))
                    .add(("X-Frame-Options", "DENY"))
                    .add(("X-Content-Type-Options", "nosniff"))
                    .add(("Referrer-Policy", "same-origin")),
            )
            .wrap(middleware::from_fn(crate::slow_clients::body_deadline))
            .wrap(middleware::from_fn(crate::access_log::access_log))
            .service(routes::configure_thanks(&thanks_path))
            .configure(routes::configure)
            .default_service(web::to(routes::not_found))
    })
    .workers(workers)
    // Slow clients: headers within 5 s, bodies within BODY_TIMEOUT (the middleware above), a
    // second to close; at most MAX_CONNECTIONS open per worker (more wait in the listen queue).
    .client_request_timeout(std::time::Duration::from_secs(5))
    .client_disconnect_timeout(std::time::Duration::from_secs(1))
    .keep_alive(std::time::Duration::from_secs(15))
    .max_connections(max_connections)
    // Bodies streamed in chunks (a receipt's PDF, the receipts CSV) end with a small write that
    // Nagle's algorithm would hold back until the client's delayed ACK (40 ms on Linux).
    .tcp_nodelay(true)
    .max_connection_rate(256)
    .backlog(2048)
    .listen(listener)?
    .run())
}
