package grok

import (
	_ "embed"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"regexp/syntax"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/weft-agent/weft/config"
	"github.com/weft-agent/weft/pipelines/event"
)

//go:embed patterns/grok-patterns
var builtinText string

var builtin = sync.OnceValues(func() (map[string]string, error) {
	defs := map[string]string{}
	err := parsePatternFile("grok-patterns", builtinText, defs)
	return defs, err
})

// Builtin returns a copy of the built-in pattern definitions by name.
func Builtin() map[string]string {
	defs, err := builtin()
	if err != nil {
		panic("grok: built-in patterns: " + err.Error())
	}
	out := make(map[string]string, len(defs))
	for k, v := range defs {
		out[k] = v
	}
	return out
}

// Limits on what one pattern may become, so that a configuration (or a
// fuzzer) cannot make the agent build an enormous automaton.
const (
	maxExpandedLen = 256 << 10 // bytes of regular expression after expansion
	maxDepth       = 100       // nesting of %{} references
	maxFields      = 1000      // captures in one pattern
	maxVariants    = 64        // see split
	// backtrackLimit is the program size up to which Go's regexp uses its
	// backtracking matcher (regexp's maxBacktrackProg is 500), several
	// times faster than its NFA simulation; a little is kept in reserve
	// for the anchored form.
	backtrackLimit = 490
)

func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

// parsePatternFile reads "NAME regex" lines into defs. Blank lines and
// lines starting with # (after optional blanks) are skipped.
func parsePatternFile(name, text string, defs map[string]string) error {
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimRight(line, "\r")
		if t := strings.TrimLeft(line, " \t"); t == "" || t[0] == '#' {
			continue
		}
		j := 0
		for j < len(line) && isNameByte(line[j]) {
			j++
		}
		if j == 0 || j == len(line) || line[j] != ' ' && line[j] != '\t' {
			return fmt.Errorf("%s:%d: expected a pattern name, blanks and a regular expression", name, i+1)
		}
		def := strings.TrimLeft(line[j:], " \t")
		if def == "" {
			return fmt.Errorf("%s:%d: pattern %s has no regular expression", name, i+1, line[:j])
		}
		defs[line[:j]] = def
	}
	return nil
}

// Library is a set of named patterns: the built-in ones, then
// pattern_definitions, then the files of patterns_directories (a later
// definition of a name replaces an earlier one, as in Data Prepper).
type Library struct {
	defs  map[string]string
	names []string // sorted, for suggestions
}

// NewLibrary builds a library. Directory errors name the directory or file.
func NewLibrary(definitions map[string]string, dirs []string, glob string) (*Library, error) {
	defs := Builtin()
	for name, def := range definitions {
		if name == "" || strings.IndexFunc(name, func(r rune) bool { return r > 127 || !isNameByte(byte(r)) }) >= 0 {
			return nil, fmt.Errorf("pattern name %q: use letters, digits and _ only", name)
		}
		defs[name] = def
	}
	for _, dir := range dirs {
		files, err := patternFiles(dir, glob)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				return nil, err
			}
			if err := parsePatternFile(f, string(data), defs); err != nil {
				return nil, err
			}
		}
	}
	lib := &Library{defs: defs, names: make([]string, 0, len(defs))}
	for n := range defs {
		lib.names = append(lib.names, n)
	}
	sort.Strings(lib.names)
	return lib, nil
}

// patternFiles lists the regular files of dir whose names match glob, in
// name order. The glob is a shell pattern with Java's {a,b} alternatives.
func patternFiles(dir, glob string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("patterns directory: %w", err)
	}
	globs := expandBraces(glob)
	for _, g := range globs {
		if _, err := filepath.Match(g, ""); err != nil {
			return nil, fmt.Errorf("patterns_files_glob %q: %w", glob, err)
		}
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		for _, g := range globs {
			if ok, _ := filepath.Match(g, e.Name()); ok {
				out = append(out, filepath.Join(dir, e.Name()))
				break
			}
		}
	}
	return out, nil
}

