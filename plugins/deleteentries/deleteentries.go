// Package deleteentries implements the delete_entries processor, compatible
// with OpenSearch Data Prepper's processor of the same name: it deletes
// fields by key or by a regular expression on top-level keys.
package deleteentries

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/pipelines/expr"
)

func init() {
	pipelines.RegisterProcessor("delete_entries",
		"deletes fields by key, JSON pointer or regular expression",
		NewConfig, New)
}

// processor is immutable after New, so workers share it without locking.
type processor struct {
	rules []rule
}

type rule struct {
	keys    []event.Path
	regexes []*regexp.Regexp
	exclude []string
	when    *expr.Expression
}

// New creates a delete_entries processor.
func New(_ pipelines.Settings, c *Config) (pipelines.Processor, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if c.Entries == nil {
		r, err := compileRule(&c.Rule)
		if err != nil {
			return nil, err
		}
		return &processor{rules: []rule{r}}, nil
	}
	p := &processor{rules: make([]rule, 0, len(c.Entries))}
	for i := range c.Entries {
		if err := c.Entries[i].Validate(); err != nil {
			return nil, fmt.Errorf("entries[%d]: %w", i, err)
		}
		r, err := compileRule(&c.Entries[i])
		if err != nil {
			return nil, fmt.Errorf("entries[%d]: %w", i, err)
		}
		p.rules = append(p.rules, r)
	}
	return p, nil
}

func compileRule(c *Rule) (rule, error) {
	r := rule{when: c.DeleteWhen}
	for _, k := range c.WithKeys {
		r.keys = append(r.keys, event.ParsePath(k))
	}
	for _, s := range c.WithKeysRegex {
		re, err := compileKeyRegex(s)
		if err != nil {
			return rule{}, err
		}
		r.regexes = append(r.regexes, re)
	}
	for _, k := range c.ExcludeFromDelete {
		r.exclude = append(r.exclude, strings.TrimPrefix(k, "/"))
	}
	return r, nil
}

// Process deletes the fields of every rule whose condition holds.
func (p *processor) Process(_ context.Context, events []*event.Event) []*event.Event {
	for _, ev := range events {
		for i := range p.rules {
			r := &p.rules[i]
			if r.when != nil && !r.when.Bool(ev) {
				continue
			}
			for _, k := range r.keys {
				ev.Delete(k) // a missing key is not an error
			}
			if len(r.regexes) > 0 {
				r.deleteMatching(ev)
			}
		}
	}
	return events
}

// deleteMatching deletes the top-level keys matching the rule's patterns.
// It looks before it writes, so an event shared with a clone is copied only
// when something is deleted.
func (r *rule) deleteMatching(ev *event.Event) {
	found := false
	for k := range ev.Fields() {
		if r.matches(k) {
			found = true
			break
		}
	}
	if !found {
		return
	}
	m := ev.Mutable()
	for k := range m {
		if r.matches(k) {
			delete(m, k) // deleting during range is safe in Go
		}
	}
}

func (r *rule) matches(key string) bool {
	for _, x := range r.exclude {
		if x == key {
			return false
		}
	}
	for _, re := range r.regexes {
		if re.MatchString(key) {
			return true
		}
	}
	return false
}
