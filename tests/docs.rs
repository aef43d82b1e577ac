//! The documentation's links lead somewhere, and the README stays short.
//!
//! The documentation is split into pages: `README.md` for a newcomer, `docs/*.md` for the
//! reference, and each adapter's `README.md` for its contract. Pages link to each other and to
//! sections of each other (`delivery.md#crash-safety`), and nothing warns when a page is moved or
//! a heading renamed: the link just stops working on GitHub. So this test reads `README.md`,
//! `docs/**/*.md` and `adapters/*/README.md` and checks every Markdown link `[text](target)` (and
//! image `![alt](target)`) in them:
//!
//! - the target, resolved relative to the file that holds the link, exists in the repository (a
//!   file or a folder); absolute paths are refused, since they only work on some renderers;
//! - a `#anchor` into a Markdown file (or `(#anchor)` into the same file) names one of its
//!   headings, by GitHub's slug: the heading's text in lower case, spaces turned into `-`, every
//!   character other than a letter, a digit, `-` and `_` removed, and `-1`, `-2`, … appended to
//!   repeated headings. Anchors into other files (`lgsp.toml#L10`) are not checked.
//!
//! Links inside fenced code blocks and inline code are not links, and `http(s)://` and `mailto:`
//! targets are left alone (checking them needs the network). Reference-style links
//! (`[text][id]`) and indented code blocks are not recognised; the documentation uses neither.
//! Every broken link is collected, and the test fails once, listing each with its file, line,
//! target and what is wrong.
//!
//! The second test keeps `README.md` under 200 lines, so that reference material goes to `docs/`.

use std::collections::HashMap;
use std::fs;
use std::path::{Component, Path, PathBuf};

/// The README's limit: at this many lines it has become a reference, which belongs in `docs/`.
const README_MAX_LINES: usize = 200;

#[test]
fn every_link_in_the_documentation_leads_somewhere() {
    let root = repository_root();
    let files = markdown_files(&root);
    assert!(files.contains(&root.join("README.md")), "README.md not found under {}", root.display());

    let mut headings = Headings::default();
    let mut broken = Vec::new();
    for file in &files {
        for link in links_in(&read(file)) {
            if let Err(why) = check_link(&root, file, &link.target, &mut headings) {
                broken.push(format!("{}:{}: ({}): {why}", shown(&root, file), link.line, link.target));
            }
        }
    }
    assert!(broken.is_empty(), "{} broken link(s) in the documentation:\n{}", broken.len(), broken.join("\n"));
}

#[test]
fn the_readme_stays_short() {
    let readme = read(&repository_root().join("README.md"));
    let lines = readme.lines().count();
    assert!(
        lines < README_MAX_LINES,
        "README.md has {lines} lines (the limit is {README_MAX_LINES}): move reference material to a page in docs/ \
         and link it from the README's Documentation section"
    );
}

// ---- Which files ----

fn repository_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `README.md`, every `.md` under `docs/`, and `adapters/*/README.md`, sorted.
fn markdown_files(root: &Path) -> Vec<PathBuf> {
    let mut files = vec![root.join("README.md")];
    collect_markdown(&root.join("docs"), &mut files);
    for adapter in entries(&root.join("adapters")) {
        let readme = adapter.join("README.md");
        if readme.is_file() {
            files.push(readme);
        }
    }
    files.sort();
    files
}

/// Every `.md` file under `dir`, at any depth.
fn collect_markdown(dir: &Path, files: &mut Vec<PathBuf>) {
    for path in entries(dir) {
        if path.is_dir() {
            collect_markdown(&path, files);
        } else if path.extension().is_some_and(|ext| ext == "md") {
            files.push(path);
        }
    }
}

/// The entries of a folder; none if it does not exist.
fn entries(dir: &Path) -> Vec<PathBuf> {
    match fs::read_dir(dir) {
        Ok(entries) => entries.map(|entry| entry.expect("a readable folder entry").path()).collect(),
        Err(_) => Vec::new(),
    }
}

