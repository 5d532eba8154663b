//! HTTP/1.1 message framing for the API: requests are parsed with `httparse`, bodies
//! framed by `Content-Length`, responses written with a fixed set of headers.
//!
//! What the API server accepts: HTTP/1.0 and 1.1, persistent connections and
//! pipelining, `Expect: 100-continue`, bodies up to a configured size. It refuses
//! `Transfer-Encoding` (no client of this API needs chunked bodies; Firecracker's
//! server refuses them too) and heads larger than [`MAX_HEAD_LEN`].

/// Most bytes a request's head (request line and headers) may take.
pub const MAX_HEAD_LEN: usize = 8 * 1024;

/// Most headers a request may carry.
pub const MAX_HEADERS: usize = 32;

/// Firecracker's default limit on a request body, in bytes (`--http-api-max-payload-size`).
pub const DEFAULT_MAX_BODY_LEN: usize = 51_200;

/// A complete request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The method, as sent (`GET`, `PUT`, ...).
    pub method: String,
    /// The path, without any query string.
    pub path: String,
    /// The body (empty without `Content-Length`).
    pub body: Vec<u8>,
    /// The client asked to close the connection after this request (or speaks
    /// HTTP/1.0 without keep-alive).
    pub close: bool,
}

/// What [`parse_request`] found in a buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// More bytes are needed. `expects_continue`: the head is complete, carries
    /// `Expect: 100-continue`, and the body has not fully arrived.
    Incomplete {
        /// Whether the client waits for `100 Continue` before sending its body.
        expects_continue: bool,
    },
    /// A request, and how many bytes of the buffer it took.
    Complete(Request, usize),
}

/// A request the server cannot accept; the connection is closed after the answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    /// Not HTTP/1.x, or inconsistent framing.
    #[error("Malformed HTTP request: {0}")]
    Malformed(String),
    /// The head exceeds [`MAX_HEAD_LEN`] or has more than [`MAX_HEADERS`] headers.
    #[error(
        "Request headers are too large: at most {MAX_HEADERS} headers and {MAX_HEAD_LEN} bytes"
    )]
    HeadTooLarge,
    /// The body exceeds the configured limit.
    #[error("Request body of {len} bytes is larger than the limit of {limit} bytes")]
    BodyTooLarge {
        /// The announced length.
        len: u64,
        /// The limit.
        limit: usize,
    },
    /// A framing feature this server does not implement.
    #[error("{0} is not supported: send the body with Content-Length")]
    Unsupported(&'static str),
}

impl HttpError {
    /// The status code of the answer.
    pub fn status(&self) -> u16 {
        match self {
            HttpError::Malformed(_) => 400,
            HttpError::HeadTooLarge => 431,
            HttpError::BodyTooLarge { .. } => 413,
            HttpError::Unsupported(_) => 501,
        }
    }
}

/// Parses the request at the start of `buf`; bodies longer than `max_body` are refused
/// as soon as the head announces them.
pub fn parse_request(buf: &[u8], max_body: usize) -> Result<Parsed, HttpError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let head_len = match req.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => {
            if buf.len() > MAX_HEAD_LEN {
                return Err(HttpError::HeadTooLarge);
            }
            return Ok(Parsed::Incomplete {
                expects_continue: false,
            });
        }
        Err(httparse::Error::TooManyHeaders) => return Err(HttpError::HeadTooLarge),
        Err(e) => return Err(HttpError::Malformed(e.to_string())),
    };
    if head_len > MAX_HEAD_LEN {
        return Err(HttpError::HeadTooLarge);
    }
    let (Some(method), Some(target), Some(version)) = (req.method, req.path, req.version) else {
        return Err(HttpError::Malformed("incomplete request line".into()));
    };

    let mut content_length: Option<u64> = None;
    let mut expects_continue = false;
    let mut connection_close = version == 0;
    for header in req.headers.iter() {
        let value = std::str::from_utf8(header.value)
            .map_err(|_| HttpError::Malformed(format!("header {} is not UTF-8", header.name)))?
            .trim();
        if header.name.eq_ignore_ascii_case("content-length") {
            let len: u64 = value
                .parse()
                .map_err(|_| HttpError::Malformed(format!("bad Content-Length {value:?}")))?;
            if content_length.is_some_and(|old| old != len) {
                return Err(HttpError::Malformed(
                    "conflicting Content-Length headers".into(),
                ));
            }
            content_length = Some(len);
        } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(HttpError::Unsupported("Transfer-Encoding"));
        } else if header.name.eq_ignore_ascii_case("expect") {
            if value.eq_ignore_ascii_case("100-continue") {
                expects_continue = true;
            }
        } else if header.name.eq_ignore_ascii_case("connection") {
            for token in value.split(',').map(str::trim) {
                if token.eq_ignore_ascii_case("close") {
                    connection_close = true;
                } else if token.eq_ignore_ascii_case("keep-alive") {
                    connection_close = false;
                }
            }
        }
    }

    let body_len = content_length.unwrap_or(0);
    if body_len > max_body as u64 {
        return Err(HttpError::BodyTooLarge {
            len: body_len,
            limit: max_body,
        });
    }
    let total = head_len + body_len as usize;
    if buf.len() < total {
        return Ok(Parsed::Incomplete {
            expects_continue: expects_continue && version == 1,
        });
    }
    let path = target.split(['?', '#']).next().unwrap_or_default();
    Ok(Parsed::Complete(
        Request {
            method: method.to_string(),
            path: path.to_string(),
            body: buf[head_len..total].to_vec(),
            close: connection_close,
        },
        total,
    ))
}

