// Package mask implements weft's mask processor: field rules (redact, keyed
// hash, partial, pattern replacement at JSON-pointer paths with wildcards)
// and one-pass detectors for personal data and secrets in free text
// (plugins/mask/detect), applied before data leaves the node.
package mask

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/plugins/mask/detect"
)

func init() {
	pipelines.RegisterProcessor("mask",
		"masks personal data and secrets: field rules (redact, keyed hash, partial, pattern) and free-text detectors",
		NewConfig, New)
}

// action is what happens to a sensitive value.
type action uint8

const (
	redact action = iota
	hashAct
	partial
	patternAct
)

func parseAction(s string) action {
	switch s {
	case actHash:
		return hashAct
	case actPartial:
		return partial
	case actPattern:
		return patternAct
	}
	return redact
}

type rule struct {
	pat         *pattern
	act         action
	keepLast    int
	re          *regexp.Regexp
	replacement string
	counter     prometheus.Counter
}

// processor is immutable after New; per-call state lives in pooled walkers.
type processor struct {
	rules      []rule
	set        detect.Set
	detActions [detect.NumKinds]action
	detCounter [detect.NumKinds]prometheus.Counter
	keepLast   int
	scanAll    bool
	scanKeys   []*pattern
	skipKeys   []*pattern
	token      string
	key        []byte
	walkers    sync.Pool
}

// New creates a mask processor. It reads key_file, so that a missing key
// fails the pipeline's start rather than the first event.
func New(s pipelines.Settings, c *Config) (pipelines.Processor, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	p := &processor{token: c.RedactToken, keepLast: c.DetectorKeepLast, scanAll: len(c.ScanKeys) == 0}
	switch {
	case c.Key != "":
		p.key = []byte(c.Key)
	case c.KeyFile != "":
		b, err := os.ReadFile(c.KeyFile)
		if err != nil {
			// The error names the file, never its content.
			return nil, fmt.Errorf("key_file: %w", err)
		}
		b = []byte(strings.TrimRight(string(b), "\r\n"))
		if len(b) == 0 {
			return nil, fmt.Errorf("key_file: %s is empty", c.KeyFile)
		}
		p.key = b
	}
	if len(p.key) > 0 && len(p.key) < 16 && s.Logger != nil {
		s.Logger.WithField("key_bytes", len(p.key)).Warn("mask: the hash key is shorter than 16 bytes; hashed values of small domains (phone numbers, SSNs) are easier to guess with a short key")
	}
	vec, err := counterVec(s)
	if err != nil {
		return nil, err
	}
	for i := range c.Rules {
		cr := &c.Rules[i]
		pat, err := compilePattern(cr.Path)
		if err != nil {
			return nil, fmt.Errorf("rules[%d].path: %w", i, err)
		}
		r := rule{pat: pat, act: parseAction(cr.Action), keepLast: 4, replacement: cr.Replacement}
		if cr.KeepLast != nil {
			r.keepLast = *cr.KeepLast
		}
		if r.act == patternAct {
			if r.re, err = regexp.Compile(cr.Pattern); err != nil {
				return nil, fmt.Errorf("rules[%d].pattern: %w", i, err)
			}
		}
		if vec != nil {
			r.counter = vec.WithLabelValues(pat.raw)
		}
		p.rules = append(p.rules, r)
	}
	for _, name := range c.Detectors {
		k, _ := detect.ParseKind(name)
		p.set |= detect.Of(k)
		p.detActions[k] = parseAction(c.detectorAction(k))
		if vec != nil {
			p.detCounter[k] = vec.WithLabelValues(name)
		}
	}
	for _, s := range c.ScanKeys {
		pat, _ := compilePattern(s)
		p.scanKeys = append(p.scanKeys, pat)
	}
	for _, s := range c.SkipKeys {
		pat, _ := compilePattern(s)
		p.skipKeys = append(p.skipKeys, pat)
	}
	p.walkers.New = func() any {
		w := &walker{p: p, path: make([]pathSeg, 0, 16), counts: make([]uint32, len(p.rules))}
		if len(p.key) > 0 {
			w.mac = hmac.New(sha256.New, p.key)
		}
		return w
	}
	return p, nil
}

