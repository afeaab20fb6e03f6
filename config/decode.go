package config

import (
	"encoding"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// NodeDecoder is implemented by option types with their own YAML shape.
// The decoder passes itself so that nested values get the same strictness
// and positions.
type NodeDecoder interface {
	DecodeNode(d *Decoder, n *yaml.Node, key string) error
}

// Validator is implemented by config structs with cross-field rules. A
// returned *FieldError names the offending key; anything else is reported
// at the component.
type Validator interface {
	Validate() error
}

// FieldError lets Validate name the option that is wrong.
type FieldError struct {
	Key string
	Msg string
}

func (e *FieldError) Error() string { return fmt.Sprintf("option %q: %s", e.Key, e.Msg) }

// Decoder turns YAML nodes into typed option structs, collecting every error
// with its file:line:column, pipeline, component and key.
//
// Field tags:
//
//	yaml:"name"        option name (required for a field to be an option)
//	doc:"..."          one-line meaning, printed by `weft plugins`
//	min:"N" max:"N"    numeric range (for durations: a Go duration)
//	enum:"a,b,c"       allowed values
//	required:"true"    must be present
//	secret:"true"      redacted in every output
//	unit:"s"           a bare number in a duration field is seconds (default milliseconds)
type Decoder struct {
	File      string
	Pipeline  string
	Component string
	Errs      Errors
	// Secrets receives the nodes of options tagged secret, for redaction.
	Secrets map[*yaml.Node]bool
	// seen records, per node, which field keys were set, for Validate errors.
	keyNodes map[string]*yaml.Node
}

// Fail records an error at node n for option key.
func (d *Decoder) Fail(n *yaml.Node, key, format string, args ...any) {
	d.Errs = append(d.Errs, &Error{Pos: posOf(d.File, n), Pipeline: d.Pipeline, Component: d.Component, Key: key, Msg: fmt.Sprintf(format, args...)})
}

// Decode decodes n (a mapping, or null for "all defaults") into target, a
// pointer to a struct already holding the defaults. It reports whether no
// error was found.
func (d *Decoder) Decode(n *yaml.Node, target any) bool {
	before := len(d.Errs)
	if d.keyNodes == nil {
		d.keyNodes = map[string]*yaml.Node{}
	}
	v := reflect.ValueOf(target)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		panic("config: Decode needs a non-nil pointer")
	}
	d.decodeValue(n, v.Elem(), "", reflect.StructField{})
	return len(d.Errs) == before
}

// DecodeValue decodes n into v (for NodeDecoder implementations).
func (d *Decoder) DecodeValue(n *yaml.Node, v reflect.Value, key string) {
	d.decodeValue(n, v, key, reflect.StructField{})
}

