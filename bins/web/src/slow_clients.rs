//! Slow clients: a request body must arrive within the body timeout, or the request fails (and
//! the connection is closed) instead of holding a socket for ever. Header reading is bounded by
//! actix's `client_request_timeout`, connections per worker by `max_connections` (see `app`).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::HttpMessage;
use futures_core::Stream;

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// A request body that fails once its deadline has passed.
struct Deadline {
    inner: Payload,
    timer: Pin<Box<actix_web::rt::time::Sleep>>,
}

impl Stream for Deadline {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.timer.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Some(Err(PayloadError::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the request body did not arrive in time",
            )))));
        }
        Pin::new(&mut self.inner).poll_next(cx)
    }
}

/// The middleware: every request body gets `BODY_TIMEOUT` from the end of its headers.
pub async fn body_deadline(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let timeout = req
        .app_data::<actix_web::web::Data<crate::state::AppState>>()
        .map_or(DEFAULT_TIMEOUT, |s| s.config.body_timeout);
    let inner = req.take_payload();
    let timed = Deadline {
        inner,
        timer: Box::pin(actix_web::rt::time::sleep(timeout)),
    };
    req.set_payload(Payload::from(
        Box::pin(timed) as Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>>
    ));
    next.call(req).await
}
