//! Diesel table definitions, shared by both backends (see `migrations/sqlite` and
//! `migrations/postgres` at the workspace root).

diesel::table! {
    users (id) {
        id -> BigInt,
        username -> Text,
        password_hash -> Text,
        role -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    receipts (id) {
        id -> BigInt,
        user_id -> BigInt,
        currency -> Text,
        total_minor -> BigInt,
        status -> Text,
        created_at -> BigInt,
        paid_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    usage_records (id) {
        id -> BigInt,
        user_id -> BigInt,
        job_id -> Text,
        description -> Text,
        cpu_core_seconds -> BigInt,
        gpu_seconds -> BigInt,
        ended_at -> BigInt,
        cost_minor -> BigInt,
        currency -> Text,
        receipt_id -> Nullable<BigInt>,
        created_at -> BigInt,
    }
}

diesel::table! {
    payments (id) {
        id -> BigInt,
        public_id -> Text,
        receipt_id -> BigInt,
        provider -> Text,
        external_id -> Nullable<Text>,
        idempotency_key -> Text,
        amount_minor -> BigInt,
        currency -> Text,
        status -> Text,
        checkout_url -> Nullable<Text>,
        created_at -> BigInt,
        updated_at -> BigInt,
        refunded_minor -> BigInt,
        reconcile_owner -> Nullable<Text>,
        reconcile_lease_until -> Nullable<BigInt>,
        second_payment -> Bool,
    }
}

diesel::table! {
    payment_events (id) {
        id -> BigInt,
        provider -> Text,
        external_event_id -> Text,
        payment_id -> Nullable<BigInt>,
        event_type -> Text,
        kind -> Text,
        signature -> Text,
        raw_payload -> Text,
        outcome -> Nullable<Text>,
        received_at -> BigInt,
        processed_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    audit_log (id) {
        id -> BigInt,
        created_at -> BigInt,
        actor -> Text,
        action -> Text,
        subject -> Text,
        receipt_id -> Nullable<BigInt>,
        payment_id -> Nullable<BigInt>,
        detail -> Text,
    }
}

diesel::table! {
    sessions (id_hash) {
        id_hash -> Text,
        user_id -> BigInt,
        state -> Text,
        created_at -> BigInt,
        last_seen_at -> BigInt,
        expires_at -> BigInt,
    }
}

diesel::table! {
    payment_references (provider, reference) {
        provider -> Text,
        reference -> Text,
        payment_id -> BigInt,
        created_at -> BigInt,
    }
}

diesel::table! {
    refunds (id) {
        id -> BigInt,
        payment_id -> BigInt,
        provider -> Text,
        seq -> Nullable<BigInt>,
        idempotency_key -> Nullable<Text>,
        external_id -> Nullable<Text>,
        amount_minor -> BigInt,
        currency -> Text,
        status -> Text,
        origin -> Text,
        reason -> Text,
        requested_by -> Text,
        error -> Nullable<Text>,
        created_at -> BigInt,
        updated_at -> BigInt,
        request_token -> Nullable<Text>,
    }
}

diesel::table! {
    /// What the payer is told about a refund (its reason is for admins only).
    refund_notes (refund_id) {
        refund_id -> BigInt,
        note -> Text,
    }
}

diesel::table! {
    disputes (id) {
        id -> BigInt,
        payment_id -> BigInt,
        provider -> Text,
        event_id -> Text,
        event_type -> Text,
        amount_minor -> Nullable<BigInt>,
        currency -> Nullable<Text>,
        created_at -> BigInt,
    }
}

diesel::joinable!(refunds -> payments (payment_id));
diesel::joinable!(refund_notes -> refunds (refund_id));
diesel::joinable!(disputes -> payments (payment_id));
diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(payment_references -> payments (payment_id));
diesel::joinable!(receipts -> users (user_id));
diesel::joinable!(usage_records -> users (user_id));
diesel::joinable!(payments -> receipts (receipt_id));
diesel::allow_tables_to_appear_in_same_query!(
    users,
    receipts,
    usage_records,
    payments,
    payment_events,
    payment_references,
    audit_log,
    sessions,
    refunds,
    refund_notes,
    disputes
);