fn read(file: &Path) -> String {
    fs::read_to_string(file).unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()))
}

/// A path as the failure message shows it: relative to the repository.
fn shown(root: &Path, path: &Path) -> String {
    path.strip_prefix(root).unwrap_or(path).display().to_string()
}

// ---- Checking one link ----

/// `Ok` if `target`, written in `file`, leads to an existing file and, for an anchor into a
/// Markdown file, to one of its headings; otherwise why not.
fn check_link(root: &Path, file: &Path, target: &str, headings: &mut Headings) -> Result<(), String> {
    if is_external(target) {
        return Ok(());
    }
    let (path, anchor) = match target.split_once('#') {
        Some((path, anchor)) => (percent_decode(path), Some(percent_decode(anchor))),
        None => (percent_decode(target), None),
    };
    let resolved = if path.is_empty() {
        file.to_path_buf()
    } else if path.starts_with('/') {
        return Err("an absolute path: write it relative to this file".to_string());
    } else {
        normalize(&file.parent().expect("a file has a folder").join(&path))
    };
    if !resolved.starts_with(root) {
        return Err(format!("{} is outside the repository", resolved.display()));
    }
    if !resolved.exists() {
        return Err(format!("no such file: {}", shown(root, &resolved)));
    }
    match anchor {
        Some(anchor) if is_markdown(&resolved) => check_anchor(root, &resolved, &anchor, headings),
        _ => Ok(()),
    }
}

fn check_anchor(root: &Path, file: &Path, anchor: &str, headings: &mut Headings) -> Result<(), String> {
    if anchor.is_empty() {
        return Err("an empty anchor".to_string());
    }
    let slugs = headings.slugs(file);
    if slugs.iter().any(|slug| slug == anchor) {
        return Ok(());
    }
    let near: Vec<&str> = slugs.iter().map(String::as_str).filter(|slug| shares_a_word(slug, anchor)).collect();
    let hint = if near.is_empty() { String::new() } else { format!(" (similar: {})", near.join(", ")) };
    Err(format!("{} has no heading #{anchor}{hint}", shown(root, file)))
}

/// Whether two slugs have a word in common, to suggest what an anchor may have meant.
fn shares_a_word(slug: &str, anchor: &str) -> bool {
    let words = |text: &str| text.split('-').filter(|word| word.len() > 3).map(str::to_string).collect::<Vec<_>>();
    let anchor_words = words(anchor);
    words(slug).iter().any(|word| anchor_words.contains(word))
}

fn is_external(target: &str) -> bool {
    let lower = target.to_ascii_lowercase();
    ["http://", "https://", "mailto:"].iter().any(|scheme| lower.starts_with(scheme))
}

fn is_markdown(path: &Path) -> bool {
    path.is_file() && path.extension().is_some_and(|ext| ext.eq_ignore_ascii_case("md"))
}

/// `a/b/../c/./d` as `a/c/d`, without touching the file system.
fn normalize(path: &Path) -> PathBuf {
    let mut normal = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                normal.pop();
            }
            other => normal.push(other),
        }
    }
    normal
}

/// `%20` and the like as the characters they stand for (a link may encode spaces or accents).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3).filter(|hex| hex.bytes().all(|b| b.is_ascii_hexdigit()));
            if let Some(byte) = hex.and_then(|hex| u8::from_str_radix(hex, 16).ok()) {
                decoded.push(byte);
                i += 3;
                continue;
            }
        }
        decoded.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

// ---- Headings and their slugs ----

/// The heading slugs of each Markdown file, read once.
#[derive(Default)]
struct Headings {
    by_file: HashMap<PathBuf, Vec<String>>,
}

impl Headings {
    fn slugs(&mut self, file: &Path) -> &[String] {
        self.by_file.entry(file.to_path_buf()).or_insert_with(|| heading_slugs(&read(file))).as_slice()
    }
}

