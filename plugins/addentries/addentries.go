// Package addentries implements the add_entries processor, compatible with
// OpenSearch Data Prepper's processor of the same name: it sets fields or
// metadata attributes from literal values, format strings or expressions.
package addentries

import (
	"context"
	"fmt"

	"github.com/sirupsen/logrus"

	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/pipelines/expr"
)

func init() {
	pipelines.RegisterProcessor("add_entries",
		"adds fields or metadata from literal values, ${/pointer} formats or expressions",
		NewConfig, New)
}

// processor is immutable after New, so workers share it without locking.
type processor struct {
	entries []entry
	log     *logrus.Entry
}

type entry struct {
	key     event.Path
	keyTmpl *template // set when the key holds ${...} references
	metaKey string

	value     any
	composite bool // value is a map or list: each event gets its own copy
	format    *template
	valueExpr *expr.Expression

	when      *expr.Expression
	overwrite bool
	append    bool
}

// New creates an add_entries processor.
func New(s pipelines.Settings, c *Config) (pipelines.Processor, error) {
	p := &processor{entries: make([]entry, 0, len(c.Entries)), log: s.Logger}
	for i := range c.Entries {
		ce := &c.Entries[i]
		if err := ce.Validate(); err != nil {
			return nil, fmt.Errorf("entries[%d]: %w", i, err)
		}
		e := entry{
			metaKey:   ce.MetadataKey,
			value:     ce.Value,
			valueExpr: ce.ValueExpression,
			when:      ce.AddWhen,
			overwrite: ce.OverwriteIfKeyExists,
			append:    ce.AppendIfKeyExists,
		}
		switch ce.Value.(type) {
		case map[string]any, []any:
			e.composite = true
		}
		if ce.Key != "" {
			t, err := parseTemplate(ce.Key)
			if err != nil {
				return nil, fmt.Errorf("entries[%d].key: %w", i, err)
			}
			if t.refs > 0 {
				e.keyTmpl = t
			} else {
				e.key = event.ParsePath(ce.Key)
			}
		}
		if ce.Format != "" {
			t, err := parseTemplate(ce.Format)
			if err != nil {
				return nil, fmt.Errorf("entries[%d].format: %w", i, err)
			}
			e.format = t
		}
		p.entries = append(p.entries, e)
	}
	return p, nil
}

// Process applies every entry to every event, in order, so a later entry
// sees what an earlier one added.
func (p *processor) Process(_ context.Context, events []*event.Event) []*event.Event {
	for _, ev := range events {
		for i := range p.entries {
			e := &p.entries[i]
			if e.when != nil && !e.when.Bool(ev) {
				continue
			}
			if e.metaKey != "" {
				p.addMetadata(e, ev)
			} else {
				p.addField(e, ev)
			}
		}
	}
	return events
}

func (p *processor) addField(e *entry, ev *event.Event) {
	key := e.key
	if e.keyTmpl != nil {
		// A dynamic key costs a parse per event; that is what it asks for.
		key = event.ParsePath(e.keyTmpl.render(ev))
		if key.IsRoot() {
			p.debug(e, "the key rendered empty", nil)
			return
		}
	}
	old, exists := ev.Get(key)
	if exists && !e.overwrite && !e.append {
		return
	}
	v, ok := p.valueFor(e, ev)
	if !ok {
		return
	}
	if exists && e.append {
		v = appendValue(old, v)
	}
	if !ev.Put(key, v) {
		p.debug(e, "a value on the way to "+key.String()+" is not an object", nil)
	}
}

func (p *processor) addMetadata(e *entry, ev *event.Event) {
	old, exists := ev.Metadata(e.metaKey)
	if exists && !e.overwrite && !e.append {
		return
	}
	v, ok := p.valueFor(e, ev)
	if !ok {
		return
	}
	if exists && e.append {
		v = appendValue(old, v)
	}
	ev.SetMetadata(e.metaKey, v)
}

// valueFor computes the entry's value for ev. Maps and lists are copied so
// that no two places (in this event or another) share a mutable value.
func (p *processor) valueFor(e *entry, ev *event.Event) (any, bool) {
	switch {
	case e.format != nil:
		return e.format.render(ev), true
	case e.valueExpr != nil:
		v, err := e.valueExpr.Eval(ev)
		if err != nil {
			p.debug(e, "value_expression failed", err)
			return nil, false
		}
		return event.DeepCopy(v), true
	case e.composite:
		return event.DeepCopy(e.value), true
	default:
		return e.value, true
	}
}

// appendValue returns a new list of old's elements (or old itself) followed
// by v. It never appends in place: old may be shared with a clone.
func appendValue(old, v any) any {
	if list, ok := old.([]any); ok {
		out := make([]any, len(list)+1)
		copy(out, list)
		out[len(list)] = v
		return out
	}
	return []any{old, v}
}

// debug reports an entry that could not be applied. Data Prepper logs these
// per event; at debug level here so that a misconfiguration cannot flood
// the log at event rate.
func (p *processor) debug(e *entry, msg string, err error) {
	if p.log == nil || !p.log.Logger.IsLevelEnabled(logrus.DebugLevel) {
		return
	}
	l := p.log.WithField("target", e.target())
	if err != nil {
		l = l.WithError(err)
	}
	l.Debug("add_entries: entry skipped: " + msg)
}

func (e *entry) target() string {
	switch {
	case e.metaKey != "":
		return "metadata " + e.metaKey
	case e.keyTmpl != nil:
		return "dynamic key"
	default:
		return e.key.String()
	}
}
