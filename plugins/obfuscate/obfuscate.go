// Package obfuscate implements the obfuscate processor, compatible with
// OpenSearch Data Prepper's processor of the same name: it masks or hashes
// one field, whole or where regular expressions (or predefined patterns
// such as %{EMAIL_ADDRESS}) match.
package obfuscate

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/pipelines/expr"
	"github.com/weft-agent/weft/pipelines/ratelog"
)

func init() {
	pipelines.RegisterProcessor("obfuscate",
		"masks or hashes a field, whole or where patterns match (Data Prepper compatible)",
		NewConfig, New)
}

// saltKeyLen is the size Data Prepper pads or cuts a salt_key value to.
const saltKeyLen = 64

// processor is immutable after New.
type processor struct {
	source    event.Path
	target    event.Path
	hasTarget bool
	patterns  []*regexp.Regexp
	hash      bool
	mask      string // the replacement of the mask action
	salt      []byte
	saltKey   event.Path
	useKey    bool
	hashers   sync.Pool
	when      *expr.Expression
	tags      []string
	failures  *ratelog.Logger // nil without a logger
}

// The reasons an event is skipped. They never hold the value.
var (
	errNotText  = errors.New("the source is an object, a list or null, not text")
	errNoTarget = errors.New("a value on the way to target is not an object")
)

// New creates an obfuscate processor.
func New(s pipelines.Settings, c *Config) (pipelines.Processor, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if c.Source == "" {
		return nil, fmt.Errorf("source: required option is missing")
	}
	p := &processor{source: event.ParsePath(c.Source), when: c.ObfuscateWhen, tags: c.TagsOnMatchFailure}
	if s.Logger != nil {
		p.failures = ratelog.New(s.Logger.WithField("source", p.source.String()),
			"obfuscate: events left unchanged")
	}
	if c.Target != "" {
		p.target, p.hasTarget = event.ParsePath(c.Target), true
	}
	for _, raw := range c.Patterns {
		re, err := compilePattern(string(raw), c.SingleWordOnly)
		if err != nil {
			return nil, err
		}
		p.patterns = append(p.patterns, re)
	}
	a := c.Action
	if a.Name == "" {
		a = DefaultAction()
	}
	switch a.Name {
	case ActionHash:
		p.hash = true
		newHash := sha512.New
		switch a.Hash.Format {
		case "", "SHA-512":
		case "SHA-256":
			newHash = sha256.New
		default:
			return nil, fmt.Errorf("action.hash.format: %q is not one of SHA-512, SHA-256", a.Hash.Format)
		}
		p.hashers.New = func() any { return newHash() }
		if a.Hash.Salt != "" {
			p.salt = []byte(a.Hash.Salt)
		} else {
			// As Data Prepper: a random salt, so hashes differ between
			// restarts and between agents.
			p.salt = make([]byte, saltKeyLen)
			if _, err := rand.Read(p.salt); err != nil {
				return nil, fmt.Errorf("action.hash: generating a salt: %w", err)
			}
			if s.Logger != nil {
				s.Logger.Info("obfuscate: no salt configured, using a random one; hashes will change when the agent restarts")
			}
		}
		if a.Hash.SaltKey != "" {
			p.saltKey, p.useKey = event.ParsePath(a.Hash.SaltKey), true
		}
	default:
		m := a.Mask
		if m.MaskCharacter == "" {
			m.MaskCharacter = "*"
		}
		if m.MaskCharacterLength <= 0 {
			m.MaskCharacterLength = 3
		}
		p.mask = strings.Repeat(m.MaskCharacter, m.MaskCharacterLength)
	}
	return p, nil
}

// Process obfuscates the source field of every event (for which
// obfuscate_when holds).
func (p *processor) Process(_ context.Context, events []*event.Event) []*event.Event {
	for _, ev := range events {
		if p.when != nil && !p.when.Bool(ev) {
			continue
		}
		v, ok := ev.Get(p.source)
		if !ok {
			continue
		}
		raw, ok := text(v)
		if !ok {
			// Data Prepper fails to read such a value as a string and
			// leaves the event alone; so does weft.
			p.fail(errNotText)
			continue
		}
		out := p.obfuscate(raw, ev)
		if out == raw {
			ev.AddTags(p.tags...)
		}
		if p.hasTarget {
			if !ev.Put(p.target, out) {
				p.fail(errNoTarget)
			}
			continue
		}
		if _, isString := v.(string); isString && out == raw {
			continue // nothing to write (and no copy of a shared event)
		}
		ev.Put(p.source, out)
	}
	return events
}

// text returns a scalar's text as Data Prepper reads a field "as String".
func text(v any) (string, bool) {
	switch t := v.(type) {
	case string:
		return t, true
	case int64:
		return strconv.FormatInt(t, 10), true
	case int:
		return strconv.Itoa(t), true
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64), true
	case bool:
		return strconv.FormatBool(t), true
	}
	return "", false
}

func (p *processor) obfuscate(s string, ev *event.Event) string {
	if !p.hash {
		if len(p.patterns) == 0 {
			return p.mask
		}
		for _, re := range p.patterns {
			s = re.ReplaceAllLiteralString(s, p.mask)
		}
		return s
	}
	salt := p.salt
	if p.useKey {
		if v, ok := ev.Get(p.saltKey); ok {
			if t, ok := text(v); ok {
				salt = padSalt(t)
			}
		}
	}
	h := p.hashers.Get().(hash.Hash)
	defer p.hashers.Put(h)
	if len(p.patterns) == 0 {
		return digest(h, salt, s)
	}
	for _, re := range p.patterns {
		s = re.ReplaceAllStringFunc(s, func(m string) string { return digest(h, salt, m) })
	}
	return s
}

// digest is Data Prepper's one-way hash: Base64(H(salt || value)).
func digest(h hash.Hash, salt []byte, value string) string {
	h.Reset()
	h.Write(salt)
	h.Write([]byte(value))
	var sum [sha512.Size]byte
	return base64.StdEncoding.EncodeToString(h.Sum(sum[:0]))
}

// padSalt turns a salt_key value into Data Prepper's 64-byte salt: the
// UTF-8 bytes, cut at 64, the rest filled with 0x80 (Java's Byte.MIN_VALUE).
func padSalt(v string) []byte {
	b := make([]byte, saltKeyLen)
	for i := range b {
		b[i] = 0x80
	}
	copy(b, v)
	return b
}

func (p *processor) fail(err error) {
	if p.failures != nil {
		p.failures.Record(err)
	}
}

// Shutdown reports the failures counted since the last warning.
func (p *processor) Shutdown(context.Context) error {
	if p.failures != nil {
		p.failures.Flush()
	}
	return nil
}
