package config

import (
	"fmt"
	"os"
	"strings"

	"gopkg.in/yaml.v3"
)

// substitute resolves ${VAR}, ${VAR:-default} and ${file:/path} in every
// scalar of the document. ${/json/pointer} is an event-field template that
// plugins expand per event, so it is left alone, as is $${...} (an escaped
// literal "${...}"). Values read from files are marked secret.
func substitute(file string, n *yaml.Node, env func(string) (string, bool), secrets map[*yaml.Node]bool) Errors {
	var errs Errors
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n == nil {
			return
		}
		if n.Kind == yaml.ScalarNode && strings.Contains(n.Value, "${") {
			out, fromFile, err := Expand(n.Value, env)
			if err != nil {
				errs = append(errs, &Error{Pos: posOf(file, n), Msg: err.Error()})
				return
			}
			if fromFile {
				secrets[n] = true
			}
			if out != n.Value {
				n.Value = out
				// A substituted value is re-typed like a plain scalar, so
				// `port: ${PORT}` decodes as a number.
				if n.Style == 0 {
					n.Tag = resolveTag(out)
				}
			}
			return
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(n)
	return errs
}

func resolveTag(s string) string {
	var v any
	if err := yaml.Unmarshal([]byte(s), &v); err != nil {
		return "!!str"
	}
	switch v.(type) {
	case nil:
		if s == "" {
			return "!!str"
		}
		return "!!null"
	case bool:
		return "!!bool"
	case int, int64, uint64:
		return "!!int"
	case float64:
		return "!!float"
	}
	return "!!str"
}

// Expand resolves references in s. It reports whether any value came from
// a file (such values are treated as secrets).
func Expand(s string, env func(string) (string, bool)) (string, bool, error) {
	var b strings.Builder
	fromFile := false
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), fromFile, nil
		}
		if i > 0 && s[i-1] == '$' { // $${ → literal ${
			b.WriteString(s[:i-1])
			b.WriteString("${")
			s = s[i+2:]
			continue
		}
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return "", false, fmt.Errorf("unterminated ${ in %q", s)
		}
		ref := s[i+2 : i+end]
		b.WriteString(s[:i])
		s = s[i+end+1:]
		switch {
		case strings.HasPrefix(ref, "file:"):
			p := strings.TrimPrefix(ref, "file:")
			data, err := os.ReadFile(p)
			if err != nil {
				return "", false, fmt.Errorf("${file:%s}: %w", p, err)
			}
			b.WriteString(strings.TrimRight(string(data), "\r\n"))
			fromFile = true
		case strings.HasPrefix(ref, "/") || !IsEnvName(strings.SplitN(ref, ":-", 2)[0]):
			// An event-field template (${/kubernetes/pod_name}, or Data
			// Prepper's ${key} in add_entries formats): kept for the plugin.
			// Only conventional environment names (upper case, digits, _)
			// are looked up.
			b.WriteString("${" + ref + "}")
		default:
			name, def, hasDef := strings.Cut(ref, ":-")
			v, ok := env(name)
			if !ok || (hasDef && v == "") {
				if !hasDef {
					return "", false, fmt.Errorf("environment variable %s is not set (use ${%s:-default} for a default)", name, name)
				}
				v = def
			}
			b.WriteString(v)
		}
	}
}

// IsEnvName reports whether s is a conventional environment variable name
// (upper-case letters, digits and underscores, not starting with a digit).
// Only such names are substituted from the environment; anything else in
// ${...} is an event-field reference for a plugin.
func IsEnvName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if r == '_' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9' {
			continue
		}
		return false
	}
	return true
}
