package all

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/weft-agent/weft/pipelines"
)

// folderOf names the plugins whose folder is not their name without
// underscores ("<kind>/<name>": folder).
var folderOf = map[string]string{
	"sink/cloudwatch_logs": "cloudwatch", // exporters/cloudwatch
}

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
		folder := strings.ReplaceAll(f.Name, "_", "")
		if x, ok := folderOf[string(f.Kind)+"/"+f.Name]; ok {
			folder = x
		}
		dir := filepath.Join(root, folder)
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			t.Errorf("%s %s: no plugin folder named %q", f.Kind, f.Name, folder)
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
