//! The web UI (`-ui`, `ui_config.enabled`): plain HTML, CSS and JavaScript compiled into the
//! binary, served under `ui_config.content_path`, with no build step and nothing fetched from
//! elsewhere. The pages read the HTTP API (`/v1/internal/ui/*`, `/v1/health/*`, `/v1/kv/*`,
//! `/v1/agent/members`) and keep current with blocking queries.

/// The UI's files: (name under the content path, content type, body).
const ASSETS: &[(&str, &str, &str)] = &[
    ("", "text/html; charset=utf-8", include_str!("index.html")),
    (
        "index.html",
        "text/html; charset=utf-8",
        include_str!("index.html"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("app.js"),
    ),
    (
        "style.css",
        "text/css; charset=utf-8",
        include_str!("style.css"),
    ),
];

/// The file for `rest` (the path after the content path), as (content type, body).
pub fn asset(rest: &str) -> Option<(&'static str, &'static str)> {
    ASSETS
        .iter()
        .find(|(name, _, _)| *name == rest)
        .map(|(_, ty, body)| (*ty, *body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_refers_only_to_embedded_files() {
        let (ty, html) = asset("").unwrap();
        assert!(ty.starts_with("text/html"));
        for name in ["app.js", "style.css"] {
            assert!(html.contains(&format!("\"{name}\"")), "{name}");
            assert!(asset(name).is_some(), "{name}");
        }
        // Nothing from another host.
        for (_, _, body) in ASSETS {
            assert!(!body.contains("http://") && !body.contains("https://"));
        }
        assert!(asset("missing.js").is_none());
    }
}
