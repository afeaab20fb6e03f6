// Package fieldpattern compiles the field patterns that mask and
// select_fields take: JSON pointers (RFC 6901: "/a/b", "~1" for "/", "~0"
// for "~"; the leading slash is optional) in which two whole segments are
// wildcards:
//
//   - exactly one level: any key of an object, or any element of a list
//     **  any number of levels, none included
//
// Every other segment is literal; a numeric one ("0") also addresses that
// element of a list. There is no escape for a key that is literally "*".
// Each plugin matches the segments its own way.
package fieldpattern

import (
	"errors"
	"strconv"

	"github.com/weft-agent/weft/pipelines/event"
)

// Kind is what a segment matches.
type Kind uint8

const (
	Lit  Kind = iota // the key Lit, or the list element Idx
	Star             // *
	Any              // **
)

// Seg is one segment of a pattern.
type Seg struct {
	Kind Kind
	Lit  string
	Idx  int // Lit as a list index, or -1
}

// Compile parses a pattern into its canonical pointer and its segments
// ("**/**" is "**"). The whole event (an empty pointer) is an error.
func Compile(s string) (raw string, segs []Seg, err error) {
	p := event.ParsePath(s)
	if p.IsRoot() {
		return "", nil, errors.New("must name a field, not the whole event")
	}
	for _, seg := range p.Segments() {
		ps := Seg{Lit: seg, Idx: -1}
		switch seg {
		case "*":
			ps.Kind = Star
		case "**":
			ps.Kind = Any
			if n := len(segs); n > 0 && segs[n-1].Kind == Any {
				continue
			}
		default:
			if i, err := strconv.Atoi(seg); err == nil && i >= 0 && strconv.Itoa(i) == seg {
				ps.Idx = i
			}
		}
		segs = append(segs, ps)
	}
	return p.String(), segs, nil
}

// OnlyAny reports whether every segment is ** (the pattern matches the
// whole event at any depth).
func OnlyAny(segs []Seg) bool {
	for _, s := range segs {
		if s.Kind != Any {
			return false
		}
	}
	return true
}