func isNull(n *yaml.Node) bool {
	return n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

func join(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

var (
	durationType = reflect.TypeOf(time.Duration(0))
	textUnmarsh  = reflect.TypeOf((*encoding.TextUnmarshaler)(nil)).Elem()
	nodeDecoder  = reflect.TypeOf((*NodeDecoder)(nil)).Elem()
	validatorT   = reflect.TypeOf((*Validator)(nil)).Elem()
)

func (d *Decoder) decodeValue(n *yaml.Node, v reflect.Value, key string, f reflect.StructField) {
	if n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n != nil && n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	if v.CanAddr() && v.Addr().Type().Implements(nodeDecoder) {
		if err := v.Addr().Interface().(NodeDecoder).DecodeNode(d, n, key); err != nil {
			d.Fail(n, key, "%v", err)
		}
		return
	}
	if isNull(n) {
		// An option given without a value keeps its default (Data Prepper
		// writes `- otel_trace_raw:` for "all defaults").
		if v.Kind() == reflect.Struct {
			d.decodeStruct(nil, v, key)
		} else if v.Kind() == reflect.Pointer && v.Type().Elem().Kind() == reflect.Struct && v.IsNil() && n != nil {
			v.Set(reflect.New(v.Type().Elem()))
			d.decodeStruct(nil, v.Elem(), key)
		}
		return
	}
	if v.CanAddr() && v.Addr().Type().Implements(textUnmarsh) && v.Type() != durationType {
		if n.Kind != yaml.ScalarNode {
			d.Fail(n, key, "expected a string, got %s", kindName(n))
			return
		}
		if err := v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(n.Value)); err != nil {
			d.Fail(n, key, "%v", err)
		}
		return
	}
	switch v.Type() {
	case durationType:
		dur, err := parseDuration(n, f.Tag.Get("unit"))
		if err != nil {
			d.Fail(n, key, "%v", err)
			return
		}
		if !d.checkRange(n, key, f, float64(dur), true) {
			return
		}
		v.SetInt(int64(dur))
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.decodeValue(n, v.Elem(), key, f)
	case reflect.Struct:
		d.decodeStruct(n, v, key)
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			d.Fail(n, key, "expected a string, got %s", kindName(n))
			return
		}
		if !d.checkEnum(n, key, f, n.Value) {
			return
		}
		v.SetString(n.Value)
	case reflect.Bool:
		b, ok := parseBool(n)
		if !ok {
			d.Fail(n, key, "expected true or false, got %s", describe(n))
			return
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		i, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, 64)
		if n.Kind != yaml.ScalarNode || err != nil {
			d.Fail(n, key, "expected an integer, got %s", describe(n))
			return
		}
		if v.OverflowInt(i) {
			d.Fail(n, key, "%d is out of range for this option", i)
			return
		}
		if !d.checkRange(n, key, f, float64(i), false) {
			return
		}
		v.SetInt(i)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		i, err := strconv.ParseUint(strings.ReplaceAll(n.Value, "_", ""), 0, 64)
		if n.Kind != yaml.ScalarNode || err != nil {
			d.Fail(n, key, "expected a non-negative integer, got %s", describe(n))
			return
		}
		if v.OverflowUint(i) {
			d.Fail(n, key, "%d is out of range for this option", i)
			return
		}
		if !d.checkRange(n, key, f, float64(i), false) {
			return
		}
		v.SetUint(i)
	case reflect.Float32, reflect.Float64:
		x, err := strconv.ParseFloat(n.Value, 64)
		if n.Kind != yaml.ScalarNode || err != nil || n.Tag == "!!str" && n.Style != 0 {
			d.Fail(n, key, "expected a number, got %s", describe(n))
			return
		}
		if !d.checkRange(n, key, f, x, false) {
			return
		}
		v.SetFloat(x)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			// A single value where a list is expected is a one-element list,
			// as Data Prepper accepts for most list options.
			if n.Kind == yaml.ScalarNode || n.Kind == yaml.MappingNode {
				s := reflect.MakeSlice(v.Type(), 1, 1)
				d.decodeValue(n, s.Index(0), key, f)
				v.Set(s)
				return
			}
			d.Fail(n, key, "expected a list, got %s", kindName(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, c := range n.Content {
			d.decodeValue(c, s.Index(i), fmt.Sprintf("%s[%d]", key, i), f)
		}
		v.Set(s)
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			d.Fail(n, key, "expected a mapping, got %s", kindName(n))
			return
		}
		if v.Type().Key().Kind() != reflect.String {
			panic("config: only string-keyed maps are supported")
		}
		m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			ev := reflect.New(v.Type().Elem()).Elem()
			d.decodeValue(val, ev, join(key, k.Value), f)
			m.SetMapIndex(reflect.ValueOf(k.Value).Convert(v.Type().Key()), ev)
		}
		v.Set(m)
	case reflect.Interface:
		val, err := NodeToValue(n)
		if err != nil {
			d.Fail(n, key, "%v", err)
			return
		}
		if val != nil {
			v.Set(reflect.ValueOf(val))
		}
	default:
		panic(fmt.Sprintf("config: unsupported option type %s", v.Type()))
	}
}

// Options lists the option names of a config struct type.
func optionFields(t reflect.Type) (names []string, idx map[string][]int) {
	idx = map[string][]int{}
	var walk func(t reflect.Type, path []int)
	walk = func(t reflect.Type, path []int) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			p := append(append([]int(nil), path...), i)
			if f.Anonymous && (f.Tag.Get("yaml") == "" || strings.Contains(f.Tag.Get("yaml"), ",inline")) {
				ft := f.Type
				if ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if ft.Kind() == reflect.Struct {
					walk(ft, p)
				}
				continue
			}
			name := strings.Split(f.Tag.Get("yaml"), ",")[0]
			if name == "" || name == "-" || !f.IsExported() {
				continue
			}
			names = append(names, name)
			idx[name] = p
			for _, a := range strings.Split(f.Tag.Get("alias"), ",") {
				if a != "" {
					idx[a] = p
				}
			}
		}
	}
	walk(t, nil)
	return names, idx
}