// counterVec registers weft_mask_fields_masked_total, or finds the one a
// previous instance of this component registered (reloads).
func counterVec(s pipelines.Settings) (*prometheus.CounterVec, error) {
	vec := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "weft_mask_fields_masked_total",
		Help: "Values the mask processor masked: one per value a rule masked, one per detector match. Label rule_or_detector is the rule's path or the detector's name.",
	}, []string{"rule_or_detector"})
	if s.Telemetry == nil {
		return vec, nil
	}
	return pipelines.RegisterMetric(s.Telemetry.Registerer, vec)
}

// Process masks every event in place.
func (p *processor) Process(_ context.Context, events []*event.Event) []*event.Event {
	if len(p.rules) == 0 && p.set == 0 {
		return events
	}
	w := p.walkers.Get().(*walker)
	for _, ev := range events {
		w.event(ev)
	}
	w.flush()
	p.walkers.Put(w)
	return events
}

// walker holds one Process call's state: the path being visited, the
// output buffer, an HMAC instance and the counts not yet added to the
// metrics.
type walker struct {
	p        *processor
	ev       *event.Event
	root     map[string]any
	writable bool // root is the event's own (unshared) tree
	restart  bool // the tree was copied on write: walk the copy again
	path     []pathSeg
	out      []byte
	tmp      []byte
	sum      [sha256.Size]byte
	mac      hash.Hash
	counts   []uint32 // per rule
	det      [detect.NumKinds]uint32
	pending  [detect.NumKinds]uint32 // detector matches of the string being replaced
}

type scope struct {
	scan bool // inside scan_keys (always when scan_keys is empty)
	skip bool // inside skip_keys
}

func (w *walker) event(ev *event.Event) {
	w.ev = ev
	w.root = ev.Fields()
	w.writable = false
	w.restart = false
	w.path = w.path[:0]
	w.walkMap(w.root, scope{scan: w.p.scanAll})
	if w.restart {
		// Nothing was written to the shared tree; Mutable made a private
		// copy, which is walked (and written) now.
		w.root = ev.Fields()
		w.writable = true
		w.restart = false
		w.path = w.path[:0]
		w.walkMap(w.root, scope{scan: w.p.scanAll})
	}
	w.ev, w.root = nil, nil
}

// canWrite makes the event's tree writable. It reports false when that
// required a copy: the walk must then stop and restart on the copy.
func (w *walker) canWrite() bool {
	if w.writable {
		return true
	}
	m := w.ev.Mutable()
	if reflect.ValueOf(m).UnsafePointer() == reflect.ValueOf(w.root).UnsafePointer() {
		w.writable = true
		return true
	}
	w.restart = true
	return false
}

func (w *walker) walkMap(m map[string]any, sc scope) {
	for k, v := range m {
		w.path = append(w.path, pathSeg{key: k, idx: -1})
		nv, changed := w.visit(v, sc)
		w.path = w.path[:len(w.path)-1]
		if w.restart {
			return
		}
		if changed {
			m[k] = nv
		}
	}
}

func (w *walker) walkList(l []any, sc scope) {
	for i, v := range l {
		w.path = append(w.path, pathSeg{idx: i})
		nv, changed := w.visit(v, sc)
		w.path = w.path[:len(w.path)-1]
		if w.restart {
			return
		}
		if changed {
			l[i] = nv
		}
	}
}

// visit handles the value at w.path. It returns a replacement only after
// canWrite succeeded.
func (w *walker) visit(v any, sc scope) (any, bool) {
	p := w.p
	for i := range p.rules {
		r := &p.rules[i]
		if r.pat.match(w.path) {
			return w.applyRule(i, r, v)
		}
	}
	if !sc.skip && len(p.skipKeys) > 0 && matchAny(p.skipKeys, w.path) {
		sc.skip = true
	}
	if !sc.scan && matchAny(p.scanKeys, w.path) {
		sc.scan = true
	}
	scanning := p.set != 0 && sc.scan && !sc.skip
	switch t := v.(type) {
	case string:
		if !scanning {
			return nil, false
		}
		out, ok := w.scan(t)
		if !ok || !w.canWrite() {
			return nil, false
		}
		for k, n := range w.pending {
			w.det[k] += n
		}
		return out, true
	case map[string]any:
		if scanning || len(p.rules) > 0 || len(p.scanKeys) > 0 {
			w.walkMap(t, sc)
		}
	case []any:
		if scanning || len(p.rules) > 0 || len(p.scanKeys) > 0 {
			w.walkList(t, sc)
		}
	}
	return nil, false
}

