//! The store suite, run on a fresh SQLite file always and on a fresh PostgreSQL database when
//! `TEST_DATABASE_URL` is set (it says loudly when it skips).

mod support;

mod suite;
