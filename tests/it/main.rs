//! Integration tests, one binary. They run against real services: SQLite files in temporary
//! folders, and the PostgreSQL and Redis that `scripts/test.sh` starts (their URLs arrive in
//! `ADFORGE_TEST_POSTGRES_URL` and `ADFORGE_TEST_REDIS_URL`). Tests that take a service down start
//! their own instance of it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

/// `on_both_stores!(a, b)`: tests `sqlite::a`, `postgres::a`, ... each calling the module's
/// `async fn a(kind: StoreKind)` with its store. (Defined before the modules that use it.)
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(crate::support::StoreKind::Sqlite).await })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(crate::support::StoreKind::Postgres).await })*
        }
    };
}

mod analytics;
mod api;
mod arch;
mod auth;
mod binary;
mod campaign_loop;
mod campaigns;
mod chaos;
mod compositor;
mod copy;
mod creatives;
mod dashboard;
mod decoder;
mod diffusion;
mod embed;
mod encoder;
mod events;
mod inference;
mod isolation;
mod mmm;
mod models;
mod objects;
mod platforms;
mod queue;
mod rife;
mod schedulers;
mod store;
mod support;
mod t2vz;
mod text;
mod tidy;
mod upscale;
mod video;