// expandBraces turns "*.{txt,grok}" into ["*.txt", "*.grok"] (one level).
func expandBraces(glob string) []string {
	i := strings.IndexByte(glob, '{')
	j := strings.IndexByte(glob, '}')
	if i < 0 || j < i {
		return []string{glob}
	}
	var out []string
	for _, alt := range strings.Split(glob[i+1:j], ",") {
		out = append(out, expandBraces(glob[:i]+alt+glob[j+1:])...)
	}
	return out
}

// valueType is the conversion a %{PATTERN:name:type} capture asks for.
type valueType uint8

const (
	tString valueType = iota
	tInt              // 32-bit, as java-grok's int
	tLong
	tShort
	tByte
	tFloat
	tBool
)

var typeNames = map[string]valueType{
	"string": tString, "text": tString,
	"int": tInt, "integer": tInt, "long": tLong, "short": tShort, "byte": tByte,
	"float": tFloat, "double": tFloat,
	"boolean": tBool, "bool": tBool,
}

func typeList() string {
	return "int, integer, long, short, byte, float, double, boolean, string"
}

// field is one capture of a compiled pattern.
type field struct {
	key  string // the name events get: "clientip", "[a][b]", "INT"
	path event.Path
	typ  valueType
}

// variant is one regular expression of a pattern (see split).
type variant struct {
	re       *regexp.Regexp // unanchored
	anchored *regexp.Regexp // the same, matched at the start only
	// head is the variant's first element alone, anchored: when it does
	// not match at the start, neither does the variant, and the check is
	// cheaper than the variant's own (whose cost grows with its size times
	// the line's length even when it fails at once): about 10% of the
	// time of a combined log line.
	head   *regexp.Regexp
	groups []int // submatch i+1 → field index (-1: none)
}

// Pattern is a compiled grok pattern: immutable and safe for concurrent use.
type Pattern struct {
	src      string
	fields   []field
	variants []variant
	// required are literal strings every match contains: a line that
	// lacks one cannot match, and is rejected without running the
	// expressions (failing lines would otherwise cost the most).
	required []string
	// anchorFirst tries every variant at position 0 before searching:
	// when the pattern had to be split into variants, or uses Go's slower
	// NFA, a match at the start (the usual case for log lines) is found
	// without scanning every start position.
	anchorFirst bool
}

// String returns the pattern as configured.
func (p *Pattern) String() string { return p.src }

// CompileError is an error in a pattern; Suggestion names the closest
// known pattern when the error is an unknown name.
type CompileError struct {
	Msg        string
	Suggestion string
}

func (e *CompileError) Error() string {
	if e.Suggestion != "" {
		return fmt.Sprintf("%s; did you mean %q?", e.Msg, e.Suggestion)
	}
	return e.Msg
}

func compileErr(format string, args ...any) error {
	return &CompileError{Msg: fmt.Sprintf(format, args...)}
}

// Compile compiles a grok pattern: %{NAME}, %{NAME:field} and
// %{NAME:field:type} references expanded from the library, inside a Go
// (RE2) regular expression; Java/Oniguruma syntax that RE2 lacks is
// translated where it can be (atomic groups, possessive quantifiers,
// \Z, \h, \uXXXX) and rejected with a clear error where it cannot
// (lookaround, backreferences). With namedOnly false, %{NAME} references
// are captured too, under the pattern's name.
func (lib *Library) Compile(src string, namedOnly bool) (*Pattern, error) {
	return lib.compile(src, namedOnly, true)
}

