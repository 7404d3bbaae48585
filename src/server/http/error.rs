//! The API's one error shape, `{"error": {"code": "...", "message": "..."}}`,
//! and the HTTP status each failure maps to.

use crate::error::CommandError;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// A failed request: its status, a stable machine-readable code and a message
/// for people; `detail` carries extra fields (such as a batch's failing statement).
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// A stable code such as `not_found` or `bad_request`.
    pub code: &'static str,
    /// What went wrong, in words.
    pub message: String,
    /// Extra fields merged into the `error` object.
    pub detail: Option<Value>,
}

impl ApiError {
    /// An error with a status, a code and a message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            detail: None,
        }
    }

    /// 400: the request is malformed or an argument is invalid.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 404: the named thing does not exist.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 500: a bug in the server (never expected).
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }

    /// 503: the database cannot acknowledge writes (or is otherwise unable to serve).
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }
}

impl From<CommandError> for ApiError {
    fn from(error: CommandError) -> Self {
        let message = error.to_string();
        let (status, code) = match &error {
            CommandError::Aborted { index, text, .. } => {
                let mut e = ApiError::new(StatusCode::CONFLICT, "aborted", message);
                e.detail = Some(json!({ "statement": { "index": index, "text": text } }));
                return e;
            }
            CommandError::NotAnInteger => (StatusCode::BAD_REQUEST, "not_an_integer"),
            CommandError::Overflow => (StatusCode::BAD_REQUEST, "overflow"),
            CommandError::InvalidRegex(_) => (StatusCode::BAD_REQUEST, "invalid_regex"),
            CommandError::Parse(_) => (StatusCode::BAD_REQUEST, "parse_error"),
            CommandError::NoTransaction
            | CommandError::TransactionOpen
            | CommandError::NotAllowedIn(..) => (StatusCode::CONFLICT, "conflict"),
            CommandError::OutOfMemory(_) => (StatusCode::SERVICE_UNAVAILABLE, "out_of_memory"),
            CommandError::LogUnavailable(_)
            | CommandError::Persistence(_)
            | CommandError::Save { .. }
            | CommandError::File { .. } => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            _ => (StatusCode::BAD_REQUEST, "bad_request"),
        };
        ApiError::new(status, code, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut error = json!({ "code": self.code, "message": self.message });
        if let (Some(Value::Object(extra)), Some(object)) = (self.detail, error.as_object_mut()) {
            object.extend(extra);
        }
        let mut response = (self.status, axum::Json(json!({ "error": error }))).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"inmem\""),
            );
        }
        response
    }
}

/// Answers requests for paths no route serves.
pub async fn no_route() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "no_route", "no such route")
}

/// Answers a known path requested with a method it does not serve.
pub async fn wrong_method() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this path does not accept that method",
    )
}
