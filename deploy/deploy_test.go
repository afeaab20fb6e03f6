// Package deploy holds weft's deployment artefacts: Kubernetes manifests
// (kubernetes/), the Helm chart (helm/weft/) and example pipelines
// (pipelines/). The tests here check them against the real thing:
//
//   - every manifest document, and every document the chart renders (for its
//     default values and for each mode and value variant, with the Helm Go
//     SDK), decodes strictly into the official k8s.io/api type of its
//     apiVersion and kind: an unknown or misspelt field fails;
//   - every pipelines file in a ConfigMap passes weft's own validation
//     (the code behind `weft validate`), with the ${VARS} it references
//     resolved from the environment of the container that mounts it — a
//     variable the container does not define fails;
//   - probes, Prometheus annotations, container ports and Service target
//     ports point at ports weft listens on in that configuration (the admin
//     address and the sources' port options), on an address other pods and
//     the kubelet can reach;
//   - the volume mounts cover every tail path glob (and, for
//     /var/log/containers, the directories its links point into) and every
//     path weft writes (data directory, tail checkpoints, dead letters) is on
//     a writable volume, the root file system being read-only;
//   - RBAC grants only get/list/watch on pods and namespaces.
package deploy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	k8syaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/weft-agent/weft/config"
	"github.com/weft-agent/weft/pipelines"
	_ "github.com/weft-agent/weft/plugins/all"
)

// ---- strict decoding ------------------------------------------------------

// kinds maps apiVersion/kind to the official type a document must decode
// into. A kind missing here is an error: add its type when a manifest
// needs it.
var kinds = map[string]func() any{
	"v1/Namespace":      func() any { return &corev1.Namespace{} },
	"v1/ServiceAccount": func() any { return &corev1.ServiceAccount{} },
	"v1/ConfigMap":      func() any { return &corev1.ConfigMap{} },
	"v1/Secret":         func() any { return &corev1.Secret{} },
	"v1/Service":        func() any { return &corev1.Service{} },
	"apps/v1/DaemonSet": func() any { return &appsv1.DaemonSet{} },
	"apps/v1/Deployment": func() any {
		return &appsv1.Deployment{}
	},
	"rbac.authorization.k8s.io/v1/ClusterRole":        func() any { return &rbacv1.ClusterRole{} },
	"rbac.authorization.k8s.io/v1/ClusterRoleBinding": func() any { return &rbacv1.ClusterRoleBinding{} },
	"rbac.authorization.k8s.io/v1/Role":               func() any { return &rbacv1.Role{} },
	"rbac.authorization.k8s.io/v1/RoleBinding":        func() any { return &rbacv1.RoleBinding{} },
}

// object is one decoded document.
type object struct {
	Source    string // file#document
	Kind      string
	Name      string
	Namespace string
	Obj       any // *corev1.ConfigMap, *appsv1.DaemonSet, …
}

// decodeStrict decodes one YAML document into its official type, failing
// on unknown and duplicate fields.
func decodeStrict(source string, doc []byte) (*object, error) {
	var meta struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
		} `json:"metadata"`
	}
	if err := yaml.Unmarshal(doc, &meta); err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	if meta.APIVersion == "" || meta.Kind == "" {
		return nil, fmt.Errorf("%s: document without apiVersion and kind", source)
	}
	newObj, ok := kinds[meta.APIVersion+"/"+meta.Kind]
	if !ok {
		return nil, fmt.Errorf("%s: %s %s: no k8s.io/api type registered in the test for this kind", source, meta.APIVersion, meta.Kind)
	}
	obj := newObj()
	if err := yaml.UnmarshalStrict(doc, obj); err != nil {
		return nil, fmt.Errorf("%s: %s %q does not decode strictly into %T: %w", source, meta.Kind, meta.Metadata.Name, obj, err)
	}
	if meta.Metadata.Name == "" {
		return nil, fmt.Errorf("%s: %s without metadata.name", source, meta.Kind)
	}
	return &object{Source: source, Kind: meta.Kind, Name: meta.Metadata.Name, Namespace: meta.Metadata.Namespace, Obj: obj}, nil
}

// decodeAll splits a multi-document YAML stream and decodes every
// non-empty document.
func decodeAll(source string, data []byte) ([]*object, error) {
	r := k8syaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var out []*object
	for i := 0; ; i++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", source, err)
		}
		j, err := yaml.YAMLToJSON(doc)
		if err != nil {
			return nil, fmt.Errorf("%s#%d: %w", source, i, err)
		}
		if s := strings.TrimSpace(string(j)); s == "null" || s == "" {
			continue // comments only
		}
		o, err := decodeStrict(fmt.Sprintf("%s#%d", source, i), doc)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
}

// set is what one `kubectl apply -f DIR` or one chart rendering creates.
type set struct {
	Name    string
	Objects []*object
	// Namespace is where objects without one go (the release's namespace).
	Namespace string
}

func (s *set) ns(o *object) string {
	if o.Namespace != "" {
		return o.Namespace
	}
	return s.Namespace
}

func (s *set) find(kind, namespace, name string) *object {
	for _, o := range s.Objects {
		if o.Kind == kind && o.Name == name && (namespace == "" || s.ns(o) == namespace) {
			return o
		}
	}
	return nil
}

func loadDir(t *testing.T, dir string) *set {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	more, _ := filepath.Glob(filepath.Join(dir, "*.yml"))
	files = append(files, more...)
	sort.Strings(files)
	if len(files) == 0 {
		t.Fatalf("%s: no manifests", dir)
	}
	s := &set{Name: dir, Namespace: "default"}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		objs, err := decodeAll(f, data)
		if err != nil {
			t.Fatal(err)
		}
		s.Objects = append(s.Objects, objs...)
	}
	return s
}

// ---- weft configuration -----------------------------------------------------

// listener is an address weft listens on.
type listener struct {
	Host   string
	Port   int
	Origin string // "admin" or pipeline/source/option
}

// weftConfig is a loaded and validated configuration with what the checks
// need from it.
type weftConfig struct {
	cfg       *config.Config
	listeners []listener
	// tails are the tail sources: pipeline, paths, checkpoint file.
	tails []tailSource
	// writes are files weft writes (dead letters), by origin.
	writes map[string]string
	// envUsed are the ${VARS} the configuration referenced.
	envUsed []string
}

type tailSource struct {
	Pipeline string
	Paths    []string
	DB       string
	Format   string
}

// options flattens a component's decoded option struct by YAML name
// (embedded structs included).
func options(v reflect.Value, out map[string]reflect.Value) {
	v = reflect.Indirect(v)
	if v.Kind() != reflect.Struct {
		return
	}
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Anonymous {
			options(v.Field(i), out)
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name, _, _ := strings.Cut(f.Tag.Get("yaml"), ","); name != "" && name != "-" {
			out[name] = v.Field(i)
		}
	}
}

// decodeComponent decodes a component's options into its plugin's config
// struct (defaults applied) and returns them by name.
func decodeComponent(cfg *config.Config, c *config.Component) (map[string]reflect.Value, error) {
	kind := map[string]pipelines.Kind{"source": pipelines.KindSource, "processor": pipelines.KindProcessor, "sink": pipelines.KindSink}[c.Role]
	f, ok := pipelines.Lookup(kind, c.Plugin)
	if !ok {
		return nil, fmt.Errorf("unknown %s %q", c.Role, c.Plugin)
	}
	v := f.NewConfig()
	d := c.Decoder(cfg.Secrets)
	d.Decode(c.Settings, v)
	if len(d.Errs) > 0 {
		return nil, config.Errors(d.Errs)
	}
	out := map[string]reflect.Value{}
	options(reflect.ValueOf(v), out)
	return out, nil
}

