package event

import (
	"strconv"
	"strings"
)

// Path is a compiled JSON pointer (RFC 6901) into an event's fields.
// Data Prepper accepts keys with or without the leading slash ("status",
// "/status", "kubernetes/pod_name"); so does weft.
type Path struct {
	raw  string
	segs []string
}

// ParsePath compiles a JSON pointer. "" and "/" address the whole event.
func ParsePath(s string) Path {
	raw := s
	s = strings.TrimPrefix(s, "/")
	if s == "" {
		return Path{raw: "/"}
	}
	parts := strings.Split(s, "/")
	for i, p := range parts {
		if strings.Contains(p, "~") {
			p = strings.ReplaceAll(p, "~1", "/")
			p = strings.ReplaceAll(p, "~0", "~")
			parts[i] = p
		}
	}
	if !strings.HasPrefix(raw, "/") {
		raw = "/" + raw
	}
	return Path{raw: raw, segs: parts}
}

// String returns the pointer in its canonical "/a/b" form.
func (p Path) String() string {
	if p.raw == "" {
		return "/"
	}
	return p.raw
}

// IsRoot reports whether the path addresses the whole event.
func (p Path) IsRoot() bool { return len(p.segs) == 0 }

// Segments returns the unescaped keys of the path.
func (p Path) Segments() []string { return p.segs }

// Last returns the final key ("" for the root).
func (p Path) Last() string {
	if len(p.segs) == 0 {
		return ""
	}
	return p.segs[len(p.segs)-1]
}

// Lookup finds the value at the path in m. Numeric segments index arrays.
func (p Path) Lookup(m map[string]any) (any, bool) {
	if len(p.segs) == 0 {
		return m, m != nil
	}
	var cur any = m
	for _, s := range p.segs {
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[s]
			if !ok {
				return nil, false
			}
			cur = v
		case []any:
			i, err := strconv.Atoi(s)
			if err != nil || i < 0 || i >= len(c) {
				return nil, false
			}
			cur = c[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

// Set stores v at the path in m, creating objects on the way.
func (p Path) Set(m map[string]any, v any) bool {
	if len(p.segs) == 0 {
		obj, ok := v.(map[string]any)
		if !ok {
			return false
		}
		for k, x := range obj {
			m[k] = x
		}
		return true
	}
	cur := m
	for _, s := range p.segs[:len(p.segs)-1] {
		next, ok := cur[s]
		if !ok || next == nil {
			nm := make(map[string]any, 4)
			cur[s] = nm
			cur = nm
			continue
		}
		nm, ok := next.(map[string]any)
		if !ok {
			return false
		}
		cur = nm
	}
	cur[p.segs[len(p.segs)-1]] = v
	return true
}

// Delete removes the value at the path from m.
func (p Path) Delete(m map[string]any) bool {
	if len(p.segs) == 0 {
		return false
	}
	cur := m
	for _, s := range p.segs[:len(p.segs)-1] {
		nm, ok := cur[s].(map[string]any)
		if !ok {
			return false
		}
		cur = nm
	}
	k := p.segs[len(p.segs)-1]
	if _, ok := cur[k]; !ok {
		return false
	}
	delete(cur, k)
	return true
}
