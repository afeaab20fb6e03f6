package config

import (
	"bytes"
	"regexp"

	"gopkg.in/yaml.v3"
)

// Redacted is what every output shows in place of a secret.
const Redacted = "<redacted>"

// secretKeyRe matches option names that hold secrets whatever the plugin.
var secretKeyRe = regexp.MustCompile(`(?i)^(password|passwd|secret|.*_secret|secret_.*|token|.*_token|api_key|apikey|salt|salt_key|shared_key|aws_secret_access_key|aws_session_token|authorization|credentials)$`)

// Print renders the resolved configuration as YAML with every secret
// replaced by <redacted>.
func (cfg *Config) Print() ([]byte, error) {
	var buf bytes.Buffer
	for i, doc := range cfg.docs {
		if i > 0 {
			buf.WriteString("---\n")
		}
		cp := redactCopy(doc, cfg.Secrets, false)
		enc := yaml.NewEncoder(&buf)
		enc.SetIndent(2)
		if err := enc.Encode(cp); err != nil {
			return nil, err
		}
		enc.Close()
	}
	return buf.Bytes(), nil
}

func redactCopy(n *yaml.Node, secrets map[*yaml.Node]bool, secretCtx bool) *yaml.Node {
	if n == nil {
		return nil
	}
	cp := *n
	if n.Kind == yaml.ScalarNode {
		if secretCtx || secrets[n] {
			cp.Value, cp.Tag, cp.Style = Redacted, "!!str", 0
		} else if n.Tag == "!!null" && n.Value == "" {
			cp.Value = "null"
		}
		return &cp
	}
	if secrets[n] {
		secretCtx = true
	}
	cp.Content = make([]*yaml.Node, len(n.Content))
	for i, c := range n.Content {
		childSecret := secretCtx
		if n.Kind == yaml.MappingNode && i%2 == 0 {
			childSecret = false // keys of a secret map stay readable
		} else if n.Kind == yaml.MappingNode && secretKeyRe.MatchString(n.Content[i-1].Value) {
			childSecret = true
		}
		cp.Content[i] = redactCopy(c, secrets, childSecret)
	}
	return &cp
}

// IsSecretKey reports whether an option name always holds a secret.
func IsSecretKey(name string) bool { return secretKeyRe.MatchString(name) }
