//! Every variable the server itself reads, with what it means (for `web --help`; the
//! application layer lists its own in `payments_app::settings::VARIABLES`, each adapter in its
//! `Adapter::VARIABLES`).

/// The server's own variables.
pub const VARIABLES: &[(&str, &str)] = &[
    (
        "PAYMENT_PROVIDER",
        "payment provider (default dummy): one of those compiled in, listed below",
    ),
    (
        "PAYMENT_PROVIDERS",
        "several providers at once, in the order payers are offered them, e.g. omise,stripe,paypal \
         (instead of PAYMENT_PROVIDER); each has its webhook URL /payments/webhook/NAME",
    ),
    (
        "PAYMENT_ROUTING",
        "optional: which providers a receipt's currency is offered, in order, e.g. THB:omise,*:stripe",
    ),
    (
        "DATABASE_URL",
        "sqlite://data/app.db (default) or postgres://user:pass@host/db",
    ),
    (
        "DB_DURABILITY",
        "durable (default): answer a webhook only after its commit is on stable storage; \
         relaxed: faster, but a power cut or OS crash can LOSE PAYMENTS ALREADY ACKNOWLEDGED to the provider",
    ),
    ("BIND_ADDR", "address to listen on (default 127.0.0.1:8000)"),
    (
        "SESSION_SECRET",
        "at least 32 characters; signs and encrypts the session cookie",
    ),
    ("LOG_DIR", "folder of app.log (default log)"),
    ("LOG_FORMAT", "text (default) or json: one JSON object a log line"),
    (
        "BODY_TIMEOUT",
        "seconds a request body may take to arrive (default 10; headers: 5)",
    ),
    (
        "TRUSTED_PROXIES",
        "reverse proxies (IP addresses, comma-separated) whose X-Forwarded-For names the client; default none",
    ),
    (
        "METRICS_TOKEN",
        "enables GET /metrics (Prometheus) for `Authorization: Bearer <token>`; 24+ random characters",
    ),
    (
        "MAX_CONNECTIONS",
        "open connections per worker thread (default 256); more wait in the listen queue",
    ),
];
