//! The shape of a YAML text for [`super`]: every node with its key path and its byte
//! range, from the parser's events (not the deserializer: the document may not fit the
//! scenario's mirror yet, and a `--set` may be what makes it fit).

use std::ops::Range;

use super::*;

#[derive(Debug)]
pub(super) enum Kind {
    Scalar {
        value: String,
        style: ScalarStyle,
        /// Inside `[ ]` or `{ }`, where `,` and brackets end a plain scalar.
        flow: bool,
    },
    Map,
    Seq,
    /// An alias (`*name`) or anything else that cannot be set into.
    Other,
}

/// A map key as written: the key, its byte range, its column in characters.
pub(super) type Key = (String, Range<usize>, usize);

/// The open collections: (node, the key read and waiting for its value).
type Stack = Vec<(usize, Option<Key>)>;

#[derive(Debug)]
pub(super) struct Node {
    pub path: String,
    pub bytes: Range<usize>,
    pub kind: Kind,
    pub block: bool,
    /// (key, its byte range, its column in characters) or (index) → node.
    pub children: Vec<(Option<Key>, usize)>,
}

#[derive(Debug)]
pub(super) struct Tree {
    pub nodes: Vec<Node>,
}

impl Tree {
    /// The nodes of the first document; `None` when the text does not parse (or uses
    /// what is not read here: a collection as a key).
    pub fn parse(text: &str) -> Option<Tree> {
        let mut nodes: Vec<Node> = Vec::new();
        // (node, the key read and waiting for its value)
        let mut stack: Stack = Vec::new();
        for next in Parser::new_from_str(text) {
            let (event, span) = next.ok()?;
            let bytes = span.byte_range()?;
            let col = span.start.col();
            let new_node = |nodes: &mut Vec<Node>,
                            stack: &mut Stack,
                            kind: Kind,
                            block: bool|
             -> Option<usize> {
                let id = nodes.len();
                let (path, key) = match stack.last_mut() {
                    None => (String::new(), None),
                    Some((parent, key)) => {
                        let parent = &nodes[*parent];
                        match (&parent.kind, key.take()) {
                            (Kind::Map, Some(k)) => {
                                let path = if parent.path.is_empty() {
                                    k.0.clone()
                                } else {
                                    format!("{}.{}", parent.path, k.0)
                                };
                                (path, Some(k))
                            }
                            (Kind::Seq, None) => {
                                (format!("{}[{}]", parent.path, parent.children.len()), None)
                            }
                            _ => return None,
                        }
                    }
                };
                if let Some((parent, _)) = stack.last() {
                    nodes[*parent].children.push((key, id));
                }
                nodes.push(Node {
                    path,
                    bytes: bytes.clone(),
                    kind,
                    block,
                    children: Vec::new(),
                });
                Some(id)
            };
            // A map waiting for a key reads this event as the key.
            let wants_key = stack
                .last()
                .is_some_and(|(n, k)| matches!(nodes[*n].kind, Kind::Map) && k.is_none());
            match event {
                Event::Scalar(value, _, _, _) if wants_key => {
                    stack.last_mut()?.1 = Some((value.into_owned(), bytes.clone(), col));
                }
                Event::Scalar(value, style, _, _) => {
                    let flow = stack.iter().any(|(n, _)| !nodes[*n].block);
                    let kind = Kind::Scalar {
                        value: value.into_owned(),
                        style,
                        flow,
                    };
                    new_node(&mut nodes, &mut stack, kind, true)?;
                }
                Event::Alias(_) if wants_key => {
                    stack.last_mut()?.1 = Some(("*".to_owned(), bytes.clone(), col));
                }
                Event::Alias(_) => {
                    new_node(&mut nodes, &mut stack, Kind::Other, true)?;
                }
                Event::MappingStart(style, ..) | Event::SequenceStart(style, ..) => {
                    if wants_key {
                        return None;
                    }
                    let kind = if matches!(event, Event::MappingStart(..)) {
                        Kind::Map
                    } else {
                        Kind::Seq
                    };
                    let id =
                        new_node(&mut nodes, &mut stack, kind, style == StructureStyle::Block)?;
                    stack.push((id, None));
                }
                Event::MappingEnd | Event::SequenceEnd => {
                    let (id, _) = stack.pop()?;
                    let node = &nodes[id];
                    // A flow collection ends at its bracket; a block one with its last child.
                    let end = if node.block {
                        node.children
                            .last()
                            .map_or(node.bytes.end, |(_, c)| nodes[*c].bytes.end)
                    } else {
                        bytes.end
                    };
                    let node = &mut nodes[id];
                    node.bytes.end = end.max(node.bytes.start);
                }
                Event::DocumentEnd => break,
                _ => {}
            }
        }
        (!nodes.is_empty()).then_some(Tree { nodes })
    }

    /// The deepest node along `segments` (root = node 0) and how many segments it took.
    /// A key may hold dots (`load.mix.a.test`): the longest run of segments that names a
    /// key of the map is taken.
    pub fn deepest(&self, segments: &[Segment]) -> (usize, usize) {
        let (mut node, mut depth) = (0, 0);
        'down: while depth < segments.len() {
            let n = &self.nodes[node];
            match (&n.kind, &segments[depth]) {
                (Kind::Seq, Segment::Index(i)) => match n.children.get(*i) {
                    Some((_, c)) => {
                        node = *c;
                        depth += 1;
                    }
                    None => break,
                },
                (Kind::Map, Segment::Key(_)) => {
                    for take in (1..=segments.len() - depth).rev() {
                        let Some(joined) = join_keys(&segments[depth..depth + take]) else {
                            continue;
                        };
                        let found = n
                            .children
                            .iter()
                            .find(|(k, _)| k.as_ref().is_some_and(|(key, _, _)| *key == joined));
                        if let Some((_, c)) = found {
                            node = *c;
                            depth += take;
                            continue 'down;
                        }
                    }
                    break;
                }
                _ => break,
            }
        }
        (node, depth)
    }

    /// Where and what to insert to add `key: value` to map `node`.
    pub fn insert(&self, node: usize, key: &str, value: &str) -> (Range<usize>, String) {
        let n = &self.nodes[node];
        let first_key = n.children.first().and_then(|(k, _)| k.as_ref());
        match (n.block, first_key) {
            // Before the first key, lined up with it (its column is its indentation, or
            // follows the `- ` of a list item).
            (true, Some((_, bytes, col))) => (
                bytes.start..bytes.start,
                format!("{key}: {value}\n{}", " ".repeat(*col)),
            ),
            (_, first) => {
                let at = n.bytes.start + 1;
                let comma = if first.is_some() { "," } else { "" };
                (at..at, format!(" {key}: {value}{comma} "))
            }
        }
    }
}

/// Segments that are all keys, joined with dots.
fn join_keys(segments: &[Segment]) -> Option<String> {
    let keys: Option<Vec<&str>> = segments
        .iter()
        .map(|s| match s {
            Segment::Key(k) => Some(k.as_str()),
            Segment::Index(_) => None,
        })
        .collect();
    keys.map(|k| k.join("."))
}