// loadWeftConfig writes the files into a directory and loads it as
// `weft validate -c DIR` does, with env resolving ${VARS}; dataDir is the
// agent's --data-dir (for the tail checkpoint default).
func loadWeftConfig(t *testing.T, files map[string]string, env func(string) (string, bool), dataDir string) (*weftConfig, error) {
	dir := t.TempDir()
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	wc := &weftConfig{writes: map[string]string{}}
	seen := map[string]bool{}
	lookup := func(name string) (string, bool) {
		if !seen[name] {
			seen[name] = true
			wc.envUsed = append(wc.envUsed, name)
		}
		return env(name)
	}
	cfg, err := config.LoadWith(dir, lookup)
	if err != nil {
		return nil, err
	}
	if err := pipelines.Validate(cfg); err != nil {
		return nil, err
	}
	wc.cfg = cfg
	wc.listeners = append(wc.listeners, listener{Host: hostOf(cfg.Agent.Admin.Address), Port: portOf(cfg.Agent.Admin.Address), Origin: "admin"})
	for _, p := range cfg.Pipelines {
		if p.Source != nil {
			opts, err := decodeComponent(cfg, p.Source)
			if err != nil {
				return nil, err
			}
			host := "0.0.0.0"
			if h, ok := opts["host"]; ok && h.Kind() == reflect.String && h.String() != "" {
				host = h.String()
			}
			for _, name := range []string{"port", "grpc_port", "http_port"} {
				if v, ok := opts[name]; ok && v.CanInt() && v.Int() > 0 {
					wc.listeners = append(wc.listeners, listener{Host: host, Port: int(v.Int()), Origin: fmt.Sprintf("pipeline %q source %s %s", p.Name, p.Source.Plugin, name)})
				}
			}
			if p.Source.Plugin == "tail" {
				ts := tailSource{Pipeline: p.Name, Paths: opts["paths"].Interface().([]string), DB: opts["db"].String(), Format: opts["format"].String()}
				if ts.DB == "" && dataDir != "" {
					ts.DB = filepath.Join(dataDir, "tail-"+safeName(p.Name)+".db")
				}
				wc.tails = append(wc.tails, ts)
			}
		}
		for _, c := range p.Sinks {
			opts, err := decodeComponent(cfg, c)
			if err != nil {
				return nil, err
			}
			if v, ok := opts["dlq_file"]; ok && v.Kind() == reflect.String && v.String() != "" {
				wc.writes[fmt.Sprintf("pipeline %q sink %s dlq_file", p.Name, c.Plugin)] = v.String()
			}
		}
	}
	return wc, nil
}

// safeName is the tail source's file name for a pipeline's default
// checkpoint (plugins/tail).
func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '_'
	}, s)
}

func hostOf(addr string) string {
	h, _, err := net.SplitHostPort(addr)
	if err != nil {
		return ""
	}
	return h
}

func portOf(addr string) int {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(p)
	return n
}

// reachable tells whether a listener can be reached from outside the pod's
// network namespace (the kubelet's probes, Services, Prometheus).
func reachable(host string) bool {
	if host == "" || host == "0.0.0.0" || host == "::" {
		return true
	}
	if host == "localhost" {
		return false
	}
	ip := net.ParseIP(host)
	return ip == nil || !ip.IsLoopback()
}

// ---- checks -----------------------------------------------------------------

// weftArgs is the container's command line.
type weftArgs struct {
	Config  string
	DataDir string
	Admin   string
}

func parseArgs(c corev1.Container) (weftArgs, error) {
	args := append(append([]string{}, c.Command...), c.Args...)
	if len(args) > 0 && (args[0] == "/weft" || args[0] == "weft") {
		args = args[1:]
	}
	if len(args) == 0 || args[0] != "run" {
		return weftArgs{}, fmt.Errorf("container %q: args %q do not start with run (the image's CMD would apply; spell it out)", c.Name, args)
	}
	var a weftArgs
	for i := 1; i < len(args); i++ {
		flag, val, hasVal := strings.Cut(args[i], "=")
		if !hasVal {
			if i+1 >= len(args) {
				return a, fmt.Errorf("container %q: flag %s without a value", c.Name, flag)
			}
			val = args[i+1]
			i++
		}
		switch strings.TrimLeft(flag, "-") {
		case "c", "config":
			a.Config = val
		case "data-dir":
			a.DataDir = val
		case "admin":
			a.Admin = val
		case "log-level", "log-format":
		default:
			return a, fmt.Errorf("container %q: unknown flag %s", c.Name, flag)
		}
	}
	if a.Config == "" {
		return a, fmt.Errorf("container %q: no -c", c.Name)
	}
	if a.DataDir == "" {
		return a, fmt.Errorf("container %q: no --data-dir (the default ./weft-data is on the read-only root file system)", c.Name)
	}
	return a, nil
}

// podTemplate returns a workload's pod template and selector.
func podTemplate(o *object) (*corev1.PodTemplateSpec, *metav1.LabelSelector) {
	switch w := o.Obj.(type) {
	case *appsv1.DaemonSet:
		return &w.Spec.Template, w.Spec.Selector
	case *appsv1.Deployment:
		return &w.Spec.Template, w.Spec.Selector
	}
	return nil, nil
}

// under tells whether p is dir or inside it.
func under(p, dir string) bool {
	p, dir = path.Clean(p), path.Clean(dir)
	return p == dir || dir == "/" || strings.HasPrefix(p, dir+"/")
}

// mountFor returns the deepest mount containing p.
func mountFor(c corev1.Container, p string) *corev1.VolumeMount {
	var best *corev1.VolumeMount
	for i := range c.VolumeMounts {
		m := &c.VolumeMounts[i]
		if under(p, m.MountPath) && (best == nil || len(m.MountPath) > len(best.MountPath)) {
			best = m
		}
	}
	return best
}

func volumeByName(spec *corev1.PodSpec, name string) *corev1.Volume {
	for i := range spec.Volumes {
		if spec.Volumes[i].Name == name {
			return &spec.Volumes[i]
		}
	}
	return nil
}

// globDir is the directory part of a glob before its first metacharacter.
func globDir(glob string) string {
	i := strings.IndexAny(glob, "*?[")
	if i < 0 {
		return path.Dir(glob)
	}
	return path.Dir(glob[:i+1])
}

// dummyEnv is the value the test gives a variable the container takes from
// somewhere it cannot see (a Secret that is not part of the set).
func dummyEnv(name string) string {
	switch {
	case strings.HasSuffix(name, "_URL"):
		return "https://opensearch.example.com:443"
	case name == "AWS_REGION":
		return "eu-west-1"
	}
	return "dummy-" + strings.ToLower(name) + "-0123456789abcdef"
}