// compile is Compile; allowSplit false keeps one regular expression (tests
// compare the two).
func (lib *Library) compile(src string, namedOnly, allowSplit bool) (*Pattern, error) {
	x := &expander{lib: lib, namedOnly: namedOnly}
	if err := x.expand(src, 0); err != nil {
		return nil, err
	}
	re, err := syntax.Parse(x.out.String(), syntax.Perl)
	if err != nil {
		return nil, compileErr("invalid regular expression: %v", unwrapSyntax(err))
	}
	re = stripUnnamed(re)
	p := &Pattern{src: src, fields: x.fields, required: requiredLiterals(re)}
	variants := []*syntax.Regexp{re}
	if allowSplit {
		variants = split(re)
	}
	for _, v := range variants {
		s := regexpText(v)
		loose, err := regexp.Compile(s)
		if err != nil {
			return nil, compileErr("invalid regular expression: %v", unwrapSyntax(err))
		}
		anchored, err := regexp.Compile(`^(?:` + s + `)`)
		if err != nil {
			return nil, compileErr("invalid regular expression: %v", unwrapSyntax(err))
		}
		vt := variant{re: loose, anchored: anchored, groups: make([]int, loose.NumSubexp())}
		if len(variants) > 1 && v.Op == syntax.OpConcat && len(v.Sub) > 1 {
			if h := v.Sub[0]; estimateSize(h)*3 < estimateSize(v) {
				vt.head, _ = regexp.Compile(`^(?:` + regexpText(withoutCaptures(h)) + `)`)
			}
		}
		for i, name := range loose.SubexpNames()[1:] {
			vt.groups[i] = -1
			if n, ok := fieldIndex(name); ok && n < len(p.fields) {
				vt.groups[i] = n
			}
		}
		p.variants = append(p.variants, vt)
	}
	p.anchorFirst = len(p.variants) > 1 || progSize(re) > backtrackLimit
	return p, nil
}

// unwrapSyntax shortens regexp/syntax errors, which quote the whole
// (expanded, possibly huge) expression.
func unwrapSyntax(err error) string {
	var se *syntax.Error
	if errors.As(err, &se) {
		arg := se.Expr
		if len(arg) > 80 {
			arg = arg[:80] + "…"
		}
		return fmt.Sprintf("%s: `%s`", se.Code, arg)
	}
	return err.Error()
}

const groupPrefix = "g"

func fieldIndex(name string) (int, bool) {
	if !strings.HasPrefix(name, groupPrefix) {
		return 0, false
	}
	n, err := strconv.Atoi(name[len(groupPrefix):])
	return n, err == nil && n >= 0
}

// expander expands %{} references into one regular expression, numbering
// the captures it keeps as named groups g0, g1 … (every named group in the
// result is one of these: user groups are renamed as they are read).
type expander struct {
	lib       *Library
	local     map[string]string // %{NAME=regex} inline definitions
	namedOnly bool
	fields    []field
	out       strings.Builder
	stack     []string
}

func (x *expander) addField(key string, typ valueType) (int, error) {
	if len(x.fields) >= maxFields {
		return 0, compileErr("more than %d captures", maxFields)
	}
	p, err := fieldPath(key)
	if err != nil {
		return 0, err
	}
	x.fields = append(x.fields, field{key: key, path: p, typ: typ})
	return len(x.fields) - 1, nil
}

// fieldPath maps a capture name to the event field it fills: "[a][b]"
// (Logstash's nested syntax) and "a/b" (a JSON pointer, as Data Prepper
// treats keys with slashes) are nested; anything else is one key.
func fieldPath(key string) (event.Path, error) {
	if key == "" || strings.Trim(key, "/") == "" {
		return event.Path{}, compileErr("capture name %q does not name a field", key)
	}
	if strings.HasPrefix(key, "[") && strings.HasSuffix(key, "]") {
		inner := key[1 : len(key)-1]
		segs := strings.Split(inner, "][")
		var b strings.Builder
		for _, s := range segs {
			if s == "" || strings.ContainsAny(s, "[]") {
				return event.Path{}, compileErr("capture name %q: nested names look like [a][b]", key)
			}
			b.WriteByte('/')
			b.WriteString(strings.NewReplacer("~", "~0", "/", "~1").Replace(s))
		}
		return event.ParsePath(b.String()), nil
	}
	if strings.Contains(key, "/") {
		return event.ParsePath(key), nil
	}
	// One key, even if it contains "~" (no pointer escapes).
	return event.ParsePath("/" + strings.NewReplacer("~", "~0").Replace(key)), nil
}

