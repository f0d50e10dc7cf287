//! The dashboard: the static export of `web/` (Next.js) served from its build folder at `/`,
//! with no Node server at run time. Every page gets a Content-Security-Policy whose
//! `script-src` allows only this origin's files and the hashes of that page's own inline
//! scripts (computed at build time into `csp.json` by `web/scripts/csp-hashes.mjs`), and the
//! usual security headers. Paths under `/api/` and `/v1/` never reach here.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::{ApiError, AppState};

/// A built dashboard: its folder and each page's inline-script hashes.
#[derive(Debug)]
pub struct Dashboard {
    root: PathBuf,
    /// `/index.html` -> `["sha256-..."]`.
    hashes: HashMap<String, Vec<String>>,
}

impl Dashboard {
    /// The dashboard in `root` (its `index.html` must exist); `None` when it is not built.
    pub fn open(root: &Path) -> Option<Arc<Self>> {
        if !root.join("index.html").is_file() {
            return None;
        }
        let hashes = std::fs::read(root.join("csp.json"))
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default();
        Some(Arc::new(Self {
            root: root.to_path_buf(),
            hashes,
        }))
    }

    /// The file a URL path names, if it is inside the folder: `/x/` is `x/index.html`, `/x`
    /// is `x.html` or `x/index.html`.
    fn file_of(&self, path: &str) -> Option<(PathBuf, String)> {
        let relative = path.trim_start_matches('/');
        let clean = Path::new(relative);
        if clean
            .components()
            .any(|c| !matches!(c, Component::Normal(_)))
            || relative.contains('\\')
        {
            return None;
        }
        let candidates: Vec<String> = if relative.is_empty() || relative.ends_with('/') {
            vec![format!("{relative}index.html")]
        } else {
            vec![
                relative.to_string(),
                format!("{relative}.html"),
                format!("{relative}/index.html"),
            ]
        };
        candidates
            .into_iter()
            .map(|c| (self.root.join(&c), format!("/{c}")))
            .find(|(p, _)| p.is_file())
    }

    /// The policy of one HTML page (`page` as keyed in csp.json).
    fn policy(&self, page: &str) -> String {
        let hashes: String = self
            .hashes
            .get(page)
            .into_iter()
            .flatten()
            .map(|h| format!(" '{h}'"))
            .collect();
        format!(
            "default-src 'self'; script-src 'self'{hashes}; style-src 'self' 'unsafe-inline'; \
             img-src 'self' data: blob:; media-src 'self' data: blob:; font-src 'self'; \
             connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; \
             frame-ancestors 'none'"
        )
    }
}

fn content_type(path: &Path) -> &'static str {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
    {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "woff" => "font/woff",
        "txt" => "text/plain; charset=utf-8",
        "webmanifest" => "application/manifest+json",
        _ => "application/octet-stream",
    }
}

/// Headers every dashboard response carries.
fn secure(response: &mut Response, policy: Option<String>) {
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if let Some(policy) = policy.and_then(|p| HeaderValue::from_str(&p).ok()) {
        headers.insert(header::CONTENT_SECURITY_POLICY, policy);
    }
}

/// The router's fallback: dashboard files for GET/HEAD outside `/api/` and `/v1/`, else the
/// JSON 404 of the API.
pub async fn fallback(State(state): State<AppState>, request: Request) -> Response {
    let path = request.uri().path().to_string();
    let api = path.starts_with("/api/") || path.starts_with("/v1/") || path == "/api";
    let readable = matches!(*request.method(), Method::GET | Method::HEAD);
    let Some(dashboard) = state.dashboard.clone().filter(|_| !api && readable) else {
        return ApiError::NotFound(format!("no route for {} {path}", request.method()))
            .into_response();
    };
    let (status, found) = match dashboard.file_of(&path) {
        Some(found) => (StatusCode::OK, Some(found)),
        None => (StatusCode::NOT_FOUND, dashboard.file_of("/404.html")),
    };
    let Some((file, page)) = found else {
        return ApiError::NotFound(format!("no page {path}")).into_response();
    };
    let bytes = match tokio::fs::read(&file).await {
        Ok(bytes) => bytes,
        Err(e) => {
            return ApiError::Internal(format!("reading {}: {e}", file.display())).into_response();
        }
    };
    let html = page.ends_with(".html");
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(&file)),
    );
    let cache = if page.starts_with("/_next/static/") {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    secure(&mut response, html.then(|| dashboard.policy(&page)));
    response
}
