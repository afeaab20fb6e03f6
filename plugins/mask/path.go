package mask

import (
	"errors"
	"strconv"

	"github.com/weft-agent/weft/pipelines/event"
)

// Path patterns are JSON pointers in which two whole segments are
// wildcards:
//
//	*   any one key of an object or element of a list   /customer/*
//	**  any number of levels, including none             /**/password
//
// Every other segment is literal (a numeric segment also addresses that
// list element). "status" and "/status" are the same top-level field, as
// everywhere in weft. There is no escape for a key that is literally "*".

type segKind uint8

const (
	segLit segKind = iota
	segStar
	segAny // **
)

type pseg struct {
	kind segKind
	lit  string
	idx  int // lit as a list index, or -1
}

type pattern struct {
	raw  string
	segs []pseg
	// last is set when the pattern is "/**/<lit>": it matches every path
	// whose last key is lit, which is checked without walking the path.
	last     string
	lastOnly bool
}

func compilePattern(s string) (*pattern, error) {
	p := event.ParsePath(s)
	if p.IsRoot() {
		return nil, errors.New("must name a field, not the whole event")
	}
	pat := &pattern{raw: p.String()}
	for _, seg := range p.Segments() {
		ps := pseg{lit: seg, idx: -1}
		switch seg {
		case "*":
			ps.kind = segStar
		case "**":
			ps.kind = segAny
			if n := len(pat.segs); n > 0 && pat.segs[n-1].kind == segAny {
				continue // "**/**" is "**"
			}
		default:
			if i, err := strconv.Atoi(seg); err == nil && i >= 0 && strconv.Itoa(i) == seg {
				ps.idx = i
			}
		}
		pat.segs = append(pat.segs, ps)
	}
	if len(pat.segs) == 2 && pat.segs[0].kind == segAny && pat.segs[1].kind == segLit {
		pat.last, pat.lastOnly = pat.segs[1].lit, true
	}
	return pat, nil
}

// pathSeg is one step from the event's root: an object key, or a list
// index (key "" and idx >= 0).
type pathSeg struct {
	key string
	idx int
}

func (p *pattern) match(path []pathSeg) bool {
	if p.lastOnly {
		return len(path) > 0 && path[len(path)-1].idx < 0 && path[len(path)-1].key == p.last
	}
	return globMatch(p.segs, path)
}

func globMatch(ps []pseg, path []pathSeg) bool {
	for len(ps) > 0 {
		switch ps[0].kind {
		case segAny:
			rest := ps[1:]
			if len(rest) == 0 {
				return true
			}
			for k := 0; k <= len(path); k++ {
				if globMatch(rest, path[k:]) {
					return true
				}
			}
			return false
		case segStar:
			if len(path) == 0 {
				return false
			}
		default:
			if len(path) == 0 {
				return false
			}
			if s := path[0]; s.idx >= 0 {
				if ps[0].idx != s.idx {
					return false
				}
			} else if ps[0].lit != s.key {
				return false
			}
		}
		ps, path = ps[1:], path[1:]
	}
	return len(path) == 0
}

func matchAny(pats []*pattern, path []pathSeg) bool {
	for _, p := range pats {
		if p.match(path) {
			return true
		}
	}
	return false
}
