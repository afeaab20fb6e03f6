// Package parsejson implements the parse_json processor, compatible with
// OpenSearch Data Prepper's processor of the same name: it parses a field
// holding JSON text into structure, merged into the event's root or stored
// at a destination.
package parsejson

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"unsafe"

	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/pipelines/expr"
	"github.com/weft-agent/weft/pipelines/ratelog"
)

func init() {
	pipelines.RegisterProcessor("parse_json",
		"parses a field holding JSON text into the event's root or a destination field",
		NewConfig, New)
}

var (
	errNotString = errors.New("the source field is not a string")
	errNotObject = errors.New("the JSON is not an object, so it cannot be merged into the root (set destination)")
	errBlocked   = errors.New("a value on the way to the destination is not an object")
)

// processor is immutable after New (ratelog.Logger is atomic), so workers share
// it without locking.
type processor struct {
	source      event.Path
	dest        event.Path
	toRoot      bool
	hasPointer  bool
	pointer     event.Path // into the parsed JSON
	pointerEnd  event.Path // the pointer's last key (two when it ends in an index), looked up in the event
	shortKey    string     // pointerEnd with '/' as '.', the key the value is stored under
	fullKey     string     // the whole pointer with '/' as '.', used when shortKey exists already
	depth       int
	when        *expr.Expression
	tags        []string
	overwrite   bool
	deleteSrc   bool
	logFailures bool
	failures    *ratelog.Logger
}

// New creates a parse_json processor.
func New(s pipelines.Settings, c *Config) (pipelines.Processor, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	p := &processor{
		source:      event.ParsePath(c.Source),
		toRoot:      c.Destination == "",
		depth:       c.Depth,
		when:        c.ParseWhen,
		tags:        c.TagsOnFailure,
		overwrite:   c.OverwriteIfDestinationExists,
		deleteSrc:   c.DeleteSource,
		logFailures: c.HandleFailedEvents != "skip_silently",
		failures:    ratelog.New(s.Logger, "parse_json: events could not be parsed; they continue unparsed"),
	}
	if !p.toRoot {
		p.dest = event.ParsePath(c.Destination)
	}
	if c.Pointer != "" {
		// Data Prepper trims the pointer's slashes and names the value after
		// its last key, or its last two when it ends in an array index.
		trimmed := strings.Trim(c.Pointer, "/")
		segs := strings.Split(trimmed, "/")
		end := trimmed
		if n := len(segs); n > 1 {
			end = segs[n-1]
			if arrayIndex.MatchString(end) {
				end = segs[n-2] + "/" + end
			}
		}
		p.hasPointer = true
		p.pointer = event.ParsePath(trimmed)
		p.pointerEnd = event.ParsePath(end)
		p.shortKey = strings.ReplaceAll(end, "/", ".")
		p.fullKey = strings.ReplaceAll(trimmed, "/", ".")
	}
	return p, nil
}

var arrayIndex = regexp.MustCompile(`^[0-9]+$`)

// Process parses the source of every event the condition selects. Events
// never leave here: a failure tags the event and lets it continue as it
// was.
func (p *processor) Process(_ context.Context, events []*event.Event) []*event.Event {
	for _, ev := range events {
		if p.when != nil && !p.when.Bool(ev) {
			continue
		}
		raw, ok := ev.Get(p.source)
		if !ok || raw == nil {
			continue // nothing to parse is not a failure
		}
		text, ok := raw.(string)
		if !ok {
			p.fail(ev, errNotString)
			continue
		}
		if err := p.parseInto(ev, text); err != nil {
			p.fail(ev, err)
		}
	}
	return events
}

func (p *processor) parseInto(ev *event.Event, text string) error {
	var parsed any
	var err error
	if p.toRoot && !p.hasPointer {
		// The common case; the object decoder rejects other JSON at once.
		var obj map[string]any
		obj, err = event.DecodeJSONObject(bytesOf(text))
		if err == nil {
			parsed = obj
		}
	} else {
		parsed, err = event.DecodeJSON(bytesOf(text))
	}
	if err != nil {
		return err
	}
	obj, isObject := parsed.(map[string]any)
	if isObject && p.depth > 0 {
		stringifyBelow(obj, 1, p.depth)
	}
	if p.hasPointer && isObject {
		obj = p.selectPointer(ev, obj)
		parsed = obj
	}
	if p.toRoot {
		if !isObject {
			return errNotObject
		}
		if p.deleteSrc {
			ev.Delete(p.source) // first, so that a key of the JSON with the same name stays
		}
		p.mergeIntoRoot(ev, obj)
		return nil
	}
	if p.overwrite || !exists(ev, p.dest) {
		if !ev.Put(p.dest, parsed) {
			return errBlocked
		}
	}
	if p.deleteSrc {
		ev.Delete(p.source)
	}
	return nil
}

// selectPointer returns {key: value at the pointer}, or the whole object
// when the pointer matches nothing, as Data Prepper does. The key is the
// pointer's last key, or the whole pointer (slashes as dots) when that key
// exists in the event already and the value goes to the root.
func (p *processor) selectPointer(ev *event.Event, obj map[string]any) map[string]any {
	v, ok := p.pointer.Lookup(obj)
	if !ok {
		return obj
	}
	key := p.shortKey
	if p.toRoot && exists(ev, p.pointerEnd) {
		key = p.fullKey
	}
	return map[string]any{key: v}
}

// mergeIntoRoot adds the parsed object's keys to the event's top level,
// keeping existing keys unless overwrite is set.
func (p *processor) mergeIntoRoot(ev *event.Event, obj map[string]any) {
	m := ev.Mutable() // unshared from now on, subtrees included
	if len(obj) > len(m) {
		// Moving the event's few fields into the freshly parsed map costs
		// less than growing the event's map to take the parsed ones.
		for k, v := range m {
			if _, clash := obj[k]; clash && p.overwrite {
				continue
			}
			obj[k] = v
		}
		ev.SetFields(obj)
		return
	}
	for k, v := range obj {
		if !p.overwrite {
			if _, clash := m[k]; clash {
				continue
			}
		}
		m[k] = v
	}
}

// stringifyBelow replaces the objects nested deeper than depth by their
// JSON text, as Data Prepper's depth option does (lists are left alone).
func stringifyBelow(m map[string]any, level, depth int) {
	for k, v := range m {
		sub, ok := v.(map[string]any)
		if !ok {
			continue
		}
		if level == depth {
			m[k] = string(event.AppendJSON(nil, sub))
		} else {
			stringifyBelow(sub, level+1, depth)
		}
	}
}

func (p *processor) fail(ev *event.Event, err error) {
	ev.AddTags(p.tags...)
	if p.logFailures {
		p.failures.Record(err)
	}
}

// Shutdown reports the failures counted since the last warning.
func (p *processor) Shutdown(context.Context) error {
	if p.logFailures {
		p.failures.Flush()
	}
	return nil
}

// bytesOf returns s's bytes without copying them: the copy would be a third
// of the bytes this processor allocates per event. The JSON decoder only
// reads its input and keeps no reference to it once it returns, so the
// string stays immutable; FuzzParseJSON checks that the input is unchanged.
func bytesOf(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

func exists(ev *event.Event, at event.Path) bool {
	_, ok := ev.Get(at)
	return ok
}
