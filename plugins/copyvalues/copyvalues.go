// Package copyvalues implements the copy_values processor, compatible with
// OpenSearch Data Prepper's processor of the same name: it copies field
// values to other keys, or selected keys of a list of objects to a new list.
package copyvalues

import (
	"context"
	"errors"
	"fmt"

	"github.com/sirupsen/logrus"

	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/pipelines/expr"
)

func init() {
	pipelines.RegisterProcessor("copy_values",
		"copies field values to other keys, or selected keys of a list of objects to a new list",
		NewConfig, New)
}

// processor is immutable after New, so workers share it without locking.
type processor struct {
	entries []entry
	// List mode: entries name keys inside the objects of fromList.
	listMode         bool
	fromList, toList event.Path
	overwriteToList  bool
	log              *logrus.Entry
}

type entry struct {
	from, to  event.Path
	same      bool // from and to are the same field: nothing to do
	overwrite bool
	when      *expr.Expression
}

// New creates a copy_values processor.
func New(s pipelines.Settings, c *Config) (pipelines.Processor, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if len(c.Entries) == 0 {
		return nil, errors.New("entries: must list at least one entry")
	}
	p := &processor{entries: make([]entry, 0, len(c.Entries)), log: s.Logger}
	if c.FromList != "" {
		p.listMode = true
		p.fromList = event.ParsePath(c.FromList)
		p.toList = event.ParsePath(c.ToList)
		p.overwriteToList = c.OverwriteIfToListExists
	}
	for i := range c.Entries {
		ce := &c.Entries[i]
		if err := ce.Validate(); err != nil {
			return nil, fmt.Errorf("entries[%d]: %w", i, err)
		}
		if ce.FromKey == "" || ce.ToKey == "" {
			return nil, fmt.Errorf("entries[%d]: from_key and to_key are required", i)
		}
		e := entry{
			from:      event.ParsePath(ce.FromKey),
			to:        event.ParsePath(ce.ToKey),
			overwrite: ce.OverwriteIfToKeyExists,
			when:      ce.CopyWhen,
		}
		e.same = e.from.String() == e.to.String()
		p.entries = append(p.entries, e)
	}
	return p, nil
}

// Process copies values in every event.
func (p *processor) Process(_ context.Context, events []*event.Event) []*event.Event {
	for _, ev := range events {
		if p.listMode {
			p.copyList(ev)
			continue
		}
		for i := range p.entries {
			e := &p.entries[i]
			if e.same || e.when != nil && !e.when.Bool(ev) {
				continue
			}
			v, ok := ev.Get(e.from)
			if !ok {
				continue
			}
			if !e.overwrite {
				if _, exists := ev.Get(e.to); exists {
					continue
				}
			}
			// A copy, not the same map or list in two places: a later change
			// through one key must not show through the other.
			if !ev.Put(e.to, event.DeepCopy(v)) {
				p.debug(e.to, "a value on the way to to_key is not an object")
			}
		}
	}
	return events
}

// copyList builds to_list with one object per object of from_list, holding
// the entries' keys. As in Data Prepper, each entry's condition is
// evaluated once on the event, and overwrite_if_to_key_exists does not
// apply (the objects are new). An element that is not an object gives an
// empty object, so positions stay aligned.
func (p *processor) copyList(ev *event.Event) {
	if !p.overwriteToList {
		if _, exists := ev.Get(p.toList); exists {
			return
		}
	}
	v, ok := ev.Get(p.fromList)
	if !ok {
		return
	}
	src, ok := v.([]any)
	if !ok {
		p.debug(p.fromList, "from_list is not a list")
		return
	}
	var enabledBuf [8]bool
	enabled := enabledBuf[:0]
	for i := range p.entries {
		e := &p.entries[i]
		enabled = append(enabled, e.when == nil || e.when.Bool(ev))
	}
	out := make([]any, len(src))
	for i, item := range src {
		obj, _ := item.(map[string]any)
		target := make(map[string]any, len(p.entries))
		for j := range p.entries {
			if !enabled[j] || obj == nil {
				continue
			}
			e := &p.entries[j]
			if x, ok := e.from.Lookup(obj); ok {
				e.to.Set(target, event.DeepCopy(x))
			}
		}
		out[i] = target
	}
	if !ev.Put(p.toList, out) {
		p.debug(p.toList, "a value on the way to to_list is not an object")
	}
}

// debug reports a copy that could not be done. Data Prepper logs these per
// event; at debug level here so that a misconfiguration cannot flood the
// log at event rate.
func (p *processor) debug(at event.Path, msg string) {
	if p.log == nil || !p.log.Logger.IsLevelEnabled(logrus.DebugLevel) {
		return
	}
	p.log.WithField("key", at.String()).Debug("copy_values: copy skipped: " + msg)
}
