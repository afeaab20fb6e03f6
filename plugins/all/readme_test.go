package all

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/weft-agent/weft/pipelines"
)

// Every plugin documents every option in the README beside its code, and the
// option names there are the ones the code decodes.
func TestEveryPluginREADMEListsEveryOption(t *testing.T) {
	for _, f := range pipelines.Factories() {
		if f.Name == "pipeline" {
			continue // engine built-in, documented in the top-level README
		}
		root := ".." // sources and processors
		if f.Kind == pipelines.KindSink {
			root = "../../exporters"
		}
		dir := filepath.Join(root, strings.ReplaceAll(f.Name, "_", ""))
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			t.Errorf("%s %s: no plugin folder named %q", f.Kind, f.Name, strings.ReplaceAll(f.Name, "_", ""))
			continue
		}
		readme, err := os.ReadFile(filepath.Join(dir, "README.md"))
		if err != nil {
			t.Errorf("%s %s: %v", f.Kind, f.Name, err)
			continue
		}
		for _, o := range f.Options() {
			leaf := o.Name[strings.LastIndexAny(o.Name, ".]")+1:]
			if !strings.Contains(string(readme), "`"+leaf+"`") && !strings.Contains(string(readme), "`"+o.Name+"`") {
				t.Errorf("%s %s: README does not document option %q", f.Kind, f.Name, o.Name)
			}
		}
	}
}
