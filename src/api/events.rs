//! `GET /api/events`: the caller's owner's updates as server-sent events (`id:` the event id,
//! `event:` its kind, `data:` its JSON), resumed after `Last-Event-ID` (or `?after=N`) from the
//! stored window, optionally filtered by kind. Streams end when the server shuts down.

use std::convert::Infallible;

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::routing::get;
use futures::Stream;
use serde::Deserialize;
use utoipa::IntoParams;

use super::extract::{Auth, ValidQuery};
use super::{ApiError, AppState};
use crate::events::{Event, EventError, Subscription};

/// Most kinds one `?kinds=` filter may list.
pub const MAX_KINDS: usize = 32;
/// Longest kind name.
pub const MAX_KIND_LEN: usize = 64;
/// How long a stream waits before asking the store again after it failed.
const STORE_RETRY: std::time::Duration = std::time::Duration::from_secs(1);

pub fn router() -> Router<AppState> {
    Router::new().route("/api/events", get(events))
}

/// Where to resume and what to receive.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    /// Resume after this event id (the `Last-Event-ID` header wins when both are sent).
    /// Without either, the stream starts with the next event.
    pub after: Option<i64>,
    /// Comma-separated event kinds to receive, e.g. `webhook.meta,deployment.updated`
    /// (at most 32); all kinds when absent.
    pub kinds: Option<String>,
}

impl From<EventError> for ApiError {
    fn from(err: EventError) -> Self {
        match err {
            EventError::Store(e) => e.into(),
            EventError::TooManyStreams { .. } => Self::TooManyRequests(err.to_string()),
            EventError::Closed => Self::Unavailable {
                what: "the event bus",
                detail: err.to_string(),
            },
        }
    }
}

/// The caller's events as server-sent events: `id:` (increasing), `event:` (the kind), `data:`
/// (the event's JSON). Events are kept for a bounded window (the newest 10,000 per owner, at
/// most 7 days): a client that reconnects with `Last-Event-ID` gets every event after it that is
/// still kept, then the live ones. At most 16 streams per owner are open at once (429 beyond).
#[utoipa::path(get, path = "/api/events", tag = "events", params(EventsQuery,
        ("Last-Event-ID" = Option<i64>, Header, description = "Resume after this event id")),
    responses((status = 200, description = "text/event-stream of the owner's events", content_type = "text/event-stream"),
        (status = 400, body = super::ErrorBody), (status = 401, body = super::ErrorBody),
        (status = 429, body = super::ErrorBody), (status = 503, body = super::ErrorBody)),
    security(("api_key" = [])))]
pub async fn events(
    State(state): State<AppState>,
    Auth(principal): Auth,
    headers: HeaderMap,
    ValidQuery(query): ValidQuery<EventsQuery>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let header = headers
        .get("last-event-id")
        .map(|v| {
            v.to_str()
                .ok()
                .and_then(|s| s.trim().parse::<i64>().ok())
                .ok_or_else(|| {
                    ApiError::bad_request("Last-Event-ID header: must be an event id (integer)")
                })
        })
        .transpose()?;
    let after = header.or(query.after);
    if let Some(after) = after
        && after < 0
    {
        return Err(ApiError::bad_request(format!(
            "after: {after} is not an event id; ids start at 1 (0 replays the whole window)"
        )));
    }
    let kinds = query.kinds.as_deref().map(parse_kinds).transpose()?;
    let subscription = state
        .events
        .subscribe_from(&principal.owner_id, after)
        .await?;
    Ok(Sse::new(event_stream(state, subscription, kinds)).keep_alive(KeepAlive::default()))
}

fn parse_kinds(list: &str) -> Result<Vec<String>, ApiError> {
    let kinds: Vec<String> = list
        .split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(str::to_string)
        .collect();
    if kinds.is_empty() || kinds.len() > MAX_KINDS {
        return Err(ApiError::bad_request(format!(
            "kinds: lists {} kinds; give 1 to {MAX_KINDS}, comma-separated",
            kinds.len()
        )));
    }
    if let Some(bad) = kinds
        .iter()
        .find(|k| k.len() > MAX_KIND_LEN || k.chars().any(char::is_control))
    {
        return Err(ApiError::bad_request(format!(
            "kinds: {bad:?} is not an event kind (at most {MAX_KIND_LEN} printable characters)"
        )));
    }
    Ok(kinds)
}

fn sse_event(event: &Event) -> SseEvent {
    let sse = SseEvent::default().id(event.id.to_string());
    // A kind with a line break cannot be an SSE field; such an event goes out as a `message`.
    let sse = if event.kind.contains(['\n', '\r']) {
        sse
    } else {
        sse.event(&event.kind)
    };
    sse.json_data(&event.data)
        .unwrap_or_else(|_| SseEvent::default().comment("unserializable event"))
}

fn event_stream(
    state: AppState,
    subscription: Subscription,
    kinds: Option<Vec<String>>,
) -> impl Stream<Item = Result<SseEvent, Infallible>> {
    futures::stream::unfold(
        (state, subscription, kinds),
        |(state, mut subscription, kinds)| async move {
            loop {
                let next = tokio::select! {
                    _ = state.shutdown.cancelled() => return None,
                    next = subscription.next() => next,
                };
                match next {
                    Ok(event) => {
                        if kinds.as_ref().is_some_and(|k| !k.contains(&event.kind)) {
                            continue;
                        }
                        return Some((Ok(sse_event(&event)), (state, subscription, kinds)));
                    }
                    Err(EventError::Closed) => return None,
                    Err(e) => {
                        tracing::warn!(error = %e, "event stream: store unavailable; retrying");
                        tokio::select! {
                            _ = state.shutdown.cancelled() => return None,
                            _ = tokio::time::sleep(STORE_RETRY) => {}
                        }
                    }
                }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_listed_and_bounded() {
        assert_eq!(
            parse_kinds("webhook.meta, deployment.updated,").ok(),
            Some(vec![
                "webhook.meta".to_string(),
                "deployment.updated".into()
            ])
        );
        assert!(parse_kinds(" , ").is_err());
        let many = vec!["k"; MAX_KINDS + 1].join(",");
        assert!(parse_kinds(&many).is_err());
        assert!(parse_kinds(&"x".repeat(MAX_KIND_LEN + 1)).is_err());
    }
}
