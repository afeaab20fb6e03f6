package filter

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// The query DSL arrives either as YAML (a mapping in the pipeline file) or
// as JSON text (a string holding an object, as OpenSearch documents it).
// Both are turned into the same small tree, whose nodes remember where
// they came from, so that the compiler reports every problem at its
// file:line:column.

type dkind uint8

const (
	dScalar dkind = iota
	dMap
	dSeq
)

// maxDepth bounds the nesting of the query text.
const maxDepth = 64

type dnode struct {
	kind dkind
	pos  srcPos
	// dMap: parallel keys and values; a key is a scalar node.
	keys, vals []*dnode
	// dSeq: items.
	items []*dnode
	// dScalar: the value (string, int64, float64, bool or nil) and the
	// source text (a number's digits as written).
	val  any
	text string
}

// srcPos is where a node is. line and col are positions in the pipeline
// file; when the query came as JSON text that cannot be mapped exactly onto
// the file (a block or quoted string), they are those of the string and
// jline/jcol give the position inside the JSON text.
type srcPos struct {
	line, col   int
	jline, jcol int
}

func (p srcPos) suffix() string {
	if p.jline == 0 {
		return ""
	}
	return fmt.Sprintf(" (line %d, column %d of the JSON text)", p.jline, p.jcol)
}

func (n *dnode) kindName() string {
	switch n.kind {
	case dMap:
		return "an object"
	case dSeq:
		return "a list"
	}
	switch v := n.val.(type) {
	case nil:
		return "null"
	case string:
		return strconv.Quote(v)
	}
	return n.text
}

// get returns the value of key in a map node.
func (n *dnode) get(key string) *dnode {
	for i, k := range n.keys {
		if k.text == key {
			return n.vals[i]
		}
	}
	return nil
}

// ---------------------------------------------------------------------------
// YAML

func fromYAML(n *yaml.Node, depth int) (*dnode, error) {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n != nil && n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	if n == nil {
		return &dnode{kind: dScalar, text: "null"}, nil
	}
	if depth > maxDepth {
		return nil, &posError{pos: srcPos{line: n.Line, col: n.Column}, msg: fmt.Sprintf("the query is nested deeper than %d levels", maxDepth)}
	}
	d := &dnode{pos: srcPos{line: n.Line, col: n.Column}}
	switch n.Kind {
	case yaml.MappingNode:
		d.kind = dMap
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode {
				return nil, &posError{pos: srcPos{line: k.Line, col: k.Column}, msg: "a key must be a plain name"}
			}
			v, err := fromYAML(n.Content[i+1], depth+1)
			if err != nil {
				return nil, err
			}
			d.keys = append(d.keys, &dnode{kind: dScalar, pos: srcPos{line: k.Line, col: k.Column}, val: k.Value, text: k.Value})
			d.vals = append(d.vals, v)
		}
	case yaml.SequenceNode:
		d.kind = dSeq
		d.items = make([]*dnode, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := fromYAML(c, depth+1)
			if err != nil {
				return nil, err
			}
			d.items = append(d.items, v)
		}
	default:
		d.kind = dScalar
		d.text = n.Value
		switch n.Tag {
		case "!!null":
			d.val = nil
		case "!!bool":
			d.val = n.Value == "true" || n.Value == "True" || n.Value == "TRUE"
		case "!!int":
			if i, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, 64); err == nil {
				d.val = i
			} else if f, err := strconv.ParseFloat(n.Value, 64); err == nil {
				d.val = f
			} else {
				d.val = n.Value
			}
		case "!!float":
			var f float64
			if err := n.Decode(&f); err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
				return nil, &posError{pos: d.pos, msg: fmt.Sprintf("%q is not a finite number", n.Value)}
			}
			d.val = f
		default: // !!str, !!timestamp (an unquoted date stays its text), …
			d.val = n.Value
		}
	}
	return d, nil
}

// ---------------------------------------------------------------------------
// JSON text

// posError is an error at a position in the query text.
type posError struct {
	pos srcPos
	msg string
}

func (e *posError) Error() string { return e.msg }

// jsonSource maps byte offsets of a JSON text to positions.
type jsonSource struct {
	text       string
	lineStarts []int
	// base is the file position of the text's first byte, when it can be
	// mapped exactly (a plain or single-quoted one-line YAML string); ok
	// says whether it can.
	baseLine, baseCol int
	exact             bool
	// strLine/strCol: the string node, for the inexact case.
	strLine, strCol int
}

func newJSONSource(text string) *jsonSource {
	s := &jsonSource{text: text, lineStarts: []int{0}}
	for i := 0; i < len(text); i++ {
		if text[i] == '\n' {
			s.lineStarts = append(s.lineStarts, i+1)
		}
	}
	return s
}

func (s *jsonSource) pos(off int) srcPos {
	if off > len(s.text) {
		off = len(s.text)
	}
	line := 0
	lo, hi := 0, len(s.lineStarts)-1
	for lo <= hi {
		mid := (lo + hi) / 2
		if s.lineStarts[mid] <= off {
			line = mid
			lo = mid + 1
		} else {
			hi = mid - 1
		}
	}
	start := s.lineStarts[line]
	end := off
	if !utf8.ValidString(s.text[start:end]) {
		end = start + len(strings.ToValidUTF8(s.text[start:end], "?"))
	}
	col := utf8.RuneCountInString(s.text[start:end]) + 1
	if s.exact {
		return srcPos{line: s.baseLine + line, col: s.baseCol + col - 1}
	}
	return srcPos{line: s.strLine, col: s.strCol, jline: line + 1, jcol: col}
}