// containerEnv resolves a container's environment as the kubelet would,
// with Secrets and ConfigMaps of the set and placeholders for the others.
func containerEnv(s *set, ns string, c corev1.Container, errs *[]string) map[string]string {
	env := map[string]string{}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			env[e.Name] = e.Value
		case e.ValueFrom.FieldRef != nil:
			env[e.Name] = "fieldref-" + strings.ReplaceAll(e.ValueFrom.FieldRef.FieldPath, ".", "-")
		case e.ValueFrom.SecretKeyRef != nil:
			ref := e.ValueFrom.SecretKeyRef
			env[e.Name] = dummyEnv(e.Name)
			if o := s.find("Secret", ns, ref.Name); o != nil {
				sec := o.Obj.(*corev1.Secret)
				if v, ok := sec.StringData[ref.Key]; ok {
					env[e.Name] = v
				} else if v, ok := sec.Data[ref.Key]; ok {
					env[e.Name] = string(v)
				} else {
					*errs = append(*errs, fmt.Sprintf("container %q env %s: Secret %s has no key %q", c.Name, e.Name, ref.Name, ref.Key))
				}
			}
		case e.ValueFrom.ConfigMapKeyRef != nil:
			ref := e.ValueFrom.ConfigMapKeyRef
			env[e.Name] = dummyEnv(e.Name)
			if o := s.find("ConfigMap", ns, ref.Name); o != nil {
				v, ok := o.Obj.(*corev1.ConfigMap).Data[ref.Key]
				if !ok {
					*errs = append(*errs, fmt.Sprintf("container %q env %s: ConfigMap %s has no key %q", c.Name, e.Name, ref.Name, ref.Key))
				}
				env[e.Name] = v
			}
		default:
			env[e.Name] = dummyEnv(e.Name)
		}
	}
	return env
}

// configFiles returns the weft configuration files a ConfigMap holds.
func configFiles(cm *corev1.ConfigMap) map[string]string {
	files := map[string]string{}
	for k, v := range cm.Data {
		if strings.HasSuffix(k, ".yaml") || strings.HasSuffix(k, ".yml") {
			files[k] = v
		}
	}
	return files
}

// report collects the failures of one set.
type report struct {
	t    *testing.T
	name string
	errs []string
}

func (r *report) errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func (r *report) done() {
	r.t.Helper()
	for _, e := range r.errs {
		r.t.Errorf("%s: %s", r.name, e)
	}
}

// checkSet runs every check on one set of objects, failing t for each
// problem, and returns the configurations it validated (by ConfigMap
// namespace/name).
func checkSet(t *testing.T, s *set) map[string]*weftConfig {
	t.Helper()
	r, validated := runChecks(t, s)
	r.done()
	return validated
}

// runChecks runs every check and collects the problems.
func runChecks(t *testing.T, s *set) (*report, map[string]*weftConfig) {
	r := &report{t: t, name: s.Name}
	validated := map[string]*weftConfig{}
	workloads := 0
	for _, o := range s.Objects {
		tmpl, sel := podTemplate(o)
		if tmpl == nil {
			continue
		}
		workloads++
		where := fmt.Sprintf("%s %s/%s", o.Kind, s.ns(o), o.Name)
		checkSelector(r, where, sel, tmpl.Labels)
		checkPodSpec(r, s, where, s.ns(o), tmpl, validated)
	}
	for _, o := range s.Objects {
		switch v := o.Obj.(type) {
		case *corev1.Service:
			checkService(r, s, o, v)
		case *rbacv1.ClusterRole:
			checkRules(r, "ClusterRole "+o.Name, v.Rules)
		case *rbacv1.Role:
			checkRules(r, "Role "+o.Name, v.Rules)
		case *rbacv1.ClusterRoleBinding:
			if s.find("ClusterRole", "", v.RoleRef.Name) == nil {
				r.errorf("ClusterRoleBinding %s: ClusterRole %s is not in the set", o.Name, v.RoleRef.Name)
			}
			for _, sub := range v.Subjects {
				if sub.Kind == "ServiceAccount" && s.find("ServiceAccount", sub.Namespace, sub.Name) == nil {
					r.errorf("ClusterRoleBinding %s: ServiceAccount %s/%s is not in the set", o.Name, sub.Namespace, sub.Name)
				}
			}
		case *corev1.ConfigMap:
			files := configFiles(v)
			if len(files) == 0 {
				continue
			}
			key := s.ns(o) + "/" + o.Name
			if _, ok := validated[key]; ok {
				continue
			}
			// Not mounted by a weft container of the set (the chart's sidecar
			// mode without its example): validate with every variable set.
			wc, err := loadWeftConfig(t, files, func(name string) (string, bool) { return dummyEnv(name), true }, "/var/lib/weft")
			if err != nil {
				r.errorf("ConfigMap %s: weft validate: %v", key, err)
				continue
			}
			validated[key] = wc
		}
	}
	for _, o := range s.Objects {
		if cm, ok := o.Obj.(*corev1.ConfigMap); ok && len(configFiles(cm)) > 0 {
			if _, ok := validated[s.ns(o)+"/"+o.Name]; !ok {
				r.errorf("ConfigMap %s/%s holds pipelines that were not validated", s.ns(o), o.Name)
			}
		}
	}
	if workloads == 0 && len(validated) == 0 {
		r.errorf("neither a workload nor a pipelines ConfigMap")
	}
	return r, validated
}

func checkSelector(r *report, where string, sel *metav1.LabelSelector, podLabels map[string]string) {
	if sel == nil || len(sel.MatchLabels) == 0 {
		r.errorf("%s: no selector.matchLabels", where)
		return
	}
	if !labels.SelectorFromSet(sel.MatchLabels).Matches(labels.Set(podLabels)) {
		r.errorf("%s: selector %v does not match the pod template's labels %v", where, sel.MatchLabels, podLabels)
	}
}

func checkRules(r *report, where string, rules []rbacv1.PolicyRule) {
	for _, rule := range rules {
		for _, g := range rule.APIGroups {
			if g != "" {
				r.errorf("%s: API group %q: only the core group (pods, namespaces) is allowed", where, g)
			}
		}
		for _, res := range rule.Resources {
			if res != "pods" && res != "namespaces" {
				r.errorf("%s: resource %q: only pods and namespaces are allowed", where, res)
			}
		}
		for _, v := range rule.Verbs {
			if v != "get" && v != "list" && v != "watch" {
				r.errorf("%s: verb %q: only get, list and watch are allowed", where, v)
			}
		}
		if len(rule.NonResourceURLs) > 0 || len(rule.ResourceNames) > 0 {
			r.errorf("%s: unexpected nonResourceURLs/resourceNames", where)
		}
	}
}

// weftContainers returns the containers (init containers included) that run
// weft: those named weft.
func weftContainers(spec *corev1.PodSpec) (out []corev1.Container, native []bool) {
	for _, c := range spec.InitContainers {
		if c.Name == "weft" {
			out = append(out, c)
			native = append(native, true)
		}
	}
	for _, c := range spec.Containers {
		if c.Name == "weft" {
			out = append(out, c)
			native = append(native, false)
		}
	}
	return out, native
}

