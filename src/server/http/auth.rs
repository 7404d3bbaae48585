//! `--requirepass` for the API: `Authorization: Bearer <password>` is needed
//! on every `/v1` route (401 without it, 403 when it is wrong). The dashboard,
//! its assets, `/docs`, `/openapi.json` and `/health` stay open so a browser can
//! load the page and ask for the password.

use super::error::ApiError;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// Lets a request through when no password is set, the path is public, or the
/// request carries the password.
pub async fn check(
    State(password): State<Option<Arc<str>>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(password) = password else {
        return next.run(request).await;
    };
    if !request.uri().path().starts_with("/v1/") {
        return next.run(request).await;
    }
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match given {
        None => ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a password is required: send 'Authorization: Bearer <password>'",
        )
        .into_response(),
        Some(given) if !same(given.as_bytes(), password.as_bytes()) => {
            ApiError::new(StatusCode::FORBIDDEN, "forbidden", "wrong password").into_response()
        }
        Some(_) => next.run(request).await,
    }
}

/// Compares in time that depends only on the lengths, not on where the bytes differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    #[test]
    fn comparison_needs_equal_bytes_and_lengths() {
        assert!(super::same(b"secret", b"secret"));
        assert!(!super::same(b"secret", b"secreT"));
        assert!(!super::same(b"secret", b"secret2"));
        assert!(!super::same(b"", b"x"));
    }
}
