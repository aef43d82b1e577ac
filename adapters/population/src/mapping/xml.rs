//! A small, strict XML reader: a whole document into a tree of elements, refusing what a SOAP
//! peer has no business sending.
//!
//! A DOCTYPE is refused outright, so no entity can be declared, and a reference to anything but
//! the five predefined entities or a character reference is refused too: nothing is ever expanded
//! (XXE, "billion laughs"). Depth and element count are bounded, so a hostile answer cannot make
//! the reader recurse or allocate without end.

use quick_xml::NsReader;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;

/// Deeper than any SOAP answer we read (the record is about 8 levels down).
const MAX_DEPTH: usize = 32;
/// More elements than a registry answer about one citizen could hold.
const MAX_ELEMENTS: usize = 20_000;

/// One element: its namespace and local name, its element children, and its text (the
/// concatenation of its own text and CDATA, untrimmed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Element {
    pub namespace: Option<String>,
    pub name: String,
    pub children: Vec<Element>,
    pub text: String,
}

impl Element {
    /// The first child with this local name, whatever its namespace.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// Every child with this local name.
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The trimmed text of the first child with this local name; `None` when absent or blank.
    pub fn text_of(&self, name: &str) -> Option<String> {
        self.child(name).map(|c| c.text.trim().to_string()).filter(|t| !t.is_empty())
    }

    /// The first element with this local name in a depth-first walk below this one.
    pub fn descendant(&self, name: &str) -> Option<&Element> {
        self.children.iter().find_map(|c| if c.name == name { Some(c) } else { c.descendant(name) })
    }
}

/// Why a document was not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    #[error("it carries a DOCTYPE, which is refused unread (entity declarations are never processed)")]
    Doctype,
    #[error("it refers to the entity &{0}; which is not one of XML's five; refused unexpanded")]
    Entity(String),
    #[error("it is nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
    #[error("it holds more than {MAX_ELEMENTS} elements")]
    TooLarge,
    #[error("it is not well-formed XML: {0}")]
    Malformed(String),
}

fn malformed(reason: impl std::fmt::Display) -> XmlError {
    XmlError::Malformed(reason.to_string())
}