func checkPodSpec(r *report, s *set, where, ns string, tmpl *corev1.PodTemplateSpec, validated map[string]*weftConfig) {
	spec := &tmpl.Spec
	// Generic pod-spec consistency.
	names := map[string]bool{}
	for _, v := range spec.Volumes {
		if names[v.Name] {
			r.errorf("%s: volume %q defined twice", where, v.Name)
		}
		names[v.Name] = true
		if v.ConfigMap != nil && s.find("ConfigMap", ns, v.ConfigMap.Name) == nil {
			r.errorf("%s: volume %q: ConfigMap %s is not in the set", where, v.Name, v.ConfigMap.Name)
		}
	}
	if spec.ServiceAccountName != "" && spec.ServiceAccountName != "default" && s.find("ServiceAccount", ns, spec.ServiceAccountName) == nil {
		r.errorf("%s: ServiceAccount %s is not in the set", where, spec.ServiceAccountName)
	}
	all := append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...)
	for _, c := range all {
		for _, m := range c.VolumeMounts {
			if !names[m.Name] {
				r.errorf("%s: container %q mounts volume %q, which is not defined", where, c.Name, m.Name)
			}
		}
		for _, p := range c.Ports {
			if p.Name != "" {
				for _, msg := range validation.IsValidPortName(p.Name) {
					r.errorf("%s: container %q port name %q: %s", where, c.Name, p.Name, msg)
				}
			}
		}
		for _, e := range c.Env {
			for _, msg := range validation.IsEnvVarName(e.Name) {
				r.errorf("%s: container %q env %q: %s", where, c.Name, e.Name, msg)
			}
		}
	}

	wcs, native := weftContainers(spec)
	if len(wcs) != 1 {
		r.errorf("%s: want exactly one container named weft, found %d", where, len(wcs))
		return
	}
	c := wcs[0]
	if native[0] && (c.RestartPolicy == nil || *c.RestartPolicy != corev1.ContainerRestartPolicyAlways) {
		r.errorf("%s: weft is an init container without restartPolicy: Always (it would block the pod)", where)
	}
	args, err := parseArgs(c)
	if err != nil {
		r.errorf("%s: %v", where, err)
		return
	}

	// Security: read-only root, nothing to escalate.
	sc := c.SecurityContext
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		r.errorf("%s: weft: readOnlyRootFilesystem must be true", where)
	}
	if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		r.errorf("%s: weft: allowPrivilegeEscalation must be false", where)
	}
	if sc == nil || sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
		r.errorf("%s: weft: capabilities must drop ALL", where)
	} else {
		for _, add := range sc.Capabilities.Add {
			if add != "DAC_READ_SEARCH" {
				r.errorf("%s: weft: capability %s added (only DAC_READ_SEARCH is needed, to read log files)", where, add)
			}
		}
	}
	if sc != nil && sc.Privileged != nil && *sc.Privileged {
		r.errorf("%s: weft: privileged", where)
	}

	// The configuration: the volume at -c.
	cfgMount := mountFor(c, args.Config)
	if cfgMount == nil {
		r.errorf("%s: weft: nothing mounted at -c %s", where, args.Config)
		return
	}
	vol := volumeByName(spec, cfgMount.Name)
	if vol == nil || vol.ConfigMap == nil {
		r.errorf("%s: weft: -c %s is not a ConfigMap volume", where, args.Config)
		return
	}
	cmObj := s.find("ConfigMap", ns, vol.ConfigMap.Name)
	if cmObj == nil {
		return // reported above
	}
	files := configFiles(cmObj.Obj.(*corev1.ConfigMap))
	if rel := strings.TrimPrefix(path.Clean(args.Config), path.Clean(cfgMount.MountPath)); rel != "" {
		// -c names one file of the volume.
		name := strings.TrimPrefix(rel, "/")
		text, ok := files[name]
		if !ok {
			r.errorf("%s: weft: -c %s: ConfigMap %s has no key %q", where, args.Config, cmObj.Name, name)
			return
		}
		files = map[string]string{name: text}
	}
	if len(files) == 0 {
		r.errorf("%s: weft: ConfigMap %s has no *.yaml keys", where, cmObj.Name)
		return
	}
	var envErrs []string
	env := containerEnv(s, ns, c, &envErrs)
	for _, e := range envErrs {
		r.errorf("%s: %s", where, e)
	}
	wc, err := loadWeftConfig(r.t, files, func(name string) (string, bool) {
		v, ok := env[name]
		return v, ok
	}, args.DataDir)
	if err != nil {
		r.errorf("%s: weft validate -c %s (ConfigMap %s) with the container's environment: %v", where, args.Config, cmObj.Name, err)
		return
	}
	validated[ns+"/"+cmObj.Name] = wc

	// Listening addresses.
	listens := map[int]listener{}
	for _, l := range wc.listeners {
		listens[l.Port] = l
	}
	if args.Admin != "" {
		delete(listens, wc.listeners[0].Port)
		wc.listeners[0] = listener{Host: hostOf(args.Admin), Port: portOf(args.Admin), Origin: "admin (--admin)"}
		listens[wc.listeners[0].Port] = wc.listeners[0]
	}
	admin := wc.listeners[0]
	if admin.Port == 0 {
		r.errorf("%s: weft's admin server is disabled: no health endpoints for the probes", where)
	} else if !reachable(admin.Host) {
		r.errorf("%s: weft's admin server listens on %s:%d, which the kubelet's probes cannot reach; set weft.admin.address to 0.0.0.0:%d", where, admin.Host, admin.Port, admin.Port)
	}
	portByName := map[string]int32{}
	for _, p := range c.Ports {
		portByName[p.Name] = p.ContainerPort
		l, ok := listens[int(p.ContainerPort)]
		switch {
		case !ok:
			r.errorf("%s: weft: containerPort %d (%s) is not a port weft listens on in its configuration", where, p.ContainerPort, p.Name)
		case !reachable(l.Host):
			r.errorf("%s: weft: containerPort %d (%s): %s listens on %s only", where, p.ContainerPort, p.Name, l.Origin, l.Host)
		}
		if p.Protocol != "" && p.Protocol != corev1.ProtocolTCP {
			r.errorf("%s: weft: containerPort %d is %s; weft listens on TCP", where, p.ContainerPort, p.Protocol)
		}
		if p.HostPort != 0 && p.HostPort != p.ContainerPort {
			r.errorf("%s: weft: hostPort %d differs from containerPort %d", where, p.HostPort, p.ContainerPort)
		}
	}
	resolve := func(p intstr.IntOrString) int {
		if p.Type == intstr.String {
			return int(portByName[p.StrVal])
		}
		return p.IntValue()
	}
	probes := []struct {
		name  string
		probe *corev1.Probe
		paths []string
		need  bool
	}{
		{"livenessProbe", c.LivenessProbe, []string{"/healthz"}, true},
		{"readinessProbe", c.ReadinessProbe, []string{"/readyz"}, true},
		{"startupProbe", c.StartupProbe, []string{"/healthz", "/readyz"}, false},
	}
	for _, p := range probes {
		if p.probe == nil {
			if p.need {
				r.errorf("%s: weft: no %s", where, p.name)
			}
			continue
		}
		if p.probe.HTTPGet == nil {
			r.errorf("%s: weft: %s is not an httpGet on the admin server", where, p.name)
			continue
		}
		if port := resolve(p.probe.HTTPGet.Port); port != admin.Port || port == 0 {
			r.errorf("%s: weft: %s port %s resolves to %d, but the admin server listens on %d", where, p.name, p.probe.HTTPGet.Port.String(), port, admin.Port)
		}
		if !slices.Contains(p.paths, p.probe.HTTPGet.Path) {
			r.errorf("%s: weft: %s path %q, want one of %v", where, p.name, p.probe.HTTPGet.Path, p.paths)
		}
	}

	// Prometheus scrape annotations.
	ann := tmpl.Annotations
	if ann["prometheus.io/scrape"] == "true" {
		if ann["prometheus.io/port"] != strconv.Itoa(admin.Port) {
			r.errorf("%s: prometheus.io/port %q, but /metrics is on %d", where, ann["prometheus.io/port"], admin.Port)
		}
		if p := ann["prometheus.io/path"]; p != "" && p != "/metrics" {
			r.errorf("%s: prometheus.io/path %q, want /metrics", where, p)
		}
	}

	// Draining time.
	shutdown := wc.cfg.Agent.ShutdownTimeout
	grace := 30 * time.Second
	if spec.TerminationGracePeriodSeconds != nil {
		grace = time.Duration(*spec.TerminationGracePeriodSeconds) * time.Second
	}
	if grace < shutdown+10*time.Second {
		r.errorf("%s: terminationGracePeriodSeconds %v leaves less than 10s beyond weft's shutdown_timeout %v", where, grace, shutdown)
	}

	// Files: tail globs readable, everything weft writes on a writable volume.
	writable := func(what, p string) {
		m := mountFor(c, p)
		switch {
		case m == nil:
			r.errorf("%s: weft: %s %s is on the read-only root file system (no volume mounted there)", where, what, p)
		case m.ReadOnly:
			r.errorf("%s: weft: %s %s is on the read-only mount %s", where, what, p, m.MountPath)
		}
	}
	writable("--data-dir", path.Join(args.DataDir, "x"))
	for what, p := range wc.writes {
		writable(what, p)
	}
	for _, ts := range wc.tails {
		if ts.DB == "" {
			r.errorf("%s: tail pipeline %q keeps no checkpoint (no db, no data directory)", where, ts.Pipeline)
		} else {
			writable(fmt.Sprintf("tail pipeline %q checkpoint", ts.Pipeline), ts.DB)
		}
		for _, glob := range ts.Paths {
			dirs := []string{globDir(glob)}
			if under(globDir(glob), "/var/log/containers") {
				// Links into the runtime's directories: /var/log/pods
				// (containerd, CRI-O) and, unless the format excludes
				// Docker's json-file logs, /var/lib/docker/containers.
				dirs = append(dirs, "/var/log/pods")
				if ts.Format != "cri" && ts.Format != "plain" {
					dirs = append(dirs, "/var/lib/docker/containers")
				}
			}
			for _, d := range dirs {
				m := mountFor(c, d)
				if m == nil {
					r.errorf("%s: weft: tail pipeline %q path %s: nothing mounted at %s", where, ts.Pipeline, glob, d)
					continue
				}
				v := volumeByName(spec, m.Name)
				if v == nil {
					continue
				}
				switch {
				case v.HostPath != nil:
					// Links hold host paths: the mount must show the host's
					// directory at the same path.
					if path.Clean(v.HostPath.Path) != path.Clean(m.MountPath) {
						r.errorf("%s: weft: hostPath %s mounted at %s: container log links would not resolve", where, v.HostPath.Path, m.MountPath)
					}
				case v.EmptyDir != nil:
					shared := false
					for _, o := range all {
						for _, om := range o.VolumeMounts {
							if o.Name != "weft" && om.Name == v.Name && !om.ReadOnly {
								shared = true
							}
						}
					}
					if !shared {
						r.errorf("%s: weft: tail pipeline %q reads emptyDir %q, which no other container writes", where, ts.Pipeline, v.Name)
					}
				default:
					r.errorf("%s: weft: tail pipeline %q path %s is on volume %q, neither a hostPath nor a shared emptyDir", where, ts.Pipeline, glob, v.Name)
				}
			}
		}
	}
}