func (d *Decoder) decodeStruct(n *yaml.Node, v reflect.Value, prefix string) {
	names, idx := optionFields(v.Type())
	present := map[string]bool{}
	if d.keyNodes == nil {
		d.keyNodes = map[string]*yaml.Node{}
	}
	if n != nil {
		if n.Kind != yaml.MappingNode {
			d.Fail(n, prefix, "expected a mapping of options, got %s", describe(n))
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			path, ok := idx[k.Value]
			key := join(prefix, k.Value)
			if !ok {
				d.Fail(k, key, "%s", unknownKeyMsg(k.Value, names))
				continue
			}
			f := v.Type().FieldByIndex(path)
			canonical := strings.Split(f.Tag.Get("yaml"), ",")[0]
			if present[canonical] {
				d.Fail(k, key, "given more than once")
				continue
			}
			present[canonical] = true
			d.keyNodes[join(prefix, canonical)] = val
			if f.Tag.Get("secret") == "true" && d.Secrets != nil {
				d.Secrets[val] = true
			}
			d.decodeValue(val, fieldByIndexAlloc(v, path), key, f)
		}
	}
	for _, name := range names {
		f := v.Type().FieldByIndex(idx[name])
		if f.Tag.Get("required") == "true" && !present[name] {
			d.Fail(n, join(prefix, name), "required option is missing")
		}
	}
	if v.CanAddr() && v.Addr().Type().Implements(validatorT) {
		if err := v.Addr().Interface().(Validator).Validate(); err != nil {
			if fe, ok := err.(*FieldError); ok {
				at := d.keyNodes[join(prefix, fe.Key)]
				if at == nil {
					at = n
				}
				d.Fail(at, join(prefix, fe.Key), "%s", fe.Msg)
			} else {
				d.Fail(n, prefix, "%v", err)
			}
		}
	}
}

func fieldByIndexAlloc(v reflect.Value, path []int) reflect.Value {
	for i, x := range path {
		if i > 0 && v.Kind() == reflect.Pointer {
			if v.IsNil() {
				v.Set(reflect.New(v.Type().Elem()))
			}
			v = v.Elem()
		}
		v = v.Field(x)
	}
	return v
}

func (d *Decoder) checkEnum(n *yaml.Node, key string, f reflect.StructField, s string) bool {
	enum := f.Tag.Get("enum")
	if enum == "" {
		return true
	}
	allowed := strings.Split(enum, ",")
	for _, a := range allowed {
		if a == s {
			return true
		}
	}
	msg := fmt.Sprintf("%q is not one of %s", s, strings.Join(allowed, ", "))
	if sug := Suggest(s, allowed); sug != "" {
		msg += fmt.Sprintf("; did you mean %q?", sug)
	}
	d.Fail(n, key, "%s", msg)
	return false
}