/// The reason phrase of the status codes the API uses.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        413 => "Payload Too Large",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

/// The interim answer to `Expect: 100-continue`.
pub const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// An HTTP/1.1 response: `status`, a JSON `body` (none for 204), an `Allow` header for
/// 405 answers, and `Connection: close` when the server closes after it.
pub fn write_response(
    status: u16,
    body: Option<&[u8]>,
    allow: Option<&str>,
    close: bool,
) -> Vec<u8> {
    use std::io::Write;
    let body = body.unwrap_or_default();
    let mut out = Vec::with_capacity(160 + body.len());
    let _ = write!(
        out,
        "HTTP/1.1 {status} {}\r\nServer: rvnest\r\n",
        reason_phrase(status)
    );
    if let Some(allow) = allow {
        let _ = write!(out, "Allow: {allow}\r\n");
    }
    if close {
        out.extend_from_slice(b"Connection: close\r\n");
    }
    if status != 204 {
        if !body.is_empty() {
            out.extend_from_slice(b"Content-Type: application/json\r\n");
        }
        let _ = write!(out, "Content-Length: {}\r\n", body.len());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complete(buf: &[u8]) -> (Request, usize) {
        match parse_request(buf, DEFAULT_MAX_BODY_LEN) {
            Ok(Parsed::Complete(req, n)) => (req, n),
            other => panic!("not complete: {other:?}"),
        }
    }

    #[test]
    fn get_without_body() {
        let (req, n) = complete(b"GET /vm/config?x=1 HTTP/1.1\r\nHost: localhost\r\n\r\n");
        assert_eq!(req.method, "GET");
        assert_eq!(req.path, "/vm/config");
        assert!(req.body.is_empty());
        assert!(!req.close);
        assert_eq!(n, 48);
    }

    #[test]
    fn put_with_body_and_pipelined_followers() {
        let buf = b"PUT /actions HTTP/1.1\r\nContent-Length: 31\r\n\r\n{\"action_type\":\"FlushMetrics\"}\nGET / HTTP/1.1\r\n\r\n";
        let (req, n) = complete(buf);
        assert_eq!(req.body, b"{\"action_type\":\"FlushMetrics\"}\n");
        let (next, _) = complete(&buf[n..]);
        assert_eq!((next.method.as_str(), next.path.as_str()), ("GET", "/"));
    }

    #[test]
    fn partial_heads_and_bodies_wait_for_more() {
        for cut in [0, 1, 10, 20] {
            let buf = b"PUT /logger HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}";
            assert_eq!(
                parse_request(&buf[..cut], 100),
                Ok(Parsed::Incomplete {
                    expects_continue: false
                })
            );
        }
        let buf = b"PUT /logger HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n";
        assert_eq!(
            parse_request(buf, 100),
            Ok(Parsed::Incomplete {
                expects_continue: true
            })
        );
    }

    #[test]
    fn connection_semantics() {
        let (req, _) = complete(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n");
        assert!(req.close);
        let (req, _) = complete(b"GET / HTTP/1.0\r\n\r\n");
        assert!(req.close);
        let (req, _) = complete(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
        assert!(!req.close);
    }

    #[test]
    fn refusals() {
        let err = |buf: &[u8]| parse_request(buf, 16).expect_err("refused");
        assert_eq!(
            err(b"PUT / HTTP/1.1\r\nContent-Length: 17\r\n\r\n"),
            HttpError::BodyTooLarge { len: 17, limit: 16 }
        );
        assert_eq!(
            err(b"PUT / HTTP/1.1\r\nContent-Length: 17\r\n\r\n").status(),
            413
        );
        assert_eq!(
            err(b"PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n").status(),
            501
        );
        assert_eq!(
            err(b"PUT / HTTP/1.1\r\nContent-Length: x\r\n\r\n").status(),
            400
        );
        assert_eq!(
            err(b"PUT / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n").status(),
            400
        );
        assert_eq!(
            err(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03").status(),
            400
        );
        assert_eq!(err(b"GET / SPDY/3\r\n\r\n").status(), 400);
        let many: String = (0..40).map(|i| format!("X-{i}: y\r\n")).collect();
        assert_eq!(
            err(format!("GET / HTTP/1.1\r\n{many}\r\n").as_bytes()).status(),
            431
        );
        let huge = format!("GET /{} HTTP/1.1\r\n", "a".repeat(MAX_HEAD_LEN));
        assert_eq!(err(huge.as_bytes()), HttpError::HeadTooLarge);
    }

    #[test]
    fn responses() {
        let r = write_response(204, None, None, false);
        assert_eq!(r, b"HTTP/1.1 204 No Content\r\nServer: rvnest\r\n\r\n");
        let r = String::from_utf8(write_response(405, Some(b"{}"), Some("GET, PUT"), true))
            .expect("utf8");
        assert_eq!(
            r,
            "HTTP/1.1 405 Method Not Allowed\r\nServer: rvnest\r\nAllow: GET, PUT\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
        );
    }
}
