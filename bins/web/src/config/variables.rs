//! Every variable the server reads, with what it means (for `web --help`).

/// Every variable the server itself reads, for `web --help` (adapters list their own through
/// `payments_core::Adapter::VARIABLES`, see `registry::variables`).
pub const VARIABLES: &[(&str, &str)] = &[
    (
        "PAYMENT_PROVIDER",
        "payment provider (default dummy): one of those compiled in, listed below",
    ),
    (
        "PAYMENT_CURRENCY",
        "ISO 4217 currency of usage costs and receipts (default THB)",
    ),
    (
        "SITE_BASE_URL",
        "public base URL browsers and providers are sent to (default: the address the server listens on)",
    ),
    (
        "PAYMENT_SUCCESS_PATH",
        "where the provider sends the payer after paying (default /payments/thanks)",
    ),
    (
        "PAYMENT_CANCEL_PATH",
        "where the provider sends the payer after cancelling (default /me)",
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
    (
        "WEBHOOK_QUEUE_LIMIT",
        "verified webhook events waiting for the database writer, at most (default 1024)",
    ),
    (
        "WEBHOOK_WRITERS",
        "database writers taking webhook batches from the queue (default 1 on SQLite, which has one write lock; 2 on PostgreSQL, to overlap round trips)",
    ),
    (
        "WEBHOOK_QUEUE_WAIT_MS",
        "how long a webhook waits for room in a full queue before it gets 503 + Retry-After (default 2000)",
    ),
    ("BIND_ADDR", "address to listen on (default 127.0.0.1:8000)"),
    (
        "SESSION_SECRET",
        "at least 32 characters; signs and encrypts the session cookie",
    ),
    ("LOG_DIR", "folder of app.log (default log)"),
    ("LOG_FORMAT", "text (default) or json: one JSON object a log line"),
    (
        "RATE_CPU_CORE_HOUR",
        "price of one CPU core-hour in minor units (default 100)",
    ),
    (
        "RATE_GPU_HOUR",
        "price of one GPU-hour in minor units (default 5000)",
    ),
    (
        "BODY_TIMEOUT",
        "seconds a request body may take to arrive (default 10; headers: 5)",
    ),
    (
        "METRICS_TOKEN",
        "enables GET /metrics (Prometheus) for `Authorization: Bearer <token>`; 24+ random characters",
    ),
    (
        "MAX_CONNECTIONS",
        "open connections per worker thread (default 256); more wait in the listen queue",
    ),
    (
        "RECONCILE_INTERVAL_SECS",
        "seconds between reconciliation cycles of `web serve` (default 60; 0: no background task, `web reconcile` still works)",
    ),
    (
        "RECONCILE_AFTER_SECS",
        "an open payment this old (and every RECONCILE_AFTER_SECS after) is looked up at the provider (default 900)",
    ),
    (
        "CHECKOUT_LIFETIME_SECS",
        "an unpaid checkout is expired after this long, here and (where the provider takes it) at the provider (default 86400)",
    ),
    (
        "RECONCILE_RATE",
        "provider look-ups per second per provider and server instance, at most (default 5)",
    ),
    (
        "ISSUER_NAME",
        "the organisation receipts are issued by, as printed on them (at most 120 characters)",
    ),
    (
        "ISSUER_ADDRESS",
        "its postal address on receipts: lines separated by \\n or line breaks (at most 8 lines of 120 characters)",
    ),
    (
        "ISSUER_TAX_ID",
        "its tax id on receipts (VAT, TIN, ...): letters, digits, spaces and -./ (at most 40 characters)",
    ),
];
