package opensearch

import (
	"errors"
	"unicode/utf8"

	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/pipelines/template"
)

// encoder writes bulk request lines. It is immutable after newEncoder and
// safe for concurrent use; callers pass their own scratch buffer.
//
// One document is its action line and, except for delete, its source line:
//
//	{"index":{"_index":"logs-2024.05.01","_id":"abc","routing":"t1"}}
//	{"message":"...","level":"info"}
//
// Upserts wrap the source: {"doc":{...},"doc_as_upsert":true}. The event's
// JSON comes from event.AppendJSON (no reflection, keys sorted); names are
// escaped by hand. Nothing here allocates once the buffers have grown.
type encoder struct {
	verb    string // index, create, update, delete
	upsert  bool
	delete  bool
	index   *template.Template // nil when static
	prefix  []byte             // {"<verb>":{"_index":"<static index>"  or  {"<verb>":{"_index":
	docID   *template.Template
	routing *template.Template
	// staticIndex is the index name when it does not depend on the event.
	staticIndex string
}

// encodeError is why an event cannot be put in a bulk request; it is
// dead-lettered with Type as the error type.
type encodeError struct {
	Type   string
	Reason string
}

func newEncoder(c *Config) *encoder {
	e := &encoder{}
	switch c.Action {
	case ActionUpsert:
		e.verb, e.upsert = "update", true
	case ActionDelete:
		e.verb, e.delete = "delete", true
	case ActionCreate:
		e.verb = "create"
	default:
		e.verb = "index"
	}
	switch c.IndexType {
	case IndexTypeTraceRaw:
		e.staticIndex = SpanAlias
		e.docID = template.MustParse("${/spanId}")
	case IndexTypeServiceMap:
		e.staticIndex = ServiceMapIndex
		e.docID = template.MustParse("${/hashId}")
	default:
		if c.Index.IsStatic() {
			e.staticIndex = c.Index.String()
		} else {
			t := c.Index
			e.index = &t
		}
	}
	if c.DocumentID.String() != "" {
		t := c.DocumentID
		e.docID = &t
	}
	if c.Routing.String() != "" {
		t := c.Routing
		e.routing = &t
	}
	e.prefix = append(e.prefix, `{"`...)
	e.prefix = append(e.prefix, e.verb...)
	e.prefix = append(e.prefix, `":{"_index":`...)
	if e.index == nil {
		e.prefix = appendJSONString(e.prefix, []byte(e.staticIndex))
	}
	return e
}

// appendDoc appends ev's lines to dst. tmp is scratch for template values.
// On failure dst is returned unchanged in length.
func (e *encoder) appendDoc(dst []byte, tmp *[]byte, ev *event.Event) ([]byte, *encodeError) {
	start := len(dst)
	dst = append(dst, e.prefix...)
	if e.index != nil {
		var err error
		*tmp, err = e.index.Expand((*tmp)[:0], ev)
		if err != nil {
			return dst[:start], templateError("index_template", "index", err)
		}
		dst = appendJSONString(dst, *tmp)
	}
	if e.docID != nil {
		var err error
		*tmp, err = e.docID.Expand((*tmp)[:0], ev)
		if err != nil {
			return dst[:start], templateError("document_id", "document ID", err)
		}
		dst = append(dst, `,"_id":`...)
		dst = appendJSONString(dst, *tmp)
	}
	if e.routing != nil {
		var err error
		*tmp, err = e.routing.Expand((*tmp)[:0], ev)
		if err != nil {
			return dst[:start], templateError("routing", "routing", err)
		}
		dst = append(dst, `,"routing":`...)
		dst = appendJSONString(dst, *tmp)
	}
	dst = append(dst, '}', '}', '\n')
	switch {
	case e.delete:
	case e.upsert:
		dst = append(dst, `{"doc":`...)
		dst = ev.AppendJSON(dst)
		dst = append(dst, `,"doc_as_upsert":true}`...)
		dst = append(dst, '\n')
	default:
		dst = ev.AppendJSON(dst)
		dst = append(dst, '\n')
	}
	return dst, nil
}

func templateError(typ, what string, err error) *encodeError {
	var mf *template.MissingFieldError
	if errors.As(err, &mf) {
		return &encodeError{Type: typ, Reason: typ + ": field " + mf.Field + " referenced by the " + what + " template is missing or null"}
	}
	return &encodeError{Type: typ, Reason: typ + ": " + err.Error()}
}

// indexName returns the index ev goes to (for dead letters; cold path).
func (e *encoder) indexName(ev *event.Event) string {
	if e.index == nil {
		return e.staticIndex
	}
	b, err := e.index.Expand(nil, ev)
	if err != nil {
		return e.index.String()
	}
	return string(b)
}

// docIDOf returns ev's document ID, or "" (for dead letters; cold path).
func (e *encoder) docIDOf(ev *event.Event) string {
	if e.docID == nil {
		return ""
	}
	b, err := e.docID.Expand(nil, ev)
	if err != nil {
		return ""
	}
	return string(b)
}

// appendJSONString appends s as a JSON string. Plain ASCII is copied as it
// is; anything else goes through event.AppendJSON (encoding/json's rules).
func appendJSONString(dst []byte, s []byte) []byte {
	for _, c := range s {
		if c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf {
			return event.AppendJSON(dst, string(s))
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}