// applyRule masks v (every scalar inside it, for objects and lists).
func (w *walker) applyRule(ri int, r *rule, v any) (any, bool) {
	var text string
	switch t := v.(type) {
	case string:
		text = t
	case int64:
		text = strconv.FormatInt(t, 10)
	case int:
		text = strconv.Itoa(t)
	case float64:
		text = strconv.FormatFloat(t, 'f', -1, 64)
	case bool:
		text = strconv.FormatBool(t)
	case map[string]any:
		for k, x := range t {
			nx, changed := w.applyRule(ri, r, x)
			if w.restart {
				return nil, false
			}
			if changed {
				t[k] = nx
			}
		}
		return nil, false
	case []any:
		for i, x := range t {
			nx, changed := w.applyRule(ri, r, x)
			if w.restart {
				return nil, false
			}
			if changed {
				t[i] = nx
			}
		}
		return nil, false
	default:
		return nil, false // null and unknown types stay
	}
	out := w.ruleValue(r, text)
	if _, isString := v.(string); isString && out == text {
		return nil, false
	}
	if !w.canWrite() {
		return nil, false
	}
	w.counts[ri]++
	return out, true
}

func (w *walker) ruleValue(r *rule, s string) string {
	switch r.act {
	case hashAct:
		w.out = w.appendHash(w.out[:0], s)
	case partial:
		w.out = appendPartial(w.out[:0], s, r.keepLast)
	case patternAct:
		return r.re.ReplaceAllString(s, r.replacement)
	default:
		return w.p.token
	}
	return string(w.out)
}

// scan replaces what the detectors find in s. It returns false, without
// allocating, when nothing is found.
func (w *walker) scan(s string) (string, bool) {
	p := w.p
	m, ok := p.set.Next(s, 0)
	if !ok {
		return s, false
	}
	w.pending = [detect.NumKinds]uint32{}
	b := w.out[:0]
	last := 0
	for ok {
		b = append(b, s[last:m.Start]...)
		switch p.detActions[m.Kind] {
		case hashAct:
			b = w.appendHash(b, s[m.Start:m.End])
		case partial:
			b = appendPartial(b, s[m.Start:m.End], p.keepLast)
		default:
			b = append(b, p.token...)
		}
		w.pending[m.Kind]++
		last = m.End
		m, ok = p.set.Next(s, last)
	}
	b = append(b, s[last:]...)
	w.out = b
	return string(b), true
}

// appendHash appends the HMAC-SHA-256 of s under the key, as 64 lower-case
// hex digits (OpenSearch's standard masking shape).
func (w *walker) appendHash(dst []byte, s string) []byte {
	w.mac.Reset()
	w.tmp = append(w.tmp[:0], s...)
	w.mac.Write(w.tmp)
	return hex.AppendEncode(dst, w.mac.Sum(w.sum[:0]))
}

// appendPartial keeps the last keep characters of s and writes '*' for each
// character before them. A value of keep characters or fewer is masked
// whole, so that partial never reveals a complete value.
func appendPartial(dst []byte, s string, keep int) []byte {
	n := utf8.RuneCountInString(s)
	if n <= keep {
		for range n {
			dst = append(dst, '*')
		}
		return dst
	}
	masked := n - keep
	i := 0
	for k := 0; k < masked; k++ {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
		dst = append(dst, '*')
	}
	return append(dst, s[i:]...)
}

// flush adds the call's counts to the metrics.
func (w *walker) flush() {
	p := w.p
	for i, n := range w.counts {
		if n > 0 && p.rules[i].counter != nil {
			p.rules[i].counter.Add(float64(n))
		}
		w.counts[i] = 0
	}
	for k, n := range w.det {
		if n > 0 && p.detCounter[k] != nil {
			p.detCounter[k].Add(float64(n))
		}
		w.det[k] = 0
	}
	if cap(w.out) > 64<<10 {
		w.out = nil
	}
	if cap(w.tmp) > 64<<10 {
		w.tmp = nil
	}
}
