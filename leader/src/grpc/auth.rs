//! Bearer-token authentication of gRPC callers: workers must present the shared worker
//! token; status clients the status token when one is configured. Tokens are compared in
//! constant time; refusals are counted.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tonic::{Request, Status};

/// A token check for one service.
#[derive(Debug, Clone)]
pub struct TokenCheck {
    expected: Option<Arc<[u8]>>,
    refused: Arc<AtomicU64>,
}

impl TokenCheck {
    /// Requires `token` when given; without one every caller is accepted.
    pub fn new(token: Option<String>, refused: Arc<AtomicU64>) -> Self {
        Self {
            expected: token.map(|t| Arc::from(t.into_bytes())),
            refused,
        }
    }

    /// The interceptor: passes requests with the right `authorization: Bearer` header.
    pub fn check(&self, request: Request<()>) -> Result<Request<()>, Status> {
        let Some(expected) = &self.expected else {
            return Ok(request);
        };
        let given = request
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        match given {
            Some(token) if constant_time_eq(token.as_bytes(), expected) => Ok(request),
            Some(_) => {
                self.refused.fetch_add(1, Ordering::Relaxed);
                Err(Status::unauthenticated("invalid token"))
            }
            None => {
                self.refused.fetch_add(1, Ordering::Relaxed);
                Err(Status::unauthenticated("missing bearer token"))
            }
        }
    }
}

/// Compares without stopping at the first difference, so timing does not leak the token.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn request(auth: Option<&str>) -> Request<()> {
        let mut r = Request::new(());
        if let Some(a) = auth {
            r.metadata_mut().insert("authorization", a.parse().unwrap());
        }
        r
    }

    #[test]
    fn tokens_are_checked_and_refusals_counted() {
        let refused = Arc::new(AtomicU64::new(0));
        let check = TokenCheck::new(Some("s3cret".into()), refused.clone());
        assert!(check.check(request(Some("Bearer s3cret"))).is_ok());
        for bad in [
            None,
            Some("Bearer wrong!"),
            Some("Bearer s3cre"),
            Some("s3cret"),
        ] {
            let err = check.check(request(bad)).unwrap_err();
            assert_eq!(err.code(), tonic::Code::Unauthenticated, "{bad:?}");
        }
        assert_eq!(refused.load(Ordering::Relaxed), 4);
        let open = TokenCheck::new(None, refused);
        assert!(open.check(request(None)).is_ok());
    }

    #[test]
    fn comparison_is_exact() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
