//! Request decoding: JSON bodies and query strings with errors in the API's
//! shape, byte values that may arrive as base64, and keys taken from the path
//! as raw bytes (so a key need not be UTF-8).

use super::error::ApiError;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// A JSON request body; an empty body or `null` reads as `T::default()`.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Default,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            let status = rejection.status();
            let code = if status == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                "payload_too_large"
            } else {
                "bad_request"
            };
            ApiError::new(status, code, rejection.body_text())
        })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(JsonBody(T::default()));
        }
        serde_json::from_slice::<Option<T>>(&bytes)
            .map(|body| JsonBody(body.unwrap_or_default()))
            .map_err(|e| {
                ApiError::new(
                    axum::http::StatusCode::BAD_REQUEST,
                    "bad_json",
                    format!("invalid JSON body: {e}"),
                )
            })
    }
}

/// A query string decoded into `T`, with errors in the API's shape.
#[derive(Debug)]
pub struct QueryArgs<T>(pub T);

impl<S, T> FromRequestParts<S> for QueryArgs<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| QueryArgs(q.0))
            .map_err(|e| ApiError::bad_request(e.body_text()))
    }
}

/// A value in JSON: a string (stored as its UTF-8 bytes) or `{"base64": "..."}`
/// for bytes that are not UTF-8 text.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum JsonBytes {
    /// UTF-8 text.
    Text(String),
    /// Any bytes, base64-encoded (standard alphabet, padded).
    Base64 {
        /// The encoded bytes.
        base64: String,
    },
}

impl JsonBytes {
    /// The bytes this stands for.
    pub fn into_bytes(self) -> Result<Vec<u8>, ApiError> {
        match self {
            JsonBytes::Text(text) => Ok(text.into_bytes()),
            JsonBytes::Base64 { base64 } => STANDARD
                .decode(base64.as_bytes())
                .map_err(|e| ApiError::bad_request(format!("invalid base64 value: {e}"))),
        }
    }
}

/// The key named by the path segment after `/v1/keys/`, percent-decoded to raw bytes.
#[derive(Debug, Clone)]
pub struct KeyPath(pub Vec<u8>);

impl<S: Send + Sync> FromRequestParts<S> for KeyPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let segment = parts
            .uri
            .path()
            .strip_prefix("/v1/keys/")
            .and_then(|rest| rest.split('/').next())
            .ok_or_else(|| ApiError::bad_request("the path names no key"))?;
        let key = percent_decode(segment)?;
        if key.is_empty() {
            return Err(ApiError::bad_request("the key is empty"));
        }
        Ok(KeyPath(key))
    }
}

/// Decodes `%XX` escapes into bytes (the result need not be UTF-8).
pub fn percent_decode(text: &str) -> Result<Vec<u8>, ApiError> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| ApiError::bad_request("invalid percent-encoding in the path"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Ok(out)
}

/// A page cursor: the last key of the previous page, base64url-encoded.
pub fn encode_cursor(key: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(key)
}

/// The key a cursor stands for.
pub fn decode_cursor(cursor: &str) -> Result<Vec<u8>, ApiError> {
    URL_SAFE_NO_PAD
        .decode(cursor.as_bytes())
        .map_err(|_| ApiError::bad_request("invalid cursor (pass next_cursor back unchanged)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding_keeps_raw_bytes_and_rejects_bad_escapes() {
        assert_eq!(percent_decode("a%2Fb%ff").unwrap(), b"a/b\xff");
        assert_eq!(percent_decode("plain").unwrap(), b"plain");
        assert!(percent_decode("bad%zz").is_err());
        assert!(percent_decode("cut%2").is_err());
    }

    #[test]
    fn cursors_round_trip_any_bytes() {
        let key = b"\x00\xffuser:1/2";
        assert_eq!(decode_cursor(&encode_cursor(key)).unwrap(), key);
        assert!(decode_cursor("not base64!").is_err());
    }

    #[test]
    fn values_arrive_as_text_or_base64() {
        let text: JsonBytes = serde_json::from_str(r#""héllo""#).unwrap();
        assert_eq!(text.into_bytes().unwrap(), "héllo".as_bytes());
        let raw: JsonBytes = serde_json::from_str(r#"{"base64": "/wA="}"#).unwrap();
        assert_eq!(raw.into_bytes().unwrap(), b"\xff\x00");
        let bad: JsonBytes = serde_json::from_str(r#"{"base64": "***"}"#).unwrap();
        assert!(bad.into_bytes().is_err());
    }
}
