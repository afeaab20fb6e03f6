// Package selectfields implements the select_fields processor, weft's
// field-level include/exclude in the manner of OpenSearch field-level
// security, registered also as select_entries with Data Prepper's option
// names (include_keys, select_when).
package selectfields

import (
	"context"

	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/pipelines/expr"
)

func init() {
	pipelines.RegisterProcessor("select_fields",
		"keeps only the included fields and removes the excluded ones (JSON pointers with * and **)",
		NewConfig, New, "select_entries")
}

// processor is immutable after New, so workers share it.
type processor struct {
	when *expr.Expression

	include *matcher // nil: keep everything
	exclude *matcher // nil: remove nothing
	// Fast paths: include names only top-level keys; exclude names only
	// literal paths.
	includeKeys  []string
	includeSet   map[string]struct{} // includeKeys, when there are many
	excludePaths []event.Path
}

// New creates a select_fields processor.
func New(_ pipelines.Settings, c *Config) (pipelines.Processor, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	p := &processor{when: c.SelectWhen}
	if inc := c.includes(); inc != nil {
		p.include = &matcher{}
		plain := true
		for _, s := range inc {
			pat, _ := compilePattern(s) // checked by Validate
			p.include.pats = append(p.include.pats, pat)
			k, ok := pat.plainKey()
			plain = plain && ok
			p.includeKeys = append(p.includeKeys, k)
		}
		if !plain {
			p.includeKeys = nil
		} else if len(p.includeKeys) > 8 {
			p.includeSet = make(map[string]struct{}, len(p.includeKeys))
			for _, k := range p.includeKeys {
				p.includeSet[k] = struct{}{}
			}
		}
	}
	if c.Exclude != nil {
		p.exclude = &matcher{}
		literal := true
		for _, s := range c.Exclude {
			pat, _ := compilePattern(s)
			p.exclude.pats = append(p.exclude.pats, pat)
			literal = literal && pat.literal()
			p.excludePaths = append(p.excludePaths, event.ParsePath(s))
		}
		if !literal {
			p.excludePaths = nil
		}
	}
	return p, nil
}

// Process changes the events in place and returns them all.
func (p *processor) Process(_ context.Context, events []*event.Event) []*event.Event {
	for _, ev := range events {
		if p.when != nil && !p.when.Bool(ev) {
			continue
		}
		if p.include != nil {
			p.applyInclude(ev)
		}
		if p.exclude != nil {
			p.applyExclude(ev)
		}
	}
	return events
}

func (p *processor) applyInclude(ev *event.Event) {
	if p.includeKeys != nil {
		m := ev.Mutable()
		for k := range m {
			if !p.keepKey(k) {
				delete(m, k)
			}
		}
		return
	}
	var buf [stackStates]uint64
	p.include.include(ev.Mutable(), p.include.start(states(buf[:], len(p.include.pats))))
}

func (p *processor) keepKey(k string) bool {
	if p.includeSet != nil {
		_, ok := p.includeSet[k]
		return ok
	}
	for _, x := range p.includeKeys {
		if x == k {
			return true
		}
	}
	return false
}

func (p *processor) applyExclude(ev *event.Event) {
	if p.excludePaths != nil {
		for _, path := range p.excludePaths {
			ev.Delete(path) // copies a shared tree only when the field is there
		}
		return
	}
	var buf [stackStates]uint64
	p.exclude.exclude(ev.Mutable(), p.exclude.start(states(buf[:], len(p.exclude.pats))))
}
