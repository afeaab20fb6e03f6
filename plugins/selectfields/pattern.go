package selectfields

import (
	"fmt"

	"github.com/weft-agent/weft/plugins/internal/fieldpattern"
)

// A pattern is a JSON pointer (RFC 6901: "/a/b", "~1" for "/", "~0" for
// "~"; the leading slash is optional) in which two whole segments are
// wildcards:
//
//	*   exactly one level: any key of an object, or any element of a list
//	**  any number of levels, none included
//
// Every other segment is literal; a numeric one ("0") also addresses that
// element of a list. A list is a level, as in JSON pointers: the ids of a
// list of orders are /orders/*/id.

type pattern struct {
	raw  string
	segs []fieldpattern.Seg
}

// maxSegs keeps a pattern's positions in one uint64.
const maxSegs = 62

func compilePattern(s string) (*pattern, error) {
	raw, segs, err := fieldpattern.Compile(s)
	if err != nil {
		return nil, err
	}
	if fieldpattern.OnlyAny(segs) {
		return nil, fmt.Errorf("%q matches the whole event; name a field", s)
	}
	if len(segs) > maxSegs {
		return nil, fmt.Errorf("more than %d levels", maxSegs)
	}
	return &pattern{raw: raw, segs: segs}, nil
}

// plainKey reports whether the pattern is one literal top-level key.
func (p *pattern) plainKey() (string, bool) {
	if len(p.segs) == 1 && p.segs[0].Kind == fieldpattern.Lit {
		return p.segs[0].Lit, true
	}
	return "", false
}

// literal reports whether the pattern has no wildcard and no numeric
// segment (it can then be deleted with event.Path).
func (p *pattern) literal() bool {
	for _, s := range p.segs {
		if s.Kind != fieldpattern.Lit || s.Idx >= 0 {
			return false
		}
	}
	return true
}

// The patterns are matched together as a set of automata: a state is, per
// pattern, the bit set of segment positions reached so far (bit len(segs)
// means the pattern matched the path up to here).

type matcher struct {
	pats []*pattern
}

// stackStates is how many patterns' states live on the stack.
const stackStates = 8

// states returns n states in buf when they fit, else new ones.
func states(buf []uint64, n int) []uint64 {
	if n <= len(buf) {
		return buf[:n]
	}
	return make([]uint64, n)
}

// start writes the states at the root to st (len(m.pats) long).
func (m *matcher) start(st []uint64) []uint64 {
	for i, p := range m.pats {
		st[i] = p.closure(1)
	}
	return st
}

// closure adds the positions after each ** reached (it may match no level).
func (p *pattern) closure(mask uint64) uint64 {
	for i, s := range p.segs {
		if s.Kind == fieldpattern.Any && mask&(1<<i) != 0 {
			mask |= 1 << (i + 1)
		}
	}
	return mask
}

// step moves every state over one level: an object key (idx < 0) or a
// list element idx. It writes the new states to next and reports whether a
// pattern matched the whole path (full) and whether any pattern can still
// match below it (live).
func (m *matcher) step(st []uint64, key string, idx int, next []uint64) (full, live bool) {
	for pi, p := range m.pats {
		mask := st[pi]
		var out uint64
		for i, s := range p.segs {
			if mask&(1<<i) == 0 {
				continue
			}
			switch s.Kind {
			case fieldpattern.Any:
				out |= 1 << i
			case fieldpattern.Star:
				out |= 1 << (i + 1)
			default:
				if idx < 0 && s.Lit == key || idx >= 0 && s.Idx == idx {
					out |= 1 << (i + 1)
				}
			}
		}
		out = p.closure(out)
		next[pi] = out
		if out&(1<<len(p.segs)) != 0 {
			full = true
		}
		if out&(1<<len(p.segs)-1) != 0 {
			live = true
		}
	}
	return full, live
}

// include keeps in v only what the patterns select from the states st, and
// reports whether anything was kept. Objects are changed in place; a list
// is compacted in place and returned.
func (m *matcher) include(v any, st []uint64) (any, bool) {
	switch t := v.(type) {
	case map[string]any:
		var buf [stackStates]uint64
		next := states(buf[:], len(st))
		kept := false
		for k, c := range t {
			full, live := m.step(st, k, -1, next)
			if full {
				kept = true
				continue
			}
			if live {
				if nc, ok := m.include(c, next); ok {
					t[k] = nc
					kept = true
					continue
				}
			}
			delete(t, k)
		}
		return t, kept
	case []any:
		var buf [stackStates]uint64
		next := states(buf[:], len(st))
		out := t[:0]
		for i, c := range t {
			full, live := m.step(st, "", i, next)
			if full {
				out = append(out, c)
				continue
			}
			if live {
				if nc, ok := m.include(c, next); ok {
					out = append(out, nc)
				}
			}
		}
		if len(out) == len(t) {
			return v, true // everything kept
		}
		clear(t[len(out):])
		return out, len(out) > 0
	}
	return v, false
}

// exclude removes from v what the patterns select, in place; a list is
// compacted and returned.
func (m *matcher) exclude(v any, st []uint64) any {
	switch t := v.(type) {
	case map[string]any:
		var buf [stackStates]uint64
		next := states(buf[:], len(st))
		for k, c := range t {
			full, live := m.step(st, k, -1, next)
			if full {
				delete(t, k)
				continue
			}
			if live {
				if _, isList := c.([]any); isList {
					t[k] = m.exclude(c, next) // the list may be shorter
				} else {
					m.exclude(c, next)
				}
			}
		}
		return t
	case []any:
		var buf [stackStates]uint64
		next := states(buf[:], len(st))
		out := t[:0]
		for i, c := range t {
			full, live := m.step(st, "", i, next)
			if full {
				continue
			}
			if live {
				c = m.exclude(c, next)
			}
			out = append(out, c)
		}
		if len(out) == len(t) {
			return v // unchanged: no new interface value
		}
		clear(t[len(out):])
		return out
	}
	return v
}