func (x *expander) lookup(name string) (string, bool) {
	if d, ok := x.local[name]; ok {
		return d, true
	}
	d, ok := x.lib.defs[name]
	return d, ok
}

func (x *expander) expand(text string, depth int) error {
	if depth > maxDepth {
		return compileErr("references nested more than %d deep", maxDepth)
	}
	for {
		i := strings.Index(text, "%{")
		for i >= 0 && (i+2 >= len(text) || !isNameByte(text[i+2])) {
			// "%{" not followed by a name is literal text.
			j := strings.Index(text[i+2:], "%{")
			if j < 0 {
				i = -1
			} else {
				i += 2 + j
			}
		}
		if i < 0 {
			return x.literal(text)
		}
		if err := x.literal(text[:i]); err != nil {
			return err
		}
		end := strings.IndexByte(text[i:], '}')
		if end < 0 {
			return compileErr("unterminated reference %q", clip(text[i:]))
		}
		ref := text[i+2 : i+end]
		text = text[i+end+1:]
		if err := x.reference(ref, depth); err != nil {
			return err
		}
		if x.out.Len() > maxExpandedLen {
			return compileErr("the pattern is larger than %d KiB once its references are expanded", maxExpandedLen>>10)
		}
	}
}

// reference expands NAME[:semantic[:type]][=definition].
func (x *expander) reference(ref string, depth int) error {
	n := 0
	for n < len(ref) && isNameByte(ref[n]) {
		n++
	}
	name, rest := ref[:n], ref[n:]
	var semantic, typ, def string
	hasDef := false
	if k := strings.IndexByte(rest, '='); k >= 0 {
		def, rest, hasDef = rest[k+1:], rest[:k], true
	}
	if rest != "" {
		if rest[0] != ':' {
			return compileErr("malformed reference %%{%s}: expected %%{NAME}, %%{NAME:field} or %%{NAME:field:type}", ref)
		}
		parts := strings.FieldsFunc(rest[1:], func(r rune) bool { return r == ':' || r == ';' })
		if len(parts) > 0 {
			semantic = parts[0]
		}
		if len(parts) > 1 {
			typ = parts[1]
		}
		if len(parts) > 3 || len(parts) == 3 && typ != "date" && typ != "datetime" {
			return compileErr("malformed reference %%{%s}: too many parts", ref)
		}
	}
	if hasDef {
		if x.local == nil {
			x.local = map[string]string{}
		}
		x.local[name] = def
	}
	body, ok := x.lookup(name)
	if !ok {
		return &CompileError{Msg: fmt.Sprintf("unknown grok pattern %q in %%{%s}", name, ref), Suggestion: config.Suggest(name, x.lib.names)}
	}
	for _, s := range x.stack {
		if s == name {
			return compileErr("pattern %s refers to itself (%s → %s)", name, strings.Join(x.stack, " → "), name)
		}
	}
	vt := tString
	if typ != "" {
		t, ok := typeNames[strings.ToLower(typ)]
		if !ok {
			if l := strings.ToLower(typ); l == "date" || l == "datetime" {
				return compileErr("%%{%s}: the %s conversion is not supported; parse dates with the date processor", ref, typ)
			}
			return compileErr("%%{%s}: unknown type %q; use one of %s", ref, typ, typeList())
		}
		vt = t
	}
	capture := semantic != "" || !x.namedOnly
	if capture {
		key := semantic
		if key == "" {
			key = name
		}
		idx, err := x.addField(key, vt)
		if err != nil {
			return err
		}
		fmt.Fprintf(&x.out, "(?P<%s%d>", groupPrefix, idx)
	} else {
		x.out.WriteString("(?:")
	}
	x.stack = append(x.stack, name)
	err := x.expand(body, depth+1)
	x.stack = x.stack[:len(x.stack)-1]
	x.out.WriteByte(')')
	return err
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

var (
	quantRE  = regexp.MustCompile(`^\{[0-9]+(?:,[0-9]*)?\}`)
	groupRE  = regexp.MustCompile(`^\(\?P?<([A-Za-z][A-Za-z0-9_]*)>`)
	unicodRE = regexp.MustCompile(`^\\u[0-9A-Fa-f]{4}`)
)

// literal copies regular expression text, translating the Java and
// Oniguruma constructs RE2 lacks, and renaming named groups.
func (x *expander) literal(s string) error {
	b := &x.out
	for i := 0; i < len(s); {
		c := s[i]
		switch c {
		case '\\':
			if i+1 >= len(s) {
				b.WriteByte(c)
				i++
				continue
			}
			switch n := s[i+1]; {
			case n == 'Q':
				end := strings.Index(s[i+2:], `\E`)
				if end < 0 {
					b.WriteString(s[i:])
					return nil
				}
				b.WriteString(s[i : i+2+end+2])
				i += 2 + end + 2
				continue
			case n == 'Z':
				b.WriteString(`(?:\n?\z)`)
			case n == 'h':
				b.WriteString(`[\t \x{a0}\x{1680}\x{180e}\x{2000}-\x{200a}\x{202f}\x{205f}\x{3000}]`)
			case n == 'R':
				b.WriteString(`(?:\r\n|[\n\x0b\f\r\x{85}\x{2028}\x{2029}])`)
			case n == 'u' && unicodRE.MatchString(s[i:]):
				b.WriteString(`\x{` + s[i+2:i+6] + `}`)
				i += 6
				continue
			case n >= '1' && n <= '9' || n == 'k':
				return compileErr("backreferences (%s) are not supported: Go's RE2 engine matches in linear time and has none", clip(s[i:]))
			case n == 'G':
				return compileErr(`\G is not supported by Go's RE2 engine`)
			default:
				b.WriteString(s[i : i+2])
			}
			i += 2
		case '[':
			j := classEnd(s, i)
			b.WriteString(s[i:j])
			i = j
		case '(':
			rest := s[i:]
			switch {
			case strings.HasPrefix(rest, "(?>"):
				// An atomic group only prunes backtracking; RE2 does not
				// backtrack, so a plain group matches the same text in
				// nearly every pattern.
				b.WriteString("(?:")
				i += 3
			case strings.HasPrefix(rest, "(?="), strings.HasPrefix(rest, "(?!"),
				strings.HasPrefix(rest, "(?<="), strings.HasPrefix(rest, "(?<!"):
				return compileErr("lookaround %q is not supported: Go's RE2 engine matches in linear time and has no lookahead or lookbehind", clip(rest))
			default:
				if m := groupRE.FindStringSubmatch(rest); m != nil {
					idx, err := x.addField(m[1], tString)
					if err != nil {
						return err
					}
					fmt.Fprintf(b, "(?P<%s%d>", groupPrefix, idx)
					i += len(m[0])
				} else {
					b.WriteByte('(')
					i++
				}
			}
		case '{':
			if m := quantRE.FindString(s[i:]); m != "" {
				b.WriteString(m)
				i += len(m)
				i = skipPossessive(s, i)
			} else {
				b.WriteByte('{')
				i++
			}
		case '*', '+', '?':
			b.WriteByte(c)
			i++
			if c == '?' && i >= 2 && s[i-2] == '(' {
				continue // "(?", not a quantifier
			}
			i = skipPossessive(s, i)
		default:
			b.WriteByte(c)
			i++
		}
	}
	return nil
}

// skipPossessive drops the + of a possessive quantifier (a*+, a?+, a{2}+),
// which RE2 rejects; without backtracking it would match the same.
func skipPossessive(s string, i int) int {
	if i < len(s) && s[i] == '+' {
		return i + 1
	}
	return i
}

// classEnd returns the index after the character class starting at i.
func classEnd(s string, i int) int {
	k := i + 1
	if k < len(s) && s[k] == '^' {
		k++
	}
	if k < len(s) && s[k] == ']' {
		k++
	}
	for k < len(s) {
		switch s[k] {
		case '\\':
			k += 2
			continue
		case '[':
			if k+1 < len(s) && s[k+1] == ':' {
				if e := strings.Index(s[k+2:], ":]"); e >= 0 {
					k += 2 + e + 2
					continue
				}
			}
		case ']':
			return k + 1
		}
		k++
	}
	return len(s)
}

// stripUnnamed replaces unnamed capturing groups by their contents: only
// the named ones are reported, and every capture slot makes Go's matchers
// slower.
func stripUnnamed(re *syntax.Regexp) *syntax.Regexp {
	for i, s := range re.Sub {
		re.Sub[i] = stripUnnamed(s)
	}
	if re.Op == syntax.OpCapture && re.Name == "" {
		return re.Sub[0]
	}
	return re
}

func progSize(re *syntax.Regexp) int {
	prog, err := syntax.Compile(re.Simplify())
	if err != nil {
		return 1 << 30
	}
	return len(prog.Inst)
}

// estimateSize approximates progSize without compiling (split asks it
// about many large trees): counted repetitions are unrolled as Simplify
// unrolls them.
func estimateSize(re *syntax.Regexp) int {
	n := 0
	switch re.Op {
	case syntax.OpLiteral:
		return len(re.Rune)
	case syntax.OpCapture:
		return 2 + estimateSize(re.Sub[0])
	case syntax.OpConcat:
		for _, s := range re.Sub {
			n += estimateSize(s)
		}
		return n
	case syntax.OpAlternate:
		for _, s := range re.Sub {
			n += estimateSize(s) + 1
		}
		return n
	case syntax.OpStar, syntax.OpPlus, syntax.OpQuest:
		return estimateSize(re.Sub[0]) + 1
	case syntax.OpRepeat:
		sub := estimateSize(re.Sub[0])
		if re.Max < 0 {
			return re.Min*sub + sub + 1
		}
		return re.Min*sub + (re.Max-re.Min)*(sub+1)
	}
	return 1
}

// split returns regular expressions that, tried in order at a given start
// position, match exactly what re matches there: when re is too large for
// Go's backtracking matcher, its first alternation (after a prefix that can
// match in only one way) is distributed over the rest of the pattern —
// P(A|B)Q becomes PAQ, PBQ — as long as that makes the pieces smaller.
// %{IPORHOST:clientip} … becomes one expression per IPv6 form, one for
// IPv4 and one for host names, each small enough to backtrack.
func split(re *syntax.Regexp) []*syntax.Regexp {
	out, ok := splitInto(nil, re)
	if !ok || len(out) > maxVariants {
		return []*syntax.Regexp{re}
	}
	return out
}

// splitInto appends the pieces of re to out; it fails when a piece stays
// too large to backtrack (several pieces that each need the NFA would be
// slower than one).
func splitInto(out []*syntax.Regexp, re *syntax.Regexp) ([]*syntax.Regexp, bool) {
	if estimateSize(re)+2 <= backtrackLimit {
		return append(out, re), true
	}
	alts := distribute(re)
	if alts == nil {
		return nil, false
	}
	for _, a := range alts {
		var ok bool
		if out, ok = splitInto(out, a); !ok || len(out) > maxVariants {
			return nil, false
		}
	}
	return out, true
}

// distribute returns the alternatives of re's first alternation, each with
// the rest of re around it, or nil when re has none in a splittable place.
func distribute(re *syntax.Regexp) []*syntax.Regexp {
	switch re.Op {
	case syntax.OpAlternate:
		return re.Sub
	case syntax.OpCapture:
		inner := distribute(re.Sub[0])
		for i, a := range inner {
			c := *re
			c.Sub = []*syntax.Regexp{a}
			c.Sub0 = [1]*syntax.Regexp{}
			inner[i] = &c
		}
		return inner
	case syntax.OpConcat:
		for k, e := range re.Sub {
			if deterministic(e) {
				continue
			}
			inner := distribute(e)
			for i, a := range inner {
				subs := make([]*syntax.Regexp, 0, len(re.Sub))
				subs = append(subs, re.Sub[:k]...)
				subs = append(subs, a)
				subs = append(subs, re.Sub[k+1:]...)
				inner[i] = &syntax.Regexp{Op: syntax.OpConcat, Flags: re.Flags, Sub: subs}
			}
			return inner
		}
	}
	return nil
}

// deterministic reports whether re can match a given text in one way only,
// so that distributing an alternation after it keeps the order in which a
// backtracking matcher tries the possibilities.
func deterministic(re *syntax.Regexp) bool {
	switch re.Op {
	case syntax.OpLiteral, syntax.OpCharClass, syntax.OpAnyChar, syntax.OpAnyCharNotNL,
		syntax.OpEmptyMatch, syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText,
		syntax.OpEndText, syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return true
	case syntax.OpCapture:
		return deterministic(re.Sub[0])
	case syntax.OpConcat:
		for _, s := range re.Sub {
			if !deterministic(s) {
				return false
			}
		}
		return true
	case syntax.OpRepeat:
		return re.Min == re.Max && deterministic(re.Sub[0])
	}
	return false
}

// writeRegexp prints re as regular expression text that parses back to the
// same tree. (syntax.Regexp.String also does, but is very slow on the large
// negated classes grok patterns are full of, such as \S.) Every rune is
// written as \x{…} and every operand is grouped, so no escaping or
// precedence rule can go wrong.
func writeRegexp(b *strings.Builder, re *syntax.Regexp) {
	switch re.Op {
	case syntax.OpNoMatch:
		b.WriteString(`[^\x00-\x{10FFFF}]`)
	case syntax.OpEmptyMatch:
		b.WriteString(`(?:)`)
	case syntax.OpLiteral:
		if re.Flags&syntax.FoldCase != 0 {
			b.WriteString(`(?i:`)
		} else {
			b.WriteString(`(?:`)
		}
		for _, r := range re.Rune {
			writeRune(b, r)
		}
		b.WriteByte(')')
	case syntax.OpCharClass:
		if len(re.Rune) == 0 {
			b.WriteString(`[^\x00-\x{10FFFF}]`)
			return
		}
		b.WriteByte('[')
		for i := 0; i+1 < len(re.Rune); i += 2 {
			writeRune(b, re.Rune[i])
			if re.Rune[i+1] != re.Rune[i] {
				b.WriteByte('-')
				writeRune(b, re.Rune[i+1])
			}
		}
		b.WriteByte(']')
	case syntax.OpAnyCharNotNL:
		b.WriteString(`(?-s:.)`)
	case syntax.OpAnyChar:
		b.WriteString(`(?s:.)`)
	case syntax.OpBeginLine:
		b.WriteString(`(?m:^)`)
	case syntax.OpEndLine:
		b.WriteString(`(?m:$)`)
	case syntax.OpBeginText:
		b.WriteString(`\A`)
	case syntax.OpEndText:
		if re.Flags&syntax.WasDollar != 0 {
			b.WriteString(`(?-m:$)`)
		} else {
			b.WriteString(`\z`)
		}
	case syntax.OpWordBoundary:
		b.WriteString(`\b`)
	case syntax.OpNoWordBoundary:
		b.WriteString(`\B`)
	case syntax.OpCapture:
		if re.Name != "" {
			b.WriteString(`(?P<` + re.Name + `>`)
		} else {
			b.WriteByte('(')
		}
		writeRegexp(b, re.Sub[0])
		b.WriteByte(')')
	case syntax.OpStar, syntax.OpPlus, syntax.OpQuest, syntax.OpRepeat:
		b.WriteString(`(?:`)
		writeRegexp(b, re.Sub[0])
		b.WriteByte(')')
		switch re.Op {
		case syntax.OpStar:
			b.WriteByte('*')
		case syntax.OpPlus:
			b.WriteByte('+')
		case syntax.OpQuest:
			b.WriteByte('?')
		default:
			if re.Max < 0 {
				fmt.Fprintf(b, "{%d,}", re.Min)
			} else if re.Min == re.Max {
				fmt.Fprintf(b, "{%d}", re.Min)
			} else {
				fmt.Fprintf(b, "{%d,%d}", re.Min, re.Max)
			}
		}
		if re.Flags&syntax.NonGreedy != 0 {
			b.WriteByte('?')
		}
	case syntax.OpConcat:
		b.WriteString(`(?:`)
		for _, s := range re.Sub {
			writeRegexp(b, s)
		}
		b.WriteByte(')')
	case syntax.OpAlternate:
		b.WriteString(`(?:`)
		for i, s := range re.Sub {
			if i > 0 {
				b.WriteByte('|')
			}
			writeRegexp(b, s)
		}
		b.WriteByte(')')
	default:
		// Unknown to this printer: fall back to the library's.
		b.WriteString(`(?:` + re.String() + `)`)
	}
}

func writeRune(b *strings.Builder, r rune) {
	if r < 128 && isNameByte(byte(r)) && r != '_' {
		b.WriteByte(byte(r))
		return
	}
	fmt.Fprintf(b, `\x{%x}`, r)
}

func regexpText(re *syntax.Regexp) string {
	var b strings.Builder
	writeRegexp(&b, re)
	return b.String()
}

// requiredLiterals returns the longest literal strings (at most four) that
// any match of re contains: literals on the mandatory path through re,
// outside alternations and optional parts.
func requiredLiterals(re *syntax.Regexp) []string {
	var lits []string
	var walk func(re *syntax.Regexp)
	walk = func(re *syntax.Regexp) {
		switch re.Op {
		case syntax.OpLiteral:
			// Not with U+FFFD, which also matches an invalid UTF-8 byte.
			if re.Flags&syntax.FoldCase == 0 && !slices.Contains(re.Rune, utf8.RuneError) {
				lits = append(lits, string(re.Rune))
			}
		case syntax.OpCapture, syntax.OpPlus:
			walk(re.Sub[0])
		case syntax.OpRepeat:
			if re.Min > 0 {
				walk(re.Sub[0])
			}
		case syntax.OpConcat:
			for _, s := range re.Sub {
				walk(s)
			}
		}
	}
	walk(re)
	sort.SliceStable(lits, func(i, j int) bool { return len(lits[i]) > len(lits[j]) })
	var out []string
	for _, l := range lits {
		dup := false
		for _, o := range out {
			if strings.Contains(o, l) {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, l)
		}
		if len(out) == 4 {
			break
		}
	}
	return out
}

// withoutCaptures copies re without its capturing groups.
func withoutCaptures(re *syntax.Regexp) *syntax.Regexp {
	if re.Op == syntax.OpCapture {
		return withoutCaptures(re.Sub[0])
	}
	if len(re.Sub) == 0 {
		return re
	}
	c := *re
	c.Sub0 = [1]*syntax.Regexp{}
	c.Sub = make([]*syntax.Regexp, len(re.Sub))
	for i, s := range re.Sub {
		c.Sub[i] = withoutCaptures(s)
	}
	return &c
}