func checkService(r *report, s *set, o *object, svc *corev1.Service) {
	where := fmt.Sprintf("Service %s/%s", s.ns(o), o.Name)
	if len(svc.Spec.Selector) == 0 {
		r.errorf("%s: no selector", where)
		return
	}
	matched := 0
	for _, w := range s.Objects {
		tmpl, _ := podTemplate(w)
		if tmpl == nil || s.ns(w) != s.ns(o) || !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(tmpl.Labels)) {
			continue
		}
		matched++
		wcs, _ := weftContainers(&tmpl.Spec)
		for _, sp := range svc.Spec.Ports {
			found := false
			for _, c := range wcs {
				for _, cp := range c.Ports {
					if (sp.TargetPort.Type == intstr.String && cp.Name == sp.TargetPort.StrVal) ||
						(sp.TargetPort.Type == intstr.Int && cp.ContainerPort == sp.TargetPort.IntVal) ||
						(sp.TargetPort.IntVal == 0 && sp.TargetPort.StrVal == "" && cp.ContainerPort == sp.Port) {
						found = true
					}
				}
			}
			if !found {
				r.errorf("%s: port %s targets %s, which is not a port of the weft container of %s %s (a port weft listens on)", where, sp.Name, sp.TargetPort.String(), w.Kind, w.Name)
			}
		}
	}
	if matched == 0 {
		r.errorf("%s: selector %v matches no workload of the set", where, svc.Spec.Selector)
	}
}

// ---- manifests ---------------------------------------------------------------

func TestKubernetesManifests(t *testing.T) {
	dirs, err := filepath.Glob("kubernetes/*")
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) < 2 {
		t.Fatalf("want kubernetes/daemonset and kubernetes/sidecar, found %v", dirs)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			s := loadDir(t, dir)
			validated := checkSet(t, s)
			if len(validated) == 0 {
				t.Errorf("%s: no pipelines ConfigMap", dir)
			}
			for name, wc := range validated {
				t.Logf("%s: ConfigMap %s: %d pipelines OK (%s), listening on %v, env %v", dir, name, len(wc.cfg.Pipelines), strings.Join(wc.cfg.PipelineNames(), ", "), wc.listeners, wc.envUsed)
			}
		})
	}
}

