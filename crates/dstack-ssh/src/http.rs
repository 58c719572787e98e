//! The little HTTP/1.1 the server speaks through SSH tunnels: one `GET` with
//! `Connection: close`, and a reader of its answer (`Content-Length`, chunked, or to the end
//! of the stream), its head and body capped.

/// The largest status line and headers read.
const HEAD_LIMIT: usize = 64 * 1024;
/// The largest body read; a larger answer is refused, not cut.
pub(crate) const BODY_LIMIT: usize = 1024 * 1024;
/// The most raw bytes kept while reading: the body and head limits, and chunk framing.
const RAW_LIMIT: usize = 2 * (HEAD_LIMIT + BODY_LIMIT);

/// An HTTP answer read through a tunnel: status, headers in their order, and the body
/// (decoded from chunks when chunked, at most 1 MiB).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpAnswer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpAnswer {
    /// The first header called `name` (in any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The body as text, invalid UTF-8 replaced.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// The bytes of `GET path` to `host:port`, or why they cannot be sent: a path that is not
/// absolute or a host or path with spaces or line breaks (no header can be smuggled in).
pub(crate) fn get_request(host: &str, port: u16, path: &str) -> Result<Vec<u8>, String> {
    let unsafe_char = |c: char| c.is_ascii_whitespace() || c.is_ascii_control();
    if !path.starts_with('/') || path.chars().any(unsafe_char) {
        return Err(format!("the path {path:?} is not an absolute path without spaces"));
    }
    if host.is_empty() || host.chars().any(unsafe_char) {
        return Err(format!("the host {host:?} is not a host name"));
    }
    let authority = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    Ok(format!(
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: dstack-server\r\n\
         Accept: */*\r\nConnection: close\r\n\r\n"
    )
    .into_bytes())
}

/// Reads one answer from bytes as they arrive: [`AnswerReader::push`] them, then
/// [`AnswerReader::answer`] says whether the answer is whole.
#[derive(Debug, Default)]
pub(crate) struct AnswerReader {
    raw: Vec<u8>,
}

impl AnswerReader {
    /// Adds bytes read; an error once they exceed every limit.
    pub(crate) fn push(&mut self, data: &[u8]) -> Result<(), String> {
        self.raw.extend_from_slice(data);
        if self.raw.len() > RAW_LIMIT {
            return Err(format!("the answer exceeds {} bytes", RAW_LIMIT));
        }
        Ok(())
    }

    /// The answer once whole (`ended`: the stream is at its end, so an answer without length
    /// ends here), `None` while more is to come, or why the bytes are not an HTTP answer.
    pub(crate) fn answer(&self, ended: bool) -> Result<Option<HttpAnswer>, String> {
        let mut rest = self.raw.as_slice();
        loop {
            let Some((status, headers, after)) = head(rest)? else {
                return if ended { Err(incomplete(rest)) } else { Ok(None) };
            };
            // An interim answer (`100 Continue`) comes before the real one.
            if (100..200).contains(&status) && status != 101 {
                rest = after;
                continue;
            }
            let answer = HttpAnswer { status, headers, body: Vec::new() };
            return body(answer, after, ended);
        }
    }
}

fn incomplete(raw: &[u8]) -> String {
    if raw.is_empty() {
        "the connection closed without an answer".to_owned()
    } else {
        "the connection closed in the middle of the answer".to_owned()
    }
}

type Head<'a> = (u16, Vec<(String, String)>, &'a [u8]);

/// The status and headers when the head is whole, and the bytes after it.
fn head(raw: &[u8]) -> Result<Option<Head<'_>>, String> {
    let Some((end, gap)) = find_head_end(raw) else {
        if raw.len() > HEAD_LIMIT {
            return Err(format!("no end of the headers within {HEAD_LIMIT} bytes"));
        }
        if !raw.is_empty() && !b"HTTP/".starts_with(&raw[..raw.len().min(5)]) {
            return Err("the answer is not HTTP".to_owned());
        }
        return Ok(None);
    };
    if end > HEAD_LIMIT {
        return Err(format!("headers longer than {HEAD_LIMIT} bytes"));
    }
    let text = std::str::from_utf8(&raw[..end]).map_err(|_| "the headers are not text")?;
    let mut lines = text.split('\n').map(|line| line.strip_suffix('\r').unwrap_or(line));
    let status_line = lines.next().unwrap_or_default();
    let mut words = status_line.splitn(3, ' ');
    let (version, code) = (words.next().unwrap_or_default(), words.next().unwrap_or_default());
    if !version.starts_with("HTTP/1.") || code.len() != 3 {
        return Err(format!("not an HTTP/1.x status line: {:?}", clip(status_line)));
    }
    let status = code.parse::<u16>().map_err(|_| format!("not a status code: {code:?}"))?;
    let mut headers = Vec::new();
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            return Err(format!("not a header line: {:?}", clip(line)));
        };
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    Ok(Some((status, headers, &raw[end + gap..])))
}

/// Where the head ends (before its blank line) and how long that blank line is.
fn find_head_end(raw: &[u8]) -> Option<(usize, usize)> {
    let crlf = raw.windows(4).position(|w| w == b"\r\n\r\n").map(|i| (i, 4));
    let lf = raw.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2));
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(if a.0 < b.0 { a } else { b }),
        (a, b) => a.or(b),
    }
}

fn clip(text: &str) -> String {
    text.chars().take(100).collect()
}

/// The answer with its body once the body is whole.
fn body(mut answer: HttpAnswer, raw: &[u8], ended: bool) -> Result<Option<HttpAnswer>, String> {
    if answer.status == 204 || answer.status == 304 {
        return Ok(Some(answer));
    }
    let chunked = answer.header("transfer-encoding").is_some_and(|value| {
        value.split(',').any(|coding| coding.trim().eq_ignore_ascii_case("chunked"))
    });
    if chunked {
        return match chunks(raw)? {
            Some(body) => {
                answer.body = body;
                Ok(Some(answer))
            }
            None if ended => Err(incomplete(raw)),
            None => Ok(None),
        };
    }
    if let Some(length) = answer.header("content-length") {
        let length: usize =
            length.parse().map_err(|_| format!("not a Content-Length: {:?}", clip(length)))?;
        if length > BODY_LIMIT {
            return Err(format!("a body of {length} bytes, more than {BODY_LIMIT}"));
        }
        if raw.len() < length {
            return if ended { Err(incomplete(raw)) } else { Ok(None) };
        }
        answer.body = raw[..length].to_vec();
        return Ok(Some(answer));
    }
    if raw.len() > BODY_LIMIT {
        return Err(format!("a body of more than {BODY_LIMIT} bytes"));
    }
    if !ended {
        return Ok(None);
    }
    answer.body = raw.to_vec();
    Ok(Some(answer))
}

/// A chunked body decoded once its last chunk and trailers are in.
fn chunks(mut raw: &[u8]) -> Result<Option<Vec<u8>>, String> {
    let mut body = Vec::new();
    loop {
        let Some(line_end) = raw.iter().position(|b| *b == b'\n') else { return Ok(None) };
        let line = std::str::from_utf8(&raw[..line_end]).map_err(|_| "a chunk size not text")?;
        let size = line.trim_end_matches('\r').split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size, 16)
            .map_err(|_| format!("not a chunk size: {:?}", clip(size)))?;
        raw = &raw[line_end + 1..];
        if size == 0 {
            // Trailers, each a line, end with an empty line.
            loop {
                let Some(end) = raw.iter().position(|b| *b == b'\n') else { return Ok(None) };
                let trailer = &raw[..end];
                raw = &raw[end + 1..];
                if trailer.is_empty() || trailer == b"\r" {
                    return Ok(Some(body));
                }
            }
        }
        if body.len() + size > BODY_LIMIT {
            return Err(format!("a body of more than {BODY_LIMIT} bytes"));
        }
        if raw.len() < size {
            return Ok(None);
        }
        body.extend_from_slice(&raw[..size]);
        raw = &raw[size..];
        if raw.starts_with(b"\r\n") {
            raw = &raw[2..];
        } else if raw.starts_with(b"\n") {
            raw = &raw[1..];
        } else if raw.is_empty() || raw == b"\r" {
            return Ok(None);
        } else {
            return Err("a chunk does not end with a line break".to_owned());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(parts: &[&[u8]], ended: bool) -> Result<Option<HttpAnswer>, String> {
        let mut reader = AnswerReader::default();
        for part in parts {
            reader.push(part)?;
        }
        reader.answer(ended)
    }

    #[test]
    fn the_request_is_one_get_that_closes() {
        let request = get_request("localhost", 10998, "/api/healthcheck").unwrap();
        assert_eq!(
            String::from_utf8(request).unwrap(),
            "GET /api/healthcheck HTTP/1.1\r\nHost: localhost:10998\r\n\
             User-Agent: dstack-server\r\nAccept: */*\r\nConnection: close\r\n\r\n"
        );
        let v6 = get_request("::1", 80, "/").unwrap();
        assert!(String::from_utf8(v6).unwrap().contains("Host: [::1]:80\r\n"));
        assert!(get_request("localhost", 80, "api").is_err(), "not absolute");
        assert!(get_request("localhost", 80, "/a\r\nX-Evil: 1").is_err(), "no header injection");
        assert!(get_request("local host", 80, "/").is_err());
    }

    #[test]
    fn a_content_length_body_is_whole_when_all_of_it_is_in() {
        let head =
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 5\r\n\r\n";
        assert_eq!(read(&[head, b"ab"], false), Ok(None));
        let answer = read(&[head, b"ab", b"cde"], false).unwrap().unwrap();
        assert_eq!(answer.status, 200);
        assert_eq!(answer.header("content-type"), Some("application/json"));
        assert_eq!(answer.body, b"abcde");
        assert_eq!(
            read(&[head, b"ab"], true),
            Err("the connection closed in the middle of the answer".into())
        );
    }

    #[test]
    fn a_chunked_body_is_decoded() {
        let raw: &[u8] =
            b"HTTP/1.1 500 Internal Server Error\r\nTransfer-Encoding: chunked\r\n\r\n\
            4;ext=1\r\nWiki\r\n5\r\npedia\r\n0\r\nX-Trailer: 1\r\n\r\n";
        for cut in 0..raw.len() {
            assert_eq!(read(&[&raw[..cut]], false), Ok(None), "cut at {cut}");
        }
        let answer = read(&[raw], false).unwrap().unwrap();
        assert_eq!((answer.status, answer.body.as_slice()), (500, b"Wikipedia".as_slice()));
        assert!(read(&[&raw[..raw.len() - 3]], true).is_err(), "ended before the last chunk");
        let bad = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n";
        assert!(read(&[bad], false).unwrap_err().contains("chunk size"));
    }

    #[test]
    fn without_a_length_the_body_runs_to_the_end_of_the_stream() {
        let raw = b"HTTP/1.0 200 OK\nServer: old\n\nhello";
        assert_eq!(read(&[raw], false), Ok(None));
        let answer = read(&[raw], true).unwrap().unwrap();
        assert_eq!((answer.header("server"), answer.text().as_str()), (Some("old"), "hello"));
    }

    #[test]
    fn interim_answers_are_skipped_and_bodiless_statuses_end_at_the_head() {
        let raw = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n";
        let answer = read(&[raw], false).unwrap().unwrap();
        assert_eq!((answer.status, answer.body.len()), (204, 0));
    }

    #[test]
    fn what_is_not_http_or_too_large_is_refused() {
        assert_eq!(
            read(&[b"SSH-2.0-OpenSSH_9.2\r\n"], false),
            Err("the answer is not HTTP".into())
        );
        assert_eq!(read(&[b""], true), Err("the connection closed without an answer".into()));
        assert!(read(&[b"HTTP/1.1 abc OK\r\n\r\n"], false).is_err());
        assert!(read(&[b"HTTP/1.1 200 OK\r\nbroken\r\n\r\n"], false).is_err());
        let huge = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", BODY_LIMIT + 1);
        assert!(read(&[huge.as_bytes()], false).unwrap_err().contains("more than"));
        let mut endless = AnswerReader::default();
        endless.push(b"HTTP/1.1 200 OK\r\n\r\n").unwrap();
        endless.push(&vec![b'x'; BODY_LIMIT + 1]).unwrap();
        assert!(endless.answer(false).unwrap_err().contains("more than"));
        let long_head = vec![b'H'; HEAD_LIMIT + 1];
        assert!(read(&[&long_head], false).is_err());
    }
}
