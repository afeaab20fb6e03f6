// Package event is weft's event model: one type for logs, spans and metrics,
// with fields addressed by JSON-pointer paths, metadata that is never shipped,
// copy-on-write cloning for fan-out and an acknowledgement handle.
package event

import (
	"sort"
	"time"
)

// Kind says what an event carries.
type Kind uint8

const (
	KindLog Kind = iota
	KindSpan
	KindMetric
)

func (k Kind) String() string {
	switch k {
	case KindSpan:
		return "span"
	case KindMetric:
		return "metric"
	default:
		return "log"
	}
}

// Event is one log record, span or metric point.
//
// Field values are JSON-like: map[string]any, []any, string, int64, float64,
// bool or nil. An event owns its fields unless it was cloned: clones share the
// field tree until one of them writes, which copies it first.
type Event struct {
	Kind Kind
	// Time is the event's own time (log time, span start, sample time).
	Time time.Time

	fields map[string]any
	shared *bool // non-nil and true while the field tree is shared with a clone
	// order, set by the source, is shared by events it expects to have
	// the same field names (keyorder.go).
	order *OrderHint

	tags []string
	meta map[string]any
	// metaShared is true while meta is shared with other events by
	// ShareMetadata: it is copied before it is changed.
	metaShared bool
	acker      *Acker
}

// New returns an event that takes ownership of fields (nil is an empty map).
func New(kind Kind, t time.Time, fields map[string]any) *Event {
	if fields == nil {
		fields = make(map[string]any, 8)
	}
	return &Event{Kind: kind, Time: t, fields: fields}
}

// NewBatch allocates n empty log events in one backing array, so a source
// that produces many events pays one allocation for the event headers.
func NewBatch(n int, kind Kind, t time.Time) []*Event {
	backing := make([]Event, n)
	out := make([]*Event, n)
	for i := range backing {
		backing[i].Kind = kind
		backing[i].Time = t
		out[i] = &backing[i]
	}
	return out
}

// Fields returns the field tree for reading. Callers must not modify it;
// use Mutable for that.
func (e *Event) Fields() map[string]any {
	if e.fields == nil {
		e.fields = make(map[string]any, 8)
	}
	return e.fields
}

// Mutable returns the field tree for writing, copying it first if it is
// shared with a clone.
func (e *Event) Mutable() map[string]any {
	if e.shared != nil && *e.shared {
		e.fields = DeepCopyMap(e.fields)
		e.shared = nil
		if e.meta != nil {
			e.meta = copyMap(e.meta)
			e.metaShared = false
		}
	}
	if e.fields == nil {
		e.fields = make(map[string]any, 8)
	}
	return e.fields
}

// SetFields replaces the whole field tree (taking ownership of m).
func (e *Event) SetFields(m map[string]any) {
	e.fields = m
	e.shared = nil
}

// Clone returns an event that shares this one's fields until either writes.
// The clone holds its own reference on the acknowledgement handle.
func (e *Event) Clone() *Event {
	flag := e.shared
	if flag == nil {
		b := true
		flag = &b
		e.shared = flag
	}
	c := &Event{Kind: e.Kind, Time: e.Time, fields: e.fields, shared: flag, order: e.order, meta: e.meta, metaShared: e.metaShared, acker: e.acker}
	if len(e.tags) > 0 {
		c.tags = append([]string(nil), e.tags...)
	}
	if e.acker != nil {
		e.acker.add(1)
	}
	return c
}

// Get returns the value at path.
func (e *Event) Get(p Path) (any, bool) {
	return p.Lookup(e.fields)
}

// GetString returns the value at path when it is a string.
func (e *Event) GetString(p Path) (string, bool) {
	v, ok := p.Lookup(e.fields)
	if !ok {
		return "", false
	}
	s, ok := v.(string)
	return s, ok
}

// Put sets the value at path, creating intermediate objects. It fails only
// when an intermediate value exists and is not an object.
func (e *Event) Put(p Path, v any) bool {
	return p.Set(e.Mutable(), v)
}

// Delete removes the value at path and reports whether it was there.
func (e *Event) Delete(p Path) bool {
	if _, ok := p.Lookup(e.fields); !ok {
		return false
	}
	return p.Delete(e.Mutable())
}

// Tags returns the event's tags (metadata, never shipped unless a sink asks).
func (e *Event) Tags() []string { return e.tags }

// AddTags adds tags that are not present yet.
func (e *Event) AddTags(tags ...string) {
	for _, t := range tags {
		if !e.HasTag(t) {
			e.tags = append(e.tags, t)
		}
	}
}

// HasTag reports whether the event carries tag.
func (e *Event) HasTag(tag string) bool {
	for _, t := range e.tags {
		if t == tag {
			return true
		}
	}
	return false
}

// Metadata returns a metadata attribute (source info, routing hints).
func (e *Event) Metadata(key string) (any, bool) {
	v, ok := e.meta[key]
	return v, ok
}

// SetMetadata sets a metadata attribute.
func (e *Event) SetMetadata(key string, v any) {
	if e.meta == nil {
		e.meta = make(map[string]any, 2)
	} else if e.metaShared || e.shared != nil && *e.shared {
		e.meta = copyMap(e.meta)
		e.metaShared = false
	}
	e.meta[key] = v
}

// ShareMetadata replaces the event's metadata with m without copying it, so
// that a source can give many events the same metadata for free. m is
// shared: nobody may modify it afterwards (the event copies it before its
// first SetMetadata).
func (e *Event) ShareMetadata(m map[string]any) {
	e.meta = m
	e.metaShared = m != nil
}

// MetadataKeys returns the metadata keys in sorted order.
func (e *Event) MetadataKeys() []string {
	keys := make([]string, 0, len(e.meta))
	for k := range e.meta {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func copyMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// DeepCopyMap copies a JSON-like tree.
func DeepCopyMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m)+2)
	for k, v := range m {
		out[k] = DeepCopy(v)
	}
	return out
}

// DeepCopy copies a JSON-like value.
func DeepCopy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		return DeepCopyMap(t)
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = DeepCopy(x)
		}
		return out
	default:
		return v
	}
}