// The DaemonSet is what the deployment exists for: check what the checks
// above cannot know is wanted.
func TestDaemonSetShape(t *testing.T) {
	s := loadDir(t, "kubernetes/daemonset")
	ds := s.find("DaemonSet", "weft", "weft").Obj.(*appsv1.DaemonSet)
	spec := ds.Spec.Template.Spec
	if !slices.ContainsFunc(spec.Tolerations, func(tol corev1.Toleration) bool {
		return tol.Operator == corev1.TolerationOpExists && tol.Key == "" && tol.Effect == ""
	}) {
		t.Error("the DaemonSet must tolerate every taint (operator: Exists) to run on every node")
	}
	c := spec.Containers[0]
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Error("resources: want cpu and memory requests and a memory limit")
	}
	if !slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool {
		return e.Name == "NODE_NAME" && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "spec.nodeName"
	}) {
		t.Error("NODE_NAME must come from the downward API (spec.nodeName)")
	}
	for _, want := range []string{"/var/log", "/var/lib/docker/containers"} {
		m := mountFor(c, want)
		if m == nil || !m.ReadOnly || path.Clean(m.MountPath) != want {
			t.Errorf("%s must be mounted read-only", want)
		}
	}
	if m := mountFor(c, "/var/lib/weft"); m == nil || m.ReadOnly || volumeByName(&spec, m.Name).HostPath == nil {
		t.Error("/var/lib/weft must be a writable hostPath (checkpoints survive pod restarts)")
	}
	svc := s.find("Service", "weft", "weft").Obj.(*corev1.Service)
	var ports []int32
	for _, p := range svc.Spec.Ports {
		ports = append(ports, p.Port)
	}
	slices.Sort(ports)
	if !slices.Equal(ports, []int32{2021, 4317, 4318, 21890}) {
		t.Errorf("Service ports %v, want 2021, 4317, 4318, 21890", ports)
	}
	// The pipelines the DaemonSet exists for.
	cm := s.find("ConfigMap", "weft", "weft-pipelines").Obj.(*corev1.ConfigMap)
	wc, err := loadWeftConfig(t, configFiles(cm), func(n string) (string, bool) { return dummyEnv(n), true }, "/var/lib/weft")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []struct {
		source string
		procs  []string // in this order along one path, others may be between
		sink   string
	}{
		{"container-logs", []string{"kubernetes", "trace_context", "correlate", "mask"}, "opensearch"},
		{"http-logs", []string{"trace_context", "correlate", "mask"}, "opensearch"},
		{"otlp", []string{"correlate", "mask", "otel_trace_raw"}, "opensearch"},
		{"otlp", []string{"service_map_stateful"}, "opensearch"},
		{"otlp", []string{"trace_context", "correlate", "mask"}, "opensearch"}, // OTLP logs
		{"dataprepper-traces", []string{"correlate", "otel_trace_raw"}, "opensearch"},
		{"dataprepper-traces", []string{"service_map_stateful"}, "opensearch"},
		{"container-logs", []string{"mask"}, "cloudwatch_logs"},
	} {
		found := false
		for _, path := range flows(wc.cfg, want.source) {
			if path.sink == want.sink && subsequence(want.procs, path.procs) {
				found = true
			}
		}
		if !found {
			t.Errorf("no path from %s through %v to %s; paths: %v", want.source, want.procs, want.sink, flows(wc.cfg, want.source))
		}
	}
}

// flow is one path from a pipeline to a sink that leaves weft.
type flow struct {
	procs []string
	sink  string
}

// flows follows pipeline sinks from a pipeline to every external sink.
func flows(cfg *config.Config, name string) []flow {
	var out []flow
	var walk func(name string, procs []string, depth int)
	walk = func(name string, procs []string, depth int) {
		p := cfg.Pipeline(name)
		if p == nil || depth > 10 {
			return
		}
		for _, c := range p.Processors {
			procs = append(procs, c.Plugin)
		}
		for _, sk := range p.Sinks {
			if sk.Plugin == "pipeline" {
				var ref struct {
					Name string `yaml:"name"`
				}
				if sk.Settings != nil && sk.Settings.Decode(&ref) == nil {
					walk(ref.Name, slices.Clone(procs), depth+1)
				}
				continue
			}
			out = append(out, flow{procs: slices.Clone(procs), sink: sk.Plugin})
		}
	}
	walk(name, nil, 0)
	return out
}

// subsequence tells whether want appears in have in order.
func subsequence(want, have []string) bool {
	i := 0
	for _, h := range have {
		if i < len(want) && h == want[i] {
			i++
		}
	}
	return i == len(want)
}

// ---- Helm chart ----------------------------------------------------------------

const chartDir = "helm/weft"