/// Reads a whole document into its root element.
pub fn parse(text: &str) -> Result<Element, XmlError> {
    let mut reader = NsReader::from_str(text);
    reader.config_mut().check_comments = true;
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut count = 0usize;
    loop {
        let (resolved, event) = reader.read_resolved_event().map_err(malformed)?;
        let namespace = match resolved {
            ResolveResult::Bound(ns) => Some(ns.0.to_string()),
            ResolveResult::Unbound => None,
            ResolveResult::Unknown(prefix) => return Err(malformed(format!("unknown namespace prefix `{prefix}`"))),
        };
        match event {
            Event::DocType(_) => return Err(XmlError::Doctype),
            Event::Start(start) | Event::Empty(start) if root.is_some() => {
                return Err(malformed(format!("a second root element <{}>", local_name(&start))));
            }
            Event::Start(start) => {
                count += 1;
                if count > MAX_ELEMENTS {
                    return Err(XmlError::TooLarge);
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(XmlError::TooDeep);
                }
                stack.push(element(&start, namespace)?);
            }
            Event::Empty(start) => {
                count += 1;
                if count > MAX_ELEMENTS {
                    return Err(XmlError::TooLarge);
                }
                let element = element(&start, namespace)?;
                close(&mut stack, &mut root, element);
            }
            Event::End(_) => {
                // The reader checks that end tags match their start tags.
                let element = stack.pop().ok_or_else(|| malformed("an end tag without a start tag"))?;
                close(&mut stack, &mut root, element);
            }
            Event::Text(text) => match stack.last_mut() {
                Some(current) => current.text.push_str(&text.xml10_content()),
                None if text.trim().is_empty() => {}
                None => return Err(malformed("text outside the root element")),
            },
            Event::CData(cdata) => match stack.last_mut() {
                Some(current) => current.text.push_str(&cdata.xml10_content()),
                None => return Err(malformed("CDATA outside the root element")),
            },
            Event::GeneralRef(reference) => {
                let Some(current) = stack.last_mut() else {
                    return Err(malformed("a reference outside the root element"));
                };
                let resolved = match reference.resolve_char_ref().map_err(malformed)? {
                    Some(c) => c,
                    None => match &*reference {
                        "lt" => '<',
                        "gt" => '>',
                        "amp" => '&',
                        "apos" => '\'',
                        "quot" => '"',
                        other => return Err(XmlError::Entity(other.to_string())),
                    },
                };
                current.text.push(resolved);
            }
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if let Some(open) = stack.last() {
        return Err(malformed(format!("<{}> is never closed", open.name)));
    }
    root.ok_or_else(|| malformed("no root element"))
}

fn local_name(start: &BytesStart) -> String {
    let local = start.local_name();
    let name: &str = local.as_ref();
    name.to_string()
}

fn element(start: &BytesStart, namespace: Option<String>) -> Result<Element, XmlError> {
    // Attributes are not read, but they must be well-formed, as the rest of the document.
    for attribute in start.attributes() {
        attribute.map_err(malformed)?;
    }
    Ok(Element { namespace, name: local_name(start), ..Element::default() })
}

fn close(stack: &mut [Element], root: &mut Option<Element>, element: Element) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(element),
        None => *root = Some(element),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_becomes_a_tree_with_namespaces_and_text() {
        let text = r#"<?xml version="1.0" encoding="utf-8"?>
            <!-- a comment -->
            <s:Envelope xmlns:s="urn:s"><s:Body><r xmlns="urn:r"><a>x &lt;&amp;&#233;&#x1EA1; <![CDATA[<y>]]></a><b/></r></s:Body></s:Envelope>"#;
        let root = parse(text).unwrap();
        assert_eq!((root.namespace.as_deref(), root.name.as_str()), (Some("urn:s"), "Envelope"));
        let r = root.child("Body").unwrap().child("r").unwrap();
        assert_eq!(r.namespace.as_deref(), Some("urn:r"));
        assert_eq!(r.child("a").unwrap().text, "x <&éạ <y>");
        assert_eq!(r.text_of("b"), None);
        assert_eq!(root.descendant("b").map(|b| b.name.as_str()), Some("b"));
    }

    #[test]
    fn doctypes_and_unknown_entities_are_refused_unexpanded() {
        let internal = r#"<!DOCTYPE r [<!ENTITY e "expanded">]><r>&e;</r>"#;
        assert_eq!(parse(internal), Err(XmlError::Doctype));
        let external = r#"<?xml version="1.0"?><!DOCTYPE r SYSTEM "file:///etc/passwd"><r/>"#;
        assert_eq!(parse(external), Err(XmlError::Doctype));
        assert_eq!(parse("<r>&e;</r>"), Err(XmlError::Entity("e".into())));
    }

    #[test]
    fn malformed_documents_are_refused() {
        for bad in [
            "",
            "   ",
            "<r>",
            "<r></s>",
            "</r>",
            "<r/><r/>",
            "text<r/>",
            "<r a=1/>",
            "<p:r/>",
            "<r>&#0;</r>",
            "<r>& alone</r>",
            "<r><!-- a -- b --></r>",
            "{\"json\": true}",
        ] {
            assert!(matches!(parse(bad), Err(XmlError::Malformed(_))), "{bad:?}: {:?}", parse(bad));
        }
    }

    #[test]
    fn depth_and_size_are_bounded() {
        let deep = format!("{}{}", "<a>".repeat(MAX_DEPTH + 1), "</a>".repeat(MAX_DEPTH + 1));
        assert_eq!(parse(&deep), Err(XmlError::TooDeep));
        let wide = format!("<r>{}</r>", "<a/>".repeat(MAX_ELEMENTS + 1));
        assert_eq!(parse(&wide), Err(XmlError::TooLarge));
    }
}
