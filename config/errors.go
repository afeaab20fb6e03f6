// Package config loads weft's YAML pipeline files: Data Prepper's
// pipelines.yaml syntax plus an optional `weft:` section with agent settings.
// It resolves ${VAR}, ${VAR:-default} and ${file:/path} references, keeps the
// position of every value, and decodes component settings strictly into typed
// structs. It knows nothing about individual plugins.
package config

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Pos is a position in a configuration file.
type Pos struct {
	File string
	Line int
	Col  int
}

func (p Pos) String() string {
	if p.File == "" {
		return fmt.Sprintf("%d:%d", p.Line, p.Col)
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

func posOf(file string, n *yaml.Node) Pos {
	if n == nil {
		return Pos{File: file}
	}
	return Pos{File: file, Line: n.Line, Col: n.Column}
}

// Error is one configuration problem, located as precisely as known.
type Error struct {
	Pos       Pos
	Pipeline  string // "" for agent settings or file-level errors
	Component string // e.g. `processor[1] "grok"`
	Key       string // dotted option path, e.g. "entries[0].key"
	Msg       string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Pos.String())
	b.WriteString(": ")
	if e.Pipeline != "" {
		fmt.Fprintf(&b, "pipeline %q: ", e.Pipeline)
	}
	if e.Component != "" {
		b.WriteString(e.Component)
		b.WriteString(": ")
	}
	if e.Key != "" {
		fmt.Fprintf(&b, "option %q: ", e.Key)
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found, in file order.
type Errors []*Error

func (es Errors) Error() string {
	msgs := make([]string, len(es))
	for i, e := range es {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}

// Err returns es as an error, or nil when empty.
func (es Errors) Err() error {
	if len(es) == 0 {
		return nil
	}
	return es
}

// Suggest returns the candidate closest to s when it is close enough to be a
// plausible misspelling, else "".
func Suggest(s string, candidates []string) string {
	if len(s) > 64 {
		return "" // not a misspelling; spare the quadratic distance
	}
	best, bestD := "", 1<<30
	for _, c := range candidates {
		d := levenshtein(strings.ToLower(s), strings.ToLower(c))
		if d < bestD {
			best, bestD = c, d
		}
	}
	limit := len(s) / 3
	if limit < 2 {
		limit = 2
	}
	if bestD <= limit || (best != "" && (strings.HasPrefix(best, s) || strings.HasPrefix(s, best))) {
		return best
	}
	return ""
}

// levenshtein is the optimal-string-alignment distance: insertions,
// deletions, substitutions and adjacent transpositions each cost one.
func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}

func unknownKeyMsg(key string, valid []string) string {
	msg := fmt.Sprintf("unknown option %q", key)
	if s := Suggest(key, valid); s != "" {
		msg += fmt.Sprintf("; did you mean %q?", s)
	} else if len(valid) > 0 && len(valid) <= 12 {
		msg += "; valid options: " + strings.Join(valid, ", ")
	}
	return msg
}

// Merge combines errors (config.Errors are flattened and sorted by position).
func Merge(errs ...error) error {
	var out Errors
	for _, err := range errs {
		if err == nil {
			continue
		}
		var es Errors
		var e *Error
		switch {
		case errors.As(err, &es):
			out = append(out, es...)
		case errors.As(err, &e):
			out = append(out, e)
		default:
			return err
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i].Pos, out[j].Pos
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
	return out.Err()
}
