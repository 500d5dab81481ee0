//! The web UI's files, compiled into the binary so `reprise serve` needs
//! nothing beside it and works with no network access.
//!
//! Every file but `index.html` is served under `/ui/{version}/…`, where the
//! version is a hash of all the files together. A page therefore always
//! loads scripts from the same build as itself, and browsers may keep those
//! files for good (`immutable`); a new binary changes the version and so
//! the URLs. `index.html` names that prefix, so it is revalidated on every
//! load (`no-cache` with an ETag, answered 304 when unchanged). The files'
//! own relative imports (`./api.js`) resolve inside the versioned prefix,
//! so no build step has to rewrite them.

use std::sync::LazyLock;

/// One embedded file.
#[derive(Debug)]
pub struct Asset {
    /// Path under the versioned prefix, e.g. `pages/calls.js`.
    pub path: &'static str,
    pub content_type: &'static str,
    pub body: &'static [u8],
    /// Strong ETag of the body, quoted as HTTP wants it.
    pub etag: String,
}

macro_rules! web_file {
    ($path:literal) => {
        ($path, include_bytes!(concat!("web/", $path)).as_slice())
    };
}

/// Every file of the UI except `index.html`. A file added under `web/`
/// must be listed here; the unit tests check the list against the folder.
const FILES: &[(&str, &[u8])] = &[
    web_file!("app.css"),
    web_file!("app.js"),
    web_file!("api.js"),
    web_file!("dom.js"),
    web_file!("format.js"),
    web_file!("chart.js"),
    web_file!("chat.js"),
    web_file!("diff.js"),
    web_file!("filters.js"),
    web_file!("favicon.svg"),
    web_file!("pages/calls.js"),
    web_file!("pages/call.js"),
    web_file!("pages/trace.js"),
    web_file!("pages/session.js"),
    web_file!("pages/models.js"),
    web_file!("pages/replays.js"),
    web_file!("pages/replay.js"),
    web_file!("pages/not_found.js"),
];

const INDEX_TEMPLATE: &str = include_str!("web/index.html");

/// Where `index.html` says the other files are.
const PREFIX_PLACEHOLDER: &str = "{{ASSETS}}";

/// The UI as served: the version, the index page with the versioned prefix
/// filled in, and the files.
#[derive(Debug)]
pub struct Bundle {
    /// A hash of every file, naming this build of the UI.
    pub version: String,
    /// `/ui/{version}/`
    pub prefix: String,
    pub index_html: String,
    pub index_etag: String,
    pub files: Vec<Asset>,
}

impl Bundle {
    pub fn file(&self, path: &str) -> Option<&Asset> {
        self.files.iter().find(|asset| asset.path == path)
    }
}

pub static BUNDLE: LazyLock<Bundle> = LazyLock::new(build);

fn build() -> Bundle {
    let mut hasher = blake3::Hasher::new();
    hasher.update(INDEX_TEMPLATE.as_bytes());
    let mut files = Vec::with_capacity(FILES.len());
    for (path, body) in FILES {
        // The path is hashed too, so renaming a file changes the version.
        hasher.update(path.as_bytes());
        hasher.update(&[0]);
        hasher.update(body);
        files.push(Asset {
            path,
            content_type: content_type(path),
            body,
            etag: etag(body),
        });
    }
    let version = hasher.finalize().to_hex()[..16].to_owned();
    let prefix = format!("/ui/{version}/");
    let index_html = INDEX_TEMPLATE.replace(PREFIX_PLACEHOLDER, &prefix);
    let index_etag = etag(index_html.as_bytes());
    Bundle {
        version,
        prefix,
        index_html,
        index_etag,
        files,
    }
}

fn etag(body: &[u8]) -> String {
    format!("\"{}\"", &blake3::hash(body).to_hex()[..20])
}

/// The media type of a file, from its extension.
pub fn content_type(path: &str) -> &'static str {
    let extension = path.rsplit_once('.').map_or("", |(_, ext)| ext);
    match extension {
        "html" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "txt" | "md" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every file under `web/` is embedded (an unlisted file would be a
    /// 404 in the browser), and every listed file exists there.
    #[test]
    fn every_web_file_is_embedded() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/ui/web");
        let mut on_disk = Vec::new();
        let mut folders = vec![root.clone()];
        while let Some(folder) = folders.pop() {
            for entry in std::fs::read_dir(&folder).expect("read web folder") {
                let path = entry.expect("entry").path();
                if path.is_dir() {
                    folders.push(path);
                    continue;
                }
                let relative = path.strip_prefix(&root).expect("under root");
                on_disk.push(relative.to_string_lossy().replace('\\', "/"));
            }
        }
        on_disk.retain(|p| p != "index.html");
        on_disk.sort();
        let mut listed: Vec<String> = FILES.iter().map(|(p, _)| p.to_string()).collect();
        listed.sort();
        assert_eq!(listed, on_disk);
    }

    #[test]
    fn index_names_the_versioned_prefix_and_nothing_unfilled() {
        let bundle = &*BUNDLE;
        assert_eq!(bundle.version.len(), 16);
        assert!(
            bundle
                .index_html
                .contains(&format!("{}app.js", bundle.prefix))
        );
        assert!(!bundle.index_html.contains(PREFIX_PLACEHOLDER));
    }

    #[test]
    fn content_types_follow_extensions() {
        assert_eq!(
            content_type("pages/calls.js"),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(content_type("app.css"), "text/css; charset=utf-8");
        assert_eq!(content_type("favicon.svg"), "image/svg+xml");
        assert_eq!(content_type("LICENSE"), "application/octet-stream");
    }
}
