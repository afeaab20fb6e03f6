package kubernetes

import (
	"errors"
	"time"

	"github.com/weft-agent/weft/config"
)

// Default locations of the service-account credentials a pod gets.
const (
	DefaultCAFile    = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"
	DefaultTokenFile = "/var/run/secrets/kubernetes.io/serviceaccount/token"
)

// Config is the kubernetes processor's configuration.
type Config struct {
	API            bool          `yaml:"api" doc:"look pods up in the Kubernetes API (false: the processor passes events through)"`
	KubeURL        string        `yaml:"kube_url" doc:"API server URL (default: in-cluster, from KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT)"`
	KubeCAFile     string        `yaml:"kube_ca_file" doc:"CA bundle that signs the API server's certificate"`
	KubeTokenFile  string        `yaml:"kube_token_file" doc:"bearer token file, re-read every minute (projected tokens rotate)"`
	Kubeconfig     string        `yaml:"kubeconfig" doc:"kubeconfig file, for running outside a cluster (replaces the in-cluster settings)"`
	NodeName       string        `yaml:"node_name" doc:"watch only the pods of this node (default: the NODE_NAME environment variable; empty: every pod)"`
	Labels         bool          `yaml:"labels" doc:"add the pod's labels"`
	Annotations    bool          `yaml:"annotations" doc:"add the pod's annotations"`
	Owner          bool          `yaml:"owner" doc:"add the pod's owner {kind, name}, a ReplicaSet resolved to its Deployment"`
	Source         string        `yaml:"source" doc:"JSON pointer of the kubernetes object in the event"`
	CacheTTL       time.Duration `yaml:"cache_ttl" min:"0s" doc:"how long a deleted pod is still used for enrichment"`
	MatchBy        string        `yaml:"match_by" enum:"name,uid" doc:"how events find their pod: namespace_name + pod_name, or pod_id (the pod UID) when the event has it"`
	SyncTimeout    time.Duration `yaml:"sync_timeout" min:"0s" doc:"how long the processor reports not ready while the first pod list is loading"`
	ResyncInterval time.Duration `yaml:"resync_interval" min:"0s" doc:"informer resync interval (0: none; the watch keeps the cache current)"`
}

// NewConfig returns the defaults.
func NewConfig() *Config {
	return &Config{
		API:           true,
		KubeCAFile:    DefaultCAFile,
		KubeTokenFile: DefaultTokenFile,
		Labels:        true,
		Owner:         true,
		Source:        "/kubernetes",
		CacheTTL:      5 * time.Minute,
		MatchBy:       "name",
		SyncTimeout:   30 * time.Second,
	}
}

// Validate checks what the tags cannot.
func (c *Config) Validate() error {
	if c.Source == "" || c.Source == "/" {
		return &config.FieldError{Key: "source", Msg: "must point below the event's root"}
	}
	if c.MatchBy != "name" && c.MatchBy != "uid" {
		return errors.New("match_by: must be name or uid")
	}
	return nil
}