func (d *Decoder) checkRange(n *yaml.Node, key string, f reflect.StructField, x float64, isDur bool) bool {
	parse := func(s string) float64 {
		if isDur {
			dd, err := time.ParseDuration(s)
			if err != nil {
				panic(fmt.Sprintf("config: bad duration bound %q", s))
			}
			return float64(dd)
		}
		b, err := strconv.ParseFloat(s, 64)
		if err != nil {
			panic(fmt.Sprintf("config: bad bound %q", s))
		}
		return b
	}
	show := func(x float64) string {
		if isDur {
			return time.Duration(x).String()
		}
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	if s := f.Tag.Get("min"); s != "" && x < parse(s) {
		d.Fail(n, key, "%s is below the minimum %s", show(x), s)
		return false
	}
	if s := f.Tag.Get("max"); s != "" && x > parse(s) {
		d.Fail(n, key, "%s is above the maximum %s", show(x), s)
		return false
	}
	return true
}

func parseBool(n *yaml.Node) (bool, bool) {
	if n.Kind != yaml.ScalarNode {
		return false, false
	}
	switch strings.ToLower(n.Value) {
	case "true", "yes", "on":
		return true, true
	case "false", "no", "off":
		return false, true
	}
	return false, false
}

// parseDuration accepts Go durations ("1m30s"), ISO-8601 durations as Data
// Prepper writes them ("PT3S"), and bare numbers in unit (default ms).
func parseDuration(n *yaml.Node, unit string) (time.Duration, error) {
	if n.Kind != yaml.ScalarNode {
		return 0, fmt.Errorf("expected a duration such as 5s, got %s", kindName(n))
	}
	s := strings.TrimSpace(n.Value)
	if x, err := strconv.ParseFloat(s, 64); err == nil {
		mult := time.Millisecond
		if unit == "s" {
			mult = time.Second
		}
		if x < 0 || x*float64(mult) > math.MaxInt64 {
			return 0, fmt.Errorf("duration %q is out of range", s)
		}
		return time.Duration(x * float64(mult)), nil
	}
	if up := strings.ToUpper(s); strings.HasPrefix(up, "PT") || strings.HasPrefix(up, "P") && strings.Contains(up, "D") {
		return parseISODuration(up)
	}
	dur, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q (use e.g. 500ms, 5s, 1m or PT5S)", s)
	}
	if dur < 0 {
		return 0, fmt.Errorf("duration %q must not be negative", s)
	}
	return dur, nil
}

func parseISODuration(s string) (time.Duration, error) {
	orig := s
	s = strings.TrimPrefix(s, "P")
	var total time.Duration
	inTime := false
	num := ""
	for _, r := range s {
		switch {
		case r == 'T':
			inTime = true
		case r >= '0' && r <= '9' || r == '.':
			num += string(r)
		default:
			x, err := strconv.ParseFloat(num, 64)
			if err != nil {
				return 0, fmt.Errorf("invalid ISO-8601 duration %q", orig)
			}
			num = ""
			var u time.Duration
			switch {
			case r == 'D' && !inTime:
				u = 24 * time.Hour
			case r == 'H' && inTime:
				u = time.Hour
			case r == 'M' && inTime:
				u = time.Minute
			case r == 'S' && inTime:
				u = time.Second
			default:
				return 0, fmt.Errorf("invalid ISO-8601 duration %q", orig)
			}
			total += time.Duration(x * float64(u))
		}
	}
	if num != "" {
		return 0, fmt.Errorf("invalid ISO-8601 duration %q", orig)
	}
	return total, nil
}

func kindName(n *yaml.Node) string {
	if n == nil {
		return "nothing"
	}
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return "a scalar"
	}
	return "a YAML node"
}

func describe(n *yaml.Node) string {
	if n != nil && n.Kind == yaml.ScalarNode {
		return strconv.Quote(n.Value)
	}
	return kindName(n)
}

// NodeToValue converts a YAML node into a JSON-like value (map[string]any,
// []any, string, int64, float64, bool, nil), as event fields hold them.
func NodeToValue(n *yaml.Node) (any, error) {
	if n == nil {
		return nil, nil
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return NodeToValue(n.Content[0])
	case yaml.AliasNode:
		return NodeToValue(n.Alias)
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			v, err := NodeToValue(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			m[n.Content[i].Value] = v
		}
		return m, nil
	case yaml.SequenceNode:
		s := make([]any, len(n.Content))
		for i, c := range n.Content {
			v, err := NodeToValue(c)
			if err != nil {
				return nil, err
			}
			s[i] = v
		}
		return s, nil
	}
	switch n.Tag {
	case "!!null":
		return nil, nil
	case "!!bool":
		b, _ := parseBool(n)
		return b, nil
	case "!!int":
		if i, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, 64); err == nil {
			return i, nil
		}
		f, err := strconv.ParseFloat(n.Value, 64)
		return f, err
	case "!!float":
		var f float64
		if err := n.Decode(&f); err != nil {
			return nil, err
		}
		return f, nil
	}
	return n.Value, nil
}

// sortedKeys is a helper for deterministic output.
func sortedKeys[M ~map[string]V, V any](m M) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
