// Package renamekeys implements the rename_keys processor, compatible with
// OpenSearch Data Prepper's processor of the same name: it moves a field's
// value to another key.
package renamekeys

import (
	"context"
	"fmt"
	"regexp"
	"slices"

	"github.com/sirupsen/logrus"

	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/pipelines/expr"
)

func init() {
	pipelines.RegisterProcessor("rename_keys",
		"renames fields (moves a value to another key or JSON pointer)",
		NewConfig, New)
}

// processor is immutable after New, so workers share it without locking.
type processor struct {
	entries []entry
	log     *logrus.Entry
}

type entry struct {
	from      event.Path
	fromRegex *regexp.Regexp
	to        event.Path
	toTop     string // to's key when it is a top-level key, for the regex case
	same      bool   // from and to are the same field: nothing to do
	overwrite bool
	when      *expr.Expression
}

// New creates a rename_keys processor.
func New(s pipelines.Settings, c *Config) (pipelines.Processor, error) {
	if len(c.Entries) == 0 {
		return nil, fmt.Errorf("entries: must list at least one entry")
	}
	p := &processor{entries: make([]entry, 0, len(c.Entries)), log: s.Logger}
	for i := range c.Entries {
		ce := &c.Entries[i]
		if err := ce.Validate(); err != nil {
			return nil, fmt.Errorf("entries[%d]: %w", i, err)
		}
		if ce.ToKey == "" {
			return nil, fmt.Errorf("entries[%d].to_key: required option is missing", i)
		}
		e := entry{to: event.ParsePath(ce.ToKey), overwrite: ce.OverwriteIfToKeyExists, when: ce.RenameWhen}
		if segs := e.to.Segments(); len(segs) == 1 {
			e.toTop = segs[0]
		}
		if ce.FromKeyRegex != "" {
			re, err := compileKeyRegex(ce.FromKeyRegex)
			if err != nil {
				return nil, fmt.Errorf("entries[%d].from_key_regex: %w", i, err)
			}
			e.fromRegex = re
		} else {
			e.from = event.ParsePath(ce.FromKey)
			e.same = e.from.String() == e.to.String()
		}
		p.entries = append(p.entries, e)
	}
	return p, nil
}

// Process applies the renames in order, so a later entry sees the keys an
// earlier one produced.
func (p *processor) Process(_ context.Context, events []*event.Event) []*event.Event {
	for _, ev := range events {
		for i := range p.entries {
			e := &p.entries[i]
			if e.same || e.when != nil && !e.when.Bool(ev) {
				continue
			}
			if !e.overwrite {
				if _, exists := ev.Get(e.to); exists {
					continue
				}
			}
			if e.fromRegex != nil {
				p.renameMatching(e, ev)
				continue
			}
			if _, ok := ev.Get(e.from); ok {
				p.move(e, ev)
			}
		}
	}
	return events
}

// move renames e.from to e.to. The value is read from the writable tree
// (after any copy-on-write), so it is never shared with a clone. Deleting
// before setting makes a rename into the field's own subtree ("a" to "a/b")
// nest the value instead of creating a cycle; if the target cannot be set
// the value goes back where it was.
func (p *processor) move(e *entry, ev *event.Event) {
	m := ev.Mutable()
	v, ok := e.from.Lookup(m)
	if !ok || !e.from.Delete(m) {
		p.debug(e, "from_key is inside a list")
		return
	}
	if !e.to.Set(m, v) {
		e.from.Set(m, v)
		p.debug(e, "a value on the way to to_key is not an object")
	}
}

// renameMatching renames the top-level keys matching e.fromRegex, in key
// order. As in Data Prepper only the first is renamed unless overwrite is
// set, in which case each match in turn replaces the last.
func (p *processor) renameMatching(e *entry, ev *event.Event) {
	var buf [8]string
	keys := buf[:0]
	for k := range ev.Fields() {
		if k != e.toTop && e.fromRegex.MatchString(k) {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return
	}
	slices.Sort(keys)
	if !e.overwrite {
		keys = keys[:1]
	}
	m := ev.Mutable()
	for _, k := range keys {
		v := m[k]
		delete(m, k)
		if !e.to.Set(m, v) {
			m[k] = v
			p.debug(e, "a value on the way to to_key is not an object")
			return
		}
	}
}

// debug reports a rename that could not be done. Data Prepper logs these
// per event; at debug level here so that a misconfiguration cannot flood
// the log at event rate.
func (p *processor) debug(e *entry, msg string) {
	if p.log == nil || !p.log.Logger.IsLevelEnabled(logrus.DebugLevel) {
		return
	}
	from := e.from.String()
	if e.fromRegex != nil {
		from = e.fromRegex.String()
	}
	p.log.WithFields(logrus.Fields{"from": from, "to": e.to.String()}).Debug("rename_keys: rename skipped: " + msg)
}
