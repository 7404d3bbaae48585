//! The dashboard page, the `/docs` page and their scripts and style, embedded
//! in the binary (no build step, no CDN). Pages are served with a
//! Content-Security-Policy that allows only this server's own scripts.

use super::error::ApiError;
use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

const DASHBOARD_HTML: &str = include_str!("assets/dashboard.html");
const DOCS_HTML: &str = include_str!("assets/docs.html");
const STYLE_CSS: &str = include_str!("assets/style.css");
const DASHBOARD_JS: &str = include_str!("assets/dashboard.js");
const DOCS_JS: &str = include_str!("assets/docs.js");

/// No inline script, no other origin: a stored value can never run as code.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

fn serve(content_type: &'static str, body: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// `GET /`: the dashboard.
pub async fn dashboard() -> Response {
    serve("text/html; charset=utf-8", DASHBOARD_HTML)
}

/// `GET /docs`: the API reference, rendered from `/openapi.json` in the browser.
pub async fn docs() -> Response {
    serve("text/html; charset=utf-8", DOCS_HTML)
}

/// `GET /assets/{name}`: the pages' style and scripts.
pub async fn asset(Path(name): Path<String>) -> Result<Response, ApiError> {
    Ok(match name.as_str() {
        "style.css" => serve("text/css; charset=utf-8", STYLE_CSS),
        "dashboard.js" => serve("text/javascript; charset=utf-8", DASHBOARD_JS),
        "docs.js" => serve("text/javascript; charset=utf-8", DOCS_JS),
        _ => return Err(ApiError::not_found(format!("no asset '{name}'"))),
    })
}