// fromJSON parses text (one JSON value, normally an object) into a tree.
func fromJSON(src *jsonSource) (*dnode, error) {
	dec := json.NewDecoder(strings.NewReader(src.text))
	dec.UseNumber()
	p := &jparser{src: src, dec: dec}
	root, err := p.value(0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, &posError{pos: src.pos(p.tokenStart()), msg: "unexpected text after the JSON value"}
	}
	return root, nil
}

type jparser struct {
	src *jsonSource
	dec *json.Decoder
}

// tokenStart is the offset of the next token: the decoder's offset past
// whitespace and the separators it consumes with a token.
func (p *jparser) tokenStart() int {
	off := int(p.dec.InputOffset())
	t := p.src.text
	for off < len(t) && (t[off] == ' ' || t[off] == '\t' || t[off] == '\r' || t[off] == '\n' || t[off] == ',' || t[off] == ':') {
		off++
	}
	return off
}

func (p *jparser) next() (json.Token, srcPos, error) {
	at := p.tokenStart()
	tok, err := p.dec.Token()
	if err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			// The decoder's offset is sometimes that of the previous token;
			// the offending character is at least where this one starts.
			pos := p.src.pos(max(int(se.Offset)-1, at))
			return nil, pos, &posError{pos: pos, msg: "invalid JSON: " + se.Error()}
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil, p.src.pos(len(p.src.text)), &posError{pos: p.src.pos(len(p.src.text)), msg: "invalid JSON: unexpected end of the text"}
		}
		return nil, p.src.pos(at), &posError{pos: p.src.pos(at), msg: "invalid JSON: " + err.Error()}
	}
	return tok, p.src.pos(at), nil
}

func (p *jparser) value(depth int) (*dnode, error) {
	tok, pos, err := p.next()
	if err != nil {
		return nil, err
	}
	return p.valueFrom(tok, pos, depth)
}

func (p *jparser) valueFrom(tok json.Token, pos srcPos, depth int) (*dnode, error) {
	if depth > maxDepth {
		return nil, &posError{pos: pos, msg: fmt.Sprintf("the query is nested deeper than %d levels", maxDepth)}
	}
	d := &dnode{pos: pos}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			d.kind = dMap
			for {
				kt, kpos, err := p.next()
				if err != nil {
					return nil, err
				}
				if kt == json.Delim('}') {
					return d, nil
				}
				ks, ok := kt.(string)
				if !ok {
					return nil, &posError{pos: kpos, msg: "invalid JSON: expected a key"}
				}
				v, err := p.value(depth + 1)
				if err != nil {
					return nil, err
				}
				d.keys = append(d.keys, &dnode{kind: dScalar, pos: kpos, val: ks, text: ks})
				d.vals = append(d.vals, v)
			}
		case '[':
			d.kind = dSeq
			for {
				it, ipos, err := p.next()
				if err != nil {
					return nil, err
				}
				if it == json.Delim(']') {
					return d, nil
				}
				v, err := p.valueFrom(it, ipos, depth+1)
				if err != nil {
					return nil, err
				}
				d.items = append(d.items, v)
			}
		}
		return nil, &posError{pos: pos, msg: "invalid JSON: unexpected " + t.String()}
	case string:
		d.val, d.text = t, t
	case bool:
		d.val, d.text = t, strconv.FormatBool(t)
	case nil:
		d.val, d.text = nil, "null"
	case json.Number:
		d.text = string(t)
		if i, err := strconv.ParseInt(d.text, 10, 64); err == nil {
			d.val = i
		} else if f, err := strconv.ParseFloat(d.text, 64); err == nil {
			d.val = f
		} else {
			return nil, &posError{pos: pos, msg: fmt.Sprintf("number %s is out of range", d.text)}
		}
	default:
		return nil, &posError{pos: pos, msg: fmt.Sprintf("invalid JSON token %v", tok)}
	}
	return d, nil
}

// jsonFromScalar prepares the JSON text held by a YAML string node, working
// out whether positions inside it map exactly onto the file.
func jsonFromScalar(n *yaml.Node) *jsonSource {
	src := newJSONSource(n.Value)
	src.strLine, src.strCol = n.Line, n.Column
	oneLine := !strings.ContainsAny(n.Value, "\n\r")
	switch {
	case oneLine && n.Style == 0:
		src.exact, src.baseLine, src.baseCol = true, n.Line, n.Column
	case oneLine && n.Style == yaml.SingleQuotedStyle && !strings.Contains(n.Value, "'"):
		src.exact, src.baseLine, src.baseCol = true, n.Line, n.Column+1
	}
	return src
}

// looksLikeJSON reports whether a string option holds a JSON object.
func looksLikeJSON(s string) bool {
	return bytes.HasPrefix(bytes.TrimSpace([]byte(s)), []byte("{"))
}