func loadChart(t *testing.T) *chart.Chart {
	t.Helper()
	ch, err := loader.Load(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

// render renders the chart as `helm template` would, with the Helm SDK's
// engine in strict mode (a reference to a value that does not exist fails)
// and the values checked against values.schema.json.
func render(t *testing.T, ch *chart.Chart, release, namespace, values string) (map[string]string, error) {
	t.Helper()
	vals := map[string]any{}
	if err := yaml.Unmarshal([]byte(values), &vals); err != nil {
		t.Fatalf("test values: %v", err)
	}
	caps := chartutil.DefaultCapabilities.Copy()
	kv, err := chartutil.ParseKubeVersion("v1.31.0")
	if err != nil {
		t.Fatal(err)
	}
	caps.KubeVersion = *kv
	opts := chartutil.ReleaseOptions{Name: release, Namespace: namespace, Revision: 1, IsInstall: true}
	rv, err := chartutil.ToRenderValuesWithSchemaValidation(ch, vals, opts, caps, false)
	if err != nil {
		return nil, err
	}
	return engine.Engine{Strict: true}.Render(ch, rv)
}

// renderedSet decodes the rendered templates; the sidecar snippet NOTES.txt
// prints is returned as a pod spec.
func renderedSet(t *testing.T, name, namespace string, out map[string]string) (*set, *corev1.PodSpec) {
	t.Helper()
	s := &set{Name: name, Namespace: namespace}
	var snippet *corev1.PodSpec
	keys := make([]string, 0, len(out))
	for k := range out {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		text := out[k]
		switch {
		case strings.HasSuffix(k, "NOTES.txt"):
			if parts := strings.Split(text, "----8<----\n"); len(parts) == 3 {
				snippet = &corev1.PodSpec{}
				if err := yaml.UnmarshalStrict([]byte(parts[1]), snippet); err != nil {
					t.Fatalf("%s: %s: the sidecar snippet does not decode strictly into a PodSpec: %v\n%s", name, k, err, parts[1])
				}
			}
			continue
		case strings.HasPrefix(path.Base(k), "_"), !strings.HasSuffix(k, ".yaml"):
			continue
		}
		objs, err := decodeAll(name+":"+k, []byte(text))
		if err != nil {
			t.Fatalf("%v\n---\n%s", err, text)
		}
		s.Objects = append(s.Objects, objs...)
	}
	return s, snippet
}

// chartCase is one set of values the chart must render into valid objects.
type chartCase struct {
	name    string
	values  string
	release string
	// check is called with the rendered set for case-specific expectations.
	check func(t *testing.T, s *set, snippet *corev1.PodSpec, cms map[string]*weftConfig)
}

func findKind(s *set, kind string) []*object {
	var out []*object
	for _, o := range s.Objects {
		if o.Kind == kind {
			out = append(out, o)
		}
	}
	return out
}

func pipelineNames(cms map[string]*weftConfig) []string {
	var out []string
	for _, wc := range cms {
		out = append(out, wc.cfg.PipelineNames()...)
	}
	sort.Strings(out)
	return out
}

func chartCases(t *testing.T) []chartCase {
	cloudwatch := ""
	if _, ok := pipelines.Lookup(pipelines.KindSink, "cloudwatch_logs"); ok {
		cloudwatch = `
cloudwatch: {enabled: true, clusterName: prod-eks, retentionDays: 30}`
	} else {
		t.Log("the cloudwatch_logs sink is not registered in this build: the chart variants run without cloudwatch.enabled")
	}
	return []chartCase{
		{name: "defaults", values: ``, check: func(t *testing.T, s *set, _ *corev1.PodSpec, cms map[string]*weftConfig) {
			if len(findKind(s, "DaemonSet")) != 1 || len(findKind(s, "Service")) != 1 || len(findKind(s, "ClusterRole")) != 1 {
				t.Errorf("defaults: want a DaemonSet, a Service and a ClusterRole")
			}
			if len(findKind(s, "Secret")) != 0 {
				t.Errorf("defaults: the chart must not create Secrets unless asked")
			}
			want := []string{"container-logs", "dataprepper-traces", "http-logs", "logs", "otlp", "service-map", "spans"}
			if got := pipelineNames(cms); !slices.Equal(got, want) {
				t.Errorf("defaults: pipelines %v, want %v", got, want)
			}
		}},
		{name: "daemonset-aws", release: "obs", values: `
aws: {region: eu-west-1, roleArn: "arn:aws:iam::111122223333:role/weft"}
opensearch:
  url: https://search-shop-abc.eu-west-1.es.amazonaws.com
  auth: aws
masking:
  create: true
  key: 0123456789abcdef0123456789abcdef
  detectors: [email, credit_card]
  rules: [{path: /**/password, action: redact}]
daemonset:
  hostPorts: true
  logs: {format: cri, dockerContainers: false, exclude: ["*_kube-system_*"], kubernetesApi: false}
  priorityClassName: system-node-critical
resources: {requests: {cpu: 200m, memory: 256Mi}, limits: {memory: 1Gi}}
shutdownTimeoutSeconds: 60
extraEnv: [{name: FORWARD_KEY, value: s3cr3t}]
extraPorts: [{name: forward, containerPort: 24224, protocol: TCP}]
extraPipelines:
  fluentd-forward:
    source:
      forward: {port: 24224}
    sink:
      - opensearch:
          hosts: ["${OPENSEARCH_URL}"]
          aws: {region: "${AWS_REGION}"}
          index: "forward-%{yyyy.MM.dd}"
` + cloudwatch, check: func(t *testing.T, s *set, _ *corev1.PodSpec, cms map[string]*weftConfig) {
			sa := findKind(s, "ServiceAccount")
			if len(sa) != 1 || sa[0].Obj.(*corev1.ServiceAccount).Annotations["eks.amazonaws.com/role-arn"] != "arn:aws:iam::111122223333:role/weft" {
				t.Errorf("daemonset-aws: want the IRSA role annotation on the ServiceAccount")
			}
			ds := findKind(s, "DaemonSet")[0].Obj.(*appsv1.DaemonSet)
			if ds.Name != "obs-weft" || *ds.Spec.Template.Spec.TerminationGracePeriodSeconds != 75 {
				t.Errorf("daemonset-aws: name %s, grace %d", ds.Name, *ds.Spec.Template.Spec.TerminationGracePeriodSeconds)
			}
			for _, c := range ds.Spec.Template.Spec.Containers {
				for _, e := range c.Env {
					if e.Name == "OPENSEARCH_USERNAME" {
						t.Errorf("daemonset-aws: SigV4 needs no OpenSearch user")
					}
				}
			}
			if !slices.Contains(pipelineNames(cms), "fluentd-forward") {
				t.Errorf("daemonset-aws: the extra pipeline is missing: %v", pipelineNames(cms))
			}
			if len(findKind(s, "Secret")) != 1 {
				t.Errorf("daemonset-aws: want the chart-made masking Secret")
			}
		}},
		{name: "daemonset-logs-only", values: `
opensearch: {traceAnalytics: false, deadLetters: false, auth: none, url: "http://opensearch.logging:9200"}
masking: {enabled: false}
correlate: {enabled: false}
sources: {http: {enabled: false}}
daemonset: {service: {enabled: false}}
`, check: func(t *testing.T, s *set, _ *corev1.PodSpec, cms map[string]*weftConfig) {
			if got := pipelineNames(cms); !slices.Equal(got, []string{"container-logs", "logs", "otlp"}) {
				t.Errorf("daemonset-logs-only: pipelines %v", got)
			}
			if len(findKind(s, "Service")) != 0 {
				t.Errorf("daemonset-logs-only: no Service wanted")
			}
		}},
		{name: "sidecar-tail-example", values: `
mode: sidecar
aws: {region: us-east-1, roleArn: "arn:aws:iam::111122223333:role/shop"}
opensearch:
  credentials: {create: true, username: weft, password: secret}
sidecar: {example: {enabled: true, name: checkout, replicas: 2}}
`, check: func(t *testing.T, s *set, snippet *corev1.PodSpec, cms map[string]*weftConfig) {
			if len(findKind(s, "DaemonSet")) != 0 || len(findKind(s, "ClusterRole")) != 0 || len(findKind(s, "Service")) != 0 {
				t.Errorf("sidecar: no DaemonSet, ClusterRole or Service wanted")
			}
			if len(findKind(s, "Deployment")) != 1 {
				t.Fatalf("sidecar: want the example Deployment")
			}
			if snippet == nil || len(snippet.InitContainers) != 1 || snippet.InitContainers[0].Name != "weft" {
				t.Errorf("sidecar: NOTES.txt must print the native sidecar snippet")
			}
			if got := pipelineNames(cms); !slices.Equal(got, []string{"app-logs", "dataprepper-traces", "logs", "otlp", "service-map", "spans"}) {
				t.Errorf("sidecar: pipelines %v", got)
			}
			for _, wc := range cms {
				for _, l := range wc.listeners {
					if l.Origin != "admin" && reachable(l.Host) {
						t.Errorf("sidecar: %s listens on %s: a sidecar's sources listen on the loopback interface", l.Origin, l.Host)
					}
				}
			}
		}},
		{name: "sidecar-http-example", values: `
mode: sidecar
sidecar: {logs: http, native: false, example: {enabled: true}}
sources: {otelTraceSource: {enabled: false}}
` + cloudwatch + `
aws: {region: eu-central-1}
`, check: func(t *testing.T, s *set, snippet *corev1.PodSpec, cms map[string]*weftConfig) {
			if snippet == nil || len(snippet.Containers) != 1 || len(snippet.InitContainers) != 0 {
				t.Errorf("sidecar (not native): the snippet must put weft into containers")
			}
			if got := pipelineNames(cms); !slices.Equal(got, []string{"http-logs", "logs", "otlp", "service-map", "spans"}) {
				t.Errorf("sidecar-http: pipelines %v", got)
			}
		}},
		{name: "sidecar-configmap-only", values: `
mode: sidecar
serviceAccount: {create: false}
`, check: func(t *testing.T, s *set, snippet *corev1.PodSpec, cms map[string]*weftConfig) {
			if len(findKind(s, "Deployment")) != 0 || len(findKind(s, "ConfigMap")) != 1 {
				t.Errorf("sidecar without example: want only the ConfigMap")
			}
			if snippet == nil {
				t.Fatal("sidecar: NOTES.txt has no snippet")
			}
			// The snippet needs the ConfigMap and a pod around it: check it
			// as the example Deployment would carry it.
			dep := &appsv1.Deployment{}
			dep.Name = "snippet"
			dep.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "x"}}
			dep.Spec.Template.Labels = map[string]string{"app": "x"}
			dep.Spec.Template.Spec = *snippet
			dep.Spec.Template.Spec.ServiceAccountName = ""
			dep.Spec.Template.Spec.Containers = append(dep.Spec.Template.Spec.Containers, corev1.Container{Name: "app", Image: "app",
				VolumeMounts: []corev1.VolumeMount{{Name: "app-logs", MountPath: "/var/log/app"}}})
			s2 := &set{Name: s.Name + " + snippet", Namespace: s.Namespace, Objects: append(append([]*object{}, s.Objects...), &object{Source: "NOTES.txt", Kind: "Deployment", Name: "snippet", Obj: dep})}
			checkSet(t, s2)
		}},
	}
}

