package addentries

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/pipelines/expr"
)

// template is a compiled Data Prepper format string: literal text with
// ${...} references. A reference is a key or JSON pointer ("${/a}",
// "${kubernetes/pod}"), or, when it contains a parenthesis, an expression
// such as ${getMetadata("source")} or ${length(/message)}.
type template struct {
	parts []templatePart
	refs  int
}

type templatePart struct {
	literal string
	path    event.Path
	expr    *expr.Expression
	isRef   bool
}

func parseTemplate(s string) (*template, error) {
	t := &template{}
	for len(s) > 0 {
		i := strings.Index(s, "${")
		if i < 0 {
			t.parts = append(t.parts, templatePart{literal: s})
			break
		}
		if i > 0 {
			t.parts = append(t.parts, templatePart{literal: s[:i]})
		}
		end := strings.IndexByte(s[i+2:], '}')
		if end < 0 {
			return nil, fmt.Errorf("unterminated ${ at %q", s[i:])
		}
		ref := strings.TrimSpace(s[i+2 : i+2+end])
		if ref == "" {
			return nil, errors.New("empty ${} reference")
		}
		part := templatePart{isRef: true}
		if strings.ContainsRune(ref, '(') {
			x, err := expr.Compile(ref)
			if err != nil {
				return nil, fmt.Errorf("reference ${%s}: %w", ref, err)
			}
			part.expr = x
		} else {
			part.path = event.ParsePath(ref)
		}
		t.parts = append(t.parts, part)
		t.refs++
		s = s[i+2+end+1:]
	}
	return t, nil
}

// bufPool holds render buffers so that rendering allocates only the result.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

// render returns the template with its references replaced by the event's
// values. Missing or null values render as nothing, as in Data Prepper;
// strings are inserted as they are and other values as JSON.
func (t *template) render(ev *event.Event) string {
	if t.refs == 0 {
		if len(t.parts) == 0 {
			return ""
		}
		return t.parts[0].literal
	}
	bp := bufPool.Get().(*[]byte)
	b := (*bp)[:0]
	for i := range t.parts {
		p := &t.parts[i]
		if !p.isRef {
			b = append(b, p.literal...)
			continue
		}
		var v any
		if p.expr != nil {
			r, err := p.expr.Eval(ev)
			if err != nil {
				continue
			}
			v = r
		} else {
			r, ok := ev.Get(p.path)
			if !ok {
				continue
			}
			v = r
		}
		switch x := v.(type) {
		case nil:
		case string:
			b = append(b, x...)
		default:
			b = event.AppendJSON(b, x)
		}
	}
	s := string(b)
	if cap(b) <= 64<<10 { // let an outsized buffer go rather than pin it
		*bp = b
		bufPool.Put(bp)
	}
	return s
}
