//! adforge: a server that generates advertising creatives (copy, images, video) with models it
//! loads and owns, plus the orchestration around them. One crate, one binary.
//!
//! Layout (see ARCHITECTURE.md for the full map, the rooms' direction and the invariants each
//! module keeps). Imports go one way: [`api`] -> {[`studio`], [`orchestrate`]} -> {[`engine`],
//! [`media`], [`jobs`]} -> [`store`]; [`app`] wires everything.
//! - [`api`]: HTTP (axum). The only module that knows HTTP server types; handlers parse, call
//!   the rooms below and answer.
//! - [`studio`]: making creatives: `creative.render`, `video.render` (and its text-to-video
//!   path), `creative.set`; the input-image bound and the pre-job layout check.
//! - [`orchestrate`]: the campaign loop: copy, the planner and optimizer agents, the campaign
//!   job kinds, deployments, ad platforms, analytics and experiments, the seeded simulator.
//!   Never imports [`studio`].
//! - [`engine`]: devices, model weights, the model registry (and `model.pull`), CUDA kernels.
//!   No HTTP, no SQL.
//! - [`media`]: the format table, the compositor, the video encoder, decoder and timeline.
//! - [`jobs`]: the job queue only (embedded or Redis Streams): lanes, workers, leases, the
//!   reconciler. Job kinds live with their domain.
//! - [`scheduler`]: pure scheduling policy (retry backoff, text and diffusion batching). No I/O.
//! - [`store`]: every SQL statement (SQLite by default, PostgreSQL by URL), the asset store.
//! - [`auth`]: API keys, users, sessions, sealed platform credentials, rate limits.
//! - [`events`]: updates out (stored window, fan-out within and across processes).
//! - [`config`]: every flag and its environment variable; the only module that reads the
//!   environment. [`secret`]: the redacted `Secret`, a leaf. [`telemetry`]: logs and metrics.
//! - [`app`]: wiring the parts into the `serve` and `worker` roles, registering the job kinds.
//! - [`commands`]: `adforge bench text|image|video`, `adforge campaign ...`, `adforge render`.

pub mod api;
pub mod app;
pub mod auth;
pub mod commands;
pub mod config;
pub mod engine;
pub mod events;
pub mod jobs;
pub mod media;
pub mod orchestrate;
pub mod scheduler;
pub mod secret;
pub mod store;
pub mod studio;
pub mod telemetry;
