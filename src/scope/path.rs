//! Path prefixes: the limits and syntax of the prefixes a token carries, and the one
//! normalisation of a request path they are matched against (whole segments, no escapes).

/// Path prefixes a token may carry at most.
pub const MAX_PATHS: usize = 16;
/// Longest path prefix, in bytes.
pub const MAX_PATH_LEN: usize = 256;

/// Checks a token's list of path prefixes: at most [`MAX_PATHS`], each a valid prefix of
/// at most [`MAX_PATH_LEN`] bytes; returns them normalised.
pub fn parse_prefixes(list: &[String]) -> Result<Vec<String>, String> {
    if list.len() > MAX_PATHS {
        return Err(format!("a token takes at most {MAX_PATHS} path prefixes"));
    }
    list.iter().map(|p| parse_prefix(p)).collect()
}

pub fn parse_prefix(p: &str) -> Result<String, String> {
    if p.len() > MAX_PATH_LEN {
        return Err(format!(
            "a path prefix is at most {MAX_PATH_LEN} bytes; this one has {}",
            p.len()
        ));
    }
    match normalize_path(p) {
        Some(n) if p.starts_with('/') && !p.contains(['?', '#']) => Ok(n),
        _ => Err(format!(
            "{p:?} is not a path prefix; use an absolute path such as /api/ci/"
        )),
    }
}

pub(super) fn under_prefix(path: &str, prefix: &str) -> bool {
    if prefix.ends_with('/') {
        path.starts_with(prefix) || path == prefix.trim_end_matches('/')
    } else {
        path == prefix || path.starts_with(&format!("{prefix}/"))
    }
}

/// Decodes and normalises a request path: drops the query, percent-decodes and resolves
/// `.` and `..`. `None` when the path cannot be trusted because an application could read
/// it as another path: encoded slashes, backslashes or NUL, repeated slashes (`//host/x`
/// is a host to URL parsers), `;` path parameters (`..;/` to servlet containers), or `..`
/// above the root.
pub fn normalize_path(uri: &str) -> Option<String> {
    let raw = uri.split('?').next().unwrap_or("");
    // A raw `#` never reaches a server from a browser; some backends keep it in the path
    // while others cut it off, so a path containing one cannot be judged.
    if !raw.starts_with('/') || raw.contains('#') {
        return None;
    }
    let bytes = raw.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            let b = u8::from_str_radix(hex, 16).ok()?;
            if matches!(b, b'/' | b'\\' | 0 | b'%') {
                return None;
            }
            decoded.push(b);
            i += 3;
        } else {
            if bytes[i] == b'\\' {
                return None;
            }
            decoded.push(bytes[i]);
            i += 1;
        }
    }
    let text = String::from_utf8(decoded).ok()?;
    if text.contains(';')
        || text[1..].trim_end_matches('/').contains("//")
        || text.starts_with("//")
    {
        return None;
    }
    let mut parts: Vec<&str> = Vec::new();
    for seg in text.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            s => parts.push(s),
        }
    }
    let trailing = text.ends_with('/') && !parts.is_empty();
    let mut out = format!("/{}", parts.join("/"));
    if trailing {
        out.push('/');
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_path_resolves_and_refuses_escapes() {
        let cases = [
            ("/api/ci/x", Some("/api/ci/x")),
            ("/api/ci/./x?y=1", Some("/api/ci/x")),
            ("/api//ci/x", None),
            ("//api/ci/x", None),
            ("/api/ci/..;/admin", None),
            ("/api/ci/x;jsessionid=1", None),
            ("/", Some("/")),
            ("/api/ci/../admin", Some("/api/admin")),
            ("/api/ci/%2e%2e/admin", Some("/api/admin")),
            ("/api/ci%2F..%2Fadmin", None),
            ("/api/ci/..\\admin", None),
            ("/..", None),
            ("/api/%zz", None),
            ("/api/ci/", Some("/api/ci/")),
            ("relative", None),
        ];
        for (input, want) in cases {
            assert_eq!(normalize_path(input).as_deref(), want, "{input}");
        }
    }
}
