//! Kubernetes `Status` responses for errors, and JSON responses.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};

use crate::store::StoreError;

/// A JSON response with the given status code.
pub fn json_response(code: u16, body: &Value) -> Response {
    bytes_response(
        code,
        serde_json::to_vec(body).unwrap_or_default(),
        "application/json",
    )
}

/// A response with a body and content type.
pub fn bytes_response(code: u16, body: Vec<u8>, content_type: &'static str) -> Response {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

/// A `Status` object with status Failure.
pub fn status_body(code: u16, reason: &str, message: &str, details: Option<Value>) -> Value {
    let mut s = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "code": code,
    });
    if let Some(d) = details {
        s["details"] = d;
    }
    s
}

/// An error response carrying a `Status` object.
pub fn status_error(code: u16, reason: &str, message: &str) -> Response {
    json_response(code, &status_body(code, reason, message, None))
}

/// The `Status` response for a store error.
pub fn store_error(e: &StoreError) -> Response {
    json_response(e.code(), &store_error_body(e))
}

/// The `Status` object for a store error.
pub fn store_error_body(e: &StoreError) -> Value {
    status_body(e.code(), e.reason(), &e.to_string(), e.details())
}

/// 404 for an unknown path or resource, as the API server answers it.
pub fn not_found() -> Response {
    status_error(
        404,
        "NotFound",
        "the server could not find the requested resource",
    )
}

/// 400 BadRequest with a message.
pub fn bad_request(message: &str) -> Response {
    status_error(400, "BadRequest", message)
}

/// 405 MethodNotAllowed.
pub fn method_not_allowed(method: &str) -> Response {
    status_error(
        405,
        "MethodNotAllowed",
        &format!("the server does not allow this method on the requested resource ({method})"),
    )
}

/// A Success `Status` (what delete returns for some objects).
pub fn success_status(details: Value) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
           "details": details})
}
