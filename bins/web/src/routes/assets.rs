//! The stylesheet, the icon and the two scripts, embedded in the binary.

use actix_web::HttpResponse;

use crate::templates::{CSS, FAVICON, THANKS_JS, USAGE_JS};

pub async fn css() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .body(CSS)
}

pub async fn favicon() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("image/x-icon")
        .insert_header(("Cache-Control", "public, max-age=86400"))
        .body(FAVICON)
}

pub async fn thanks_js() -> HttpResponse {
    script(THANKS_JS)
}

pub async fn usage_js() -> HttpResponse {
    script(USAGE_JS)
}

fn script(body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .body(body)
}