/// The anchor GitHub gives each heading, in order; a repeated heading gets `-1`, `-2`, ….
fn heading_slugs(markdown: &str) -> Vec<String> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut slugs = Vec::new();
    for block in prose_blocks(markdown) {
        for line in block.text.lines() {
            let Some(text) = atx_heading(line) else { continue };
            let base = slug(&visible_text(text));
            let count = seen.entry(base.clone()).or_insert(0);
            slugs.push(if *count == 0 { base } else { format!("{base}-{count}") });
            *count += 1;
        }
    }
    slugs
}

/// The text of an ATX heading (`## Text`, up to three spaces before, an optional closing `##`).
fn atx_heading(line: &str) -> Option<&str> {
    let trimmed = line.trim_start_matches(' ');
    if line.len() - trimmed.len() > 3 {
        return None;
    }
    let level = trimmed.chars().take_while(|&c| c == '#').count();
    if !(1..=6).contains(&level) {
        return None;
    }
    let rest = &trimmed[level..];
    if !(rest.is_empty() || rest.starts_with(' ') || rest.starts_with('\t')) {
        return None; // `#hashtag` is not a heading
    }
    let rest = rest.trim();
    let without_closing = rest.trim_end_matches('#');
    if without_closing.is_empty() || without_closing.ends_with(' ') || without_closing.ends_with('\t') {
        Some(without_closing.trim_end())
    } else {
        Some(rest) // `# C#` keeps its `#`
    }
}

/// A heading's text as rendered, for its slug: a link `[text](target)` counts as its text.
fn visible_text(heading: &str) -> String {
    let chars: Vec<char> = heading.chars().collect();
    let mut text = String::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '['
            && let Some((close, end)) = link_at(&chars, i)
        {
            text.extend(&chars[i + 1..close]);
            i = end + 1;
            continue;
        }
        text.push(chars[i]);
        i += 1;
    }
    text
}

/// GitHub's slug of a heading's text.
fn slug(text: &str) -> String {
    text.trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            '-' | '_' => Some(c),
            c if c.is_alphanumeric() => Some(c),
            _ => None,
        })
        .collect()
}

// ---- Finding links ----

/// One link: the line it starts on (from 1) and its destination.
struct Link {
    line: usize,
    target: String,
}

/// Every link outside fenced code blocks and inline code.
fn links_in(markdown: &str) -> Vec<Link> {
    let mut links = Vec::new();
    for block in prose_blocks(markdown) {
        let prose = without_code_spans(&block.text);
        links.extend(find_links(&prose, block.first_line));
    }
    links
}

/// A run of non-blank lines outside fenced code, with the number of its first line.
struct Block {
    first_line: usize,
    text: String,
}

/// The paragraphs (and headings, lists, tables) of a Markdown file, leaving out fenced code.
/// Inline code never spans two blocks, so each block can be read on its own.
fn prose_blocks(markdown: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut fence: Option<Fence> = None;
    let mut current: Option<Block> = None;
    for (index, line) in markdown.lines().enumerate() {
        if let Some(open) = fence {
            if open.is_closed_by(line) {
                fence = None;
            }
            continue;
        }
        if let Some(open) = Fence::opened_by(line) {
            blocks.extend(current.take());
            fence = Some(open);
            continue;
        }
        if line.trim().is_empty() {
            blocks.extend(current.take());
            continue;
        }
        let block = current.get_or_insert_with(|| Block { first_line: index + 1, text: String::new() });
        if !block.text.is_empty() {
            block.text.push('\n');
        }
        block.text.push_str(line);
    }
    blocks.extend(current.take());
    blocks
}

/// The opening line of a fenced code block: three or more backticks or tildes.
#[derive(Clone, Copy)]
struct Fence {
    marker: char,
    len: usize,
}

impl Fence {
    fn opened_by(line: &str) -> Option<Fence> {
        // Any indentation: a fence inside a list item is indented like the item.
        let trimmed = line.trim_start();
        let marker = trimmed.chars().next().filter(|&c| c == '`' || c == '~')?;
        let len = trimmed.chars().take_while(|&c| c == marker).count();
        let info = &trimmed[len * marker.len_utf8()..];
        if len < 3 || (marker == '`' && info.contains('`')) {
            return None; // ``code`` at the start of a line is inline code, not a fence
        }
        Some(Fence { marker, len })
    }

