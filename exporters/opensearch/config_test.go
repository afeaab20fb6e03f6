package opensearch

import (
	"strings"
	"testing"

	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/pipelinestest"
)

func TestREADMEListsEveryOption(t *testing.T) {
	pipelinestest.CheckREADME(t, pipelines.KindSink, "opensearch", "README.md")
}

func TestConfigDefaults(t *testing.T) {
	cfg, err := pipelinestest.DecodeConfig(pipelines.KindSink, "opensearch", "hosts: http://localhost:9200\nindex: logs\n")
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.(*Config)
	if len(c.Hosts) != 1 || c.IndexType != "custom" || c.TemplateType != "v1" || c.Action != "index" ||
		c.BulkSize != 5 || c.MaxDocuments != 1000 || c.FlushTimeout.String() != "1s" || !c.Compression ||
		c.MaxInflight != 2 || c.MaxBuffered != 10000 || c.MaxRetries != 10 ||
		c.InitialBackoff.String() != "100ms" || c.MaxBackoff.String() != "10s" {
		t.Fatalf("defaults %+v", c)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, c := range []struct{ yaml, want string }{
		{"index: logs", `"hosts": required`},
		{"hosts: [localhost:9200]\nindex: logs", "not an http:// or https:// URL"},
		{"hosts: [http://h:9200]", `"index": required when index_type is custom`},
		{"hosts: [http://h:9200]\nindex: logs\nindex_type: spans", `not one of`},
		{"hosts: [http://h:9200]\nindex_type: trace-analytics-raw\nindex: other", "always writes to otel-v1-apm-span"},
		{"hosts: [http://h:9200]\nindex: logs\naction: delete", "needs document_id"},
		{"hosts: [http://h:9200]\nindex: logs\naction: upsert", "needs document_id"},
		{"hosts: [http://h:9200]\nindex: logs\nclient_cert: /a.pem", "go together"},
		{"hosts: [http://h:9200]\nindex: logs\nusername: u\naws: {region: us-east-1}", "either aws"},
		{"hosts: [http://h:9200]\nindex: logs\nbulk_size: 0", "below the minimum"},
		{"hosts: [http://h:9200]\nindex: logs\nmax_buffered: 0", "below the minimum"},
		{"hosts: [http://h:9200]\nindex: logs\ninitial_backoff: 5s\nmax_backoff: 1s", "not be below initial_backoff"},
		{"hosts: [http://h:9200]\nindex: logs\ndocument_id: ${ID}", "environment variable"},
		{"hosts: [http://h:9200]\nindex: logs\ntemplate_type: v2", "not one of"},
		{"hosts: [http://h:9200]\nindex: logs\nbulk_sise: 3", `did you mean "bulk_size"`},
	} {
		_, err := pipelinestest.DecodeConfig(pipelines.KindSink, "opensearch", c.yaml)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: err = %v, want %q", c.yaml, err, c.want)
		}
	}
}

func TestConfigFieldNameShorthand(t *testing.T) {
	cfg, err := pipelinestest.DecodeConfig(pipelines.KindSink, "opensearch", "hosts: [http://h:9200]\nindex: logs\ndocument_id: /meta/id\nrouting: tenant\n")
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.(*Config)
	if c.DocumentID.String() != "${/meta/id}" || c.Routing.String() != "${/tenant}" {
		t.Fatalf("document_id %q routing %q", c.DocumentID.String(), c.Routing.String())
	}
}

func TestNewChecksFiles(t *testing.T) {
	for _, c := range []struct{ yaml, want string }{
		{"cert: /nonexistent/ca.pem", "cert:"},
		{"template_file: /nonexistent/t.json", "template_file"},
		{"ism_policy_file: /nonexistent/p.json", "ism_policy_file"},
	} {
		_, _, err := pipelinestest.Sink("opensearch", "hosts: [http://h:9200]\nindex: logs\n"+c.yaml)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v", c.yaml, err)
		}
	}
	bad := writeFile(t, "t.json", "{nope")
	if _, _, err := pipelinestest.Sink("opensearch", "hosts: [http://h:9200]\nindex: logs\ntemplate_file: "+bad); err == nil {
		t.Error("an invalid template file was accepted")
	}
	good := writeFile(t, "t.json", `{"mappings":{}}`)
	if _, _, err := pipelinestest.Sink("opensearch", "hosts: [http://h:9200]\nindex: ${/ns}-logs\ntemplate_file: "+good); err == nil || !strings.Contains(err.Error(), "index_patterns") {
		t.Errorf("err = %v", err)
	}
}
