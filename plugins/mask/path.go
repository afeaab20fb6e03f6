package mask

import "github.com/weft-agent/weft/plugins/internal/fieldpattern"

// Path patterns are fieldpattern's: JSON pointers in which * is any one
// key or list element (/customer/*) and ** any number of levels
// (/**/password). "status" and "/status" are the same top-level field, as
// everywhere in weft.

type pattern struct {
	raw  string
	segs []fieldpattern.Seg
	// last is set when the pattern is "/**/<lit>": it matches every path
	// whose last key is lit, which is checked without walking the path.
	last     string
	lastOnly bool
}

func compilePattern(s string) (*pattern, error) {
	raw, segs, err := fieldpattern.Compile(s)
	if err != nil {
		return nil, err
	}
	pat := &pattern{raw: raw, segs: segs}
	if len(segs) == 2 && segs[0].Kind == fieldpattern.Any && segs[1].Kind == fieldpattern.Lit {
		pat.last, pat.lastOnly = segs[1].Lit, true
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

func globMatch(ps []fieldpattern.Seg, path []pathSeg) bool {
	for len(ps) > 0 {
		switch ps[0].Kind {
		case fieldpattern.Any:
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
		case fieldpattern.Star:
			if len(path) == 0 {
				return false
			}
		default:
			if len(path) == 0 {
				return false
			}
			if s := path[0]; s.idx >= 0 {
				if ps[0].Idx != s.idx {
					return false
				}
			} else if ps[0].Lit != s.key {
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