    fn is_closed_by(self, line: &str) -> bool {
        let trimmed = line.trim();
        trimmed.chars().count() >= self.len && trimmed.chars().all(|c| c == self.marker)
    }
}

/// `text` with each inline code span (backticks included) blanked out, so that what it quotes
/// is not taken for a link. Blanks keep the line breaks, so line numbers stay right.
fn without_code_spans(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut prose = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '\\' && i + 1 < chars.len() {
            prose.push(chars[i]); // an escaped backtick opens nothing
            prose.push(chars[i + 1]);
            i += 2;
            continue;
        }
        if chars[i] != '`' {
            prose.push(chars[i]);
            i += 1;
            continue;
        }
        let run = run_length(&chars, i, '`');
        match closing_run(&chars, i + run, run) {
            Some(end) => {
                prose.extend(chars[i..end].iter().map(|&c| if c == '\n' { '\n' } else { ' ' }));
                i = end;
            }
            None => {
                // No closing run of the same length: the backticks are literal.
                prose.extend(std::iter::repeat_n('`', run));
                i += run;
            }
        }
    }
    prose
}

/// How many `c` in a row start at `start`.
fn run_length(chars: &[char], start: usize, c: char) -> usize {
    chars[start..].iter().take_while(|&&x| x == c).count()
}

/// The index just after the next run of exactly `len` backticks from `from`, which closes a code
/// span opened by a run of that length.
fn closing_run(chars: &[char], from: usize, len: usize) -> Option<usize> {
    let mut i = from;
    while i < chars.len() {
        if chars[i] == '`' {
            let run = run_length(chars, i, '`');
            if run == len {
                return Some(i + run);
            }
            i += run;
        } else {
            i += 1;
        }
    }
    None
}

/// Every `[text](target)` in a block (code already blanked out), nested ones included, such as
/// an image inside a link.
fn find_links(prose: &str, first_line: usize) -> Vec<Link> {
    let chars: Vec<char> = prose.chars().collect();
    let mut links = Vec::new();
    for start in 0..chars.len() {
        if chars[start] != '[' || is_escaped(&chars, start) {
            continue;
        }
        let Some((close, end)) = link_at(&chars, start) else { continue };
        let destination: String = chars[close + 2..end].iter().collect();
        let line = first_line + chars[..start].iter().filter(|&&c| c == '\n').count();
        links.push(Link { line, target: link_target(&destination) });
    }
    links
}

/// For a `[` at `start` that opens a link: the index of its `]` and of the `)` ending its
/// destination.
fn link_at(chars: &[char], start: usize) -> Option<(usize, usize)> {
    let close = matching(chars, start, '[', ']')?;
    if chars.get(close + 1) != Some(&'(') {
        return None;
    }
    let end = matching(chars, close + 1, '(', ')')?;
    Some((close, end))
}

/// The index of the bracket that closes the one at `open_at`, minding nesting and escapes.
fn matching(chars: &[char], open_at: usize, open: char, close: char) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = open_at;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' {
            i += 2; // the escaped character counts for nothing
            continue;
        }
        if c == open {
            depth += 1;
        } else if c == close {
            depth -= 1;
            if depth == 0 {
                return Some(i);
            }
        }
        i += 1;
    }
    None
}

/// Whether the character at `at` is escaped by an odd number of backslashes before it.
fn is_escaped(chars: &[char], at: usize) -> bool {
    chars[..at].iter().rev().take_while(|&&c| c == '\\').count() % 2 == 1
}

/// The target of a link's destination: `target`, `<target>`, or either followed by a title.
fn link_target(destination: &str) -> String {
    let destination = destination.trim();
    if let Some(rest) = destination.strip_prefix('<') {
        return rest.split('>').next().unwrap_or_default().to_string();
    }
    destination.split_whitespace().next().unwrap_or_default().to_string()
}