func TestHelmChart(t *testing.T) {
	ch := loadChart(t)
	for _, tc := range chartCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			release := tc.release
			if release == "" {
				release = "weft"
			}
			out, err := render(t, ch, release, "observability", tc.values)
			if err != nil {
				t.Fatalf("render: %v", err)
			}
			if dir := os.Getenv("WEFT_CHART_DUMP"); dir != "" {
				// WEFT_CHART_DUMP=/tmp/x go test -run TestHelmChart ./deploy/
				for k, v := range out {
					f := filepath.Join(dir, tc.name, k)
					_ = os.MkdirAll(filepath.Dir(f), 0o755)
					_ = os.WriteFile(f, []byte(v), 0o644)
				}
			}
			s, snippet := renderedSet(t, "chart "+tc.name, "observability", out)
			cms := checkSet(t, s)
			if len(cms) == 0 {
				t.Fatal("no pipelines ConfigMap rendered")
			}
			if tc.check != nil {
				tc.check(t, s, snippet, cms)
			}
		})
	}
}

// Values the chart must refuse, with the message it must give.
func TestHelmChartRejects(t *testing.T) {
	ch := loadChart(t)
	for _, tc := range []struct{ values, want string }{
		{`mode: deamonset`, "mode"},
		{`opensearch: {auth: token}`, "auth"},
		{`opensearch: {urll: http://x:9200}`, "urll"},
		{`opensearch: {auth: aws}`, "needs aws.region"},
		{`cloudwatch: {enabled: true, clusterName: c}`, "needs aws.region"},
		{`{opensearch: {enabled: false}, cloudwatch: {enabled: false}}`, "enable at least one destination"},
		{`masking: {create: true}`, "masking.create needs masking.key"},
		{`extraPipelines: {weft: {admin: {address: ":1"}}}`, "extraPipelines"},
		{`sources: {otlp: {grpcPort: 70000}}`, "grpcPort"},
	} {
		_, err := render(t, ch, "weft", "observability", tc.values)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("values %s: error %v, want one mentioning %q", tc.values, err, tc.want)
		}
	}
}

// The checks above must catch what they are for: mutate a valid DaemonSet
// and expect each mistake to be reported.
func TestChecksCatchMistakes(t *testing.T) {
	if _, err := decodeAll("unknown-field", []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndatta: {}\n")); err == nil || !strings.Contains(err.Error(), "datta") {
		t.Errorf("an unknown field must fail strict decoding, got %v", err)
	}
	if _, err := decodeAll("nested-unknown", []byte("apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: x}\nspec: {template: {spec: {containers: [{name: a, imagePullPolicy: Always, livenesProbe: {}}]}}}\n")); err == nil || !strings.Contains(err.Error(), "livenesProbe") {
		t.Errorf("a nested unknown field must fail strict decoding, got %v", err)
	}
	mutations := []struct {
		name   string
		mutate func(s *set, ds *appsv1.DaemonSet, cm *corev1.ConfigMap)
		want   string
	}{
		{"no varlog mount", func(s *set, ds *appsv1.DaemonSet, _ *corev1.ConfigMap) {
			c := &ds.Spec.Template.Spec.Containers[0]
			c.VolumeMounts = slices.DeleteFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.MountPath == "/var/log" })
		}, "nothing mounted at /var/log/containers"},
		{"no docker mount", func(s *set, ds *appsv1.DaemonSet, _ *corev1.ConfigMap) {
			c := &ds.Spec.Template.Spec.Containers[0]
			c.VolumeMounts = slices.DeleteFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.MountPath == "/var/lib/docker/containers" })
		}, "nothing mounted at /var/lib/docker/containers"},
		{"state read-only", func(s *set, ds *appsv1.DaemonSet, _ *corev1.ConfigMap) {
			c := &ds.Spec.Template.Spec.Containers[0]
			for i := range c.VolumeMounts {
				if c.VolumeMounts[i].MountPath == "/var/lib/weft" {
					c.VolumeMounts[i].ReadOnly = true
				}
			}
		}, "checkpoint /var/lib/weft/tail-container-logs.db is on the read-only mount"},
		{"probe on the wrong port", func(s *set, ds *appsv1.DaemonSet, _ *corev1.ConfigMap) {
			ds.Spec.Template.Spec.Containers[0].LivenessProbe.HTTPGet.Port = intstr.FromInt32(4317)
		}, "livenessProbe port 4317 resolves to 4317, but the admin server listens on 4900"},
		{"admin on loopback", func(s *set, ds *appsv1.DaemonSet, cm *corev1.ConfigMap) {
			cm.Data["pipelines.yaml"] = strings.Replace(cm.Data["pipelines.yaml"], `"0.0.0.0:4900"`, `"127.0.0.1:4900"`, 1)
		}, "which the kubelet's probes cannot reach"},
		{"port nobody listens on", func(s *set, ds *appsv1.DaemonSet, _ *corev1.ConfigMap) {
			c := &ds.Spec.Template.Spec.Containers[0]
			c.Ports = append(c.Ports, corev1.ContainerPort{Name: "forward", ContainerPort: 24224})
		}, "containerPort 24224 (forward) is not a port weft listens on"},
		{"missing env", func(s *set, ds *appsv1.DaemonSet, _ *corev1.ConfigMap) {
			c := &ds.Spec.Template.Spec.Containers[0]
			c.Env = slices.DeleteFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == "MASK_KEY" })
		}, "MASK_KEY"},
		{"invalid pipeline option", func(s *set, ds *appsv1.DaemonSet, cm *corev1.ConfigMap) {
			cm.Data["pipelines.yaml"] = strings.Replace(cm.Data["pipelines.yaml"], "max_wait: 3s", "max_wiat: 3s", 1)
		}, `unknown option "max_wiat"`},
		{"short grace period", func(s *set, ds *appsv1.DaemonSet, _ *corev1.ConfigMap) {
			g := int64(30)
			ds.Spec.Template.Spec.TerminationGracePeriodSeconds = &g
		}, "terminationGracePeriodSeconds"},
		{"writable root", func(s *set, ds *appsv1.DaemonSet, _ *corev1.ConfigMap) {
			f := false
			ds.Spec.Template.Spec.Containers[0].SecurityContext.ReadOnlyRootFilesystem = &f
		}, "readOnlyRootFilesystem"},
		{"service to a missing port", func(s *set, ds *appsv1.DaemonSet, _ *corev1.ConfigMap) {
			svc := s.find("Service", "weft", "weft").Obj.(*corev1.Service)
			svc.Spec.Ports[0].TargetPort = intstr.FromString("otlp-grcp")
		}, "targets otlp-grcp"},
		{"too much RBAC", func(s *set, ds *appsv1.DaemonSet, _ *corev1.ConfigMap) {
			cr := s.find("ClusterRole", "", "weft").Obj.(*rbacv1.ClusterRole)
			cr.Rules[0].Verbs = append(cr.Rules[0].Verbs, "delete")
		}, `verb "delete"`},
	}
	for _, m := range mutations {
		t.Run(m.name, func(t *testing.T) {
			s := loadDir(t, "kubernetes/daemonset")
			ds := s.find("DaemonSet", "weft", "weft").Obj.(*appsv1.DaemonSet)
			cm := s.find("ConfigMap", "weft", "weft-pipelines").Obj.(*corev1.ConfigMap)
			m.mutate(s, ds, cm)
			r, _ := runChecks(t, s)
			errs := r.errs
			if !slices.ContainsFunc(errs, func(e string) bool { return strings.Contains(e, m.want) }) {
				t.Errorf("want an error containing %q, got %q", m.want, errs)
			}
		})
	}
}
