package kubernetes

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/kubernetes/scheme"
	k8stesting "k8s.io/client-go/testing"

	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/pipelines/pipelinestest"
)

const (
	deployPod = "checkout-7d9f8b6c5d-x2x7q"
	otherPod  = "checkout-7d9f8b6c5d-q9w4z"
	dsPod     = "weft-agent-k8v4p"
)

// loadPod reads a recorded pod (kubectl get pod -o yaml) from testdata.
func loadPod(t testing.TB, file string) *corev1.Pod {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	obj, _, err := scheme.Codecs.UniversalDeserializer().Decode(data, nil, nil)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return obj.(*corev1.Pod)
}

func recordedPods(t testing.TB) []runtime.Object {
	var out []runtime.Object
	for _, f := range []string{"pod-deployment.yaml", "pod-daemonset.yaml", "pod-other-node.yaml", "pod-bare.yaml"} {
		out = append(out, loadPod(t, f))
	}
	return out
}

// clock is a settable time for cache_ttl tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// start builds the processor from options, gives it the fake client and
// starts it; it is shut down when the test ends.
func start(t *testing.T, opts string, client *fake.Clientset, clk *clock) (*processor, *prometheus.Registry) {
	t.Helper()
	proc, reg, err := pipelinestest.Processor("kubernetes", opts)
	if err != nil {
		t.Fatal(err)
	}
	p := proc.(*processor)
	p.client, p.clientKind = client.CoreV1(), client
	if clk != nil {
		p.cache.now = clk.now
	}
	if err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := p.Shutdown(ctx); err != nil {
			t.Error(err)
		}
	})
	return p, reg
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func waitSynced(t *testing.T, p *processor) {
	t.Helper()
	waitFor(t, "the pod cache to sync", func() bool { return p.synced.Load() })
	if err := p.Ready(); err != nil {
		t.Fatalf("not ready after sync: %v", err)
	}
}

// logEvent is an event as the tail source makes it for a container log.
func logEvent(ns, pod, container string) *event.Event {
	return event.New(event.KindLog, time.Unix(0, 0), map[string]any{
		"message": "hello",
		"kubernetes": map[string]any{
			"namespace_name": ns,
			"pod_name":       pod,
			"container_name": container,
			"container_id":   "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		},
	})
}

func kube(ev *event.Event) map[string]any {
	return ev.Fields()["kubernetes"].(map[string]any)
}

func counter(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			var sum float64
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
			}
			return sum
		}
	}
	return 0
}

func process(p *processor, evs ...*event.Event) {
	p.Process(context.Background(), evs)
}

func TestEnrichment(t *testing.T) {
	client := fake.NewClientset(recordedPods(t)...)
	p, reg := start(t, `{node_name: node-a, annotations: true}`, client, nil)
	waitSynced(t, p)

	dep := logEvent("shop", deployPod, "checkout")
	ds := logEvent("observability", dsPod, "weft")
	bare := logEvent("default", "debug-shell", "shell")
	sidecar := logEvent("shop", deployPod, "istio-proxy")
	init := logEvent("shop", deployPod, "migrate")
	process(p, dep, ds, bare, sidecar, init)

	want := map[string]any{
		"namespace_name":  "shop",
		"pod_name":        deployPod,
		"container_name":  "checkout",
		"container_id":    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		"pod_id":          "6f1c2a7e-2b1d-4c43-9a57-0e1f9b3a1c11",
		"host":            "node-a",
		"container_image": "registry.example.com/shop/checkout:1.4.2",
		"labels": map[string]any{
			"app.kubernetes.io/name":    "checkout",
			"app.kubernetes.io/version": "1.4.2",
			"pod-template-hash":         "7d9f8b6c5d",
		},
		"annotations": map[string]any{
			"prometheus.io/scrape":              "true",
			"prometheus.io/port":                "9090",
			"kubectl.kubernetes.io/restartedAt": "2025-11-20T10:00:00Z",
		},
		"owner": map[string]any{"kind": "Deployment", "name": "checkout"},
	}
	if got := kube(dep); !reflect.DeepEqual(got, want) {
		t.Errorf("deployment pod:\n got %v\nwant %v", got, want)
	}
	if got := kube(ds)["owner"]; !reflect.DeepEqual(got, map[string]any{"kind": "DaemonSet", "name": "weft-agent"}) {
		t.Errorf("daemonset owner %v", got)
	}
	if got := kube(ds)["container_image"]; got != "ghcr.io/weft-agent/weft:0.9.0" {
		t.Errorf("daemonset image %v", got)
	}
	b := kube(bare)
	for _, k := range []string{"labels", "annotations", "owner"} {
		if _, ok := b[k]; ok {
			t.Errorf("bare pod has %s: %v", k, b[k])
		}
	}
	if b["pod_id"] != "5c3e1f0a-9b8d-4c7e-a6f5-4e3d2c1b0a99" || b["host"] != "node-a" || b["container_image"] != "busybox:1.37" {
		t.Errorf("bare pod: %v", b)
	}
	if got := kube(sidecar)["container_image"]; got != "docker.io/istio/proxyv2:1.24.0" {
		t.Errorf("sidecar image %v", got)
	}
	if got := kube(init)["container_image"]; got != "registry.example.com/shop/checkout-migrate:1.4.2" {
		t.Errorf("init container image %v", got)
	}
	if got := counter(t, reg, "weft_kubernetes_cache_pods"); got != 3 {
		t.Errorf("cache holds %v pods, want 3 (node-a's)", got)
	}
	if got := counter(t, reg, "weft_kubernetes_cache_misses_total"); got != 0 {
		t.Errorf("misses %v", got)
	}
	// Each event has its own label map.
	kube(dep)["labels"].(map[string]any)["changed"] = "yes"
	again := logEvent("shop", deployPod, "checkout")
	process(p, again)
	if _, ok := kube(again)["labels"].(map[string]any)["changed"]; ok {
		t.Error("events share the cached label map")
	}
}

func TestOptionsOff(t *testing.T) {
	client := fake.NewClientset(recordedPods(t)...)
	p, _ := start(t, `{node_name: node-a, labels: false, owner: false, source: /k8s}`, client, nil)
	waitSynced(t, p)
	ev := event.New(event.KindLog, time.Time{}, map[string]any{
		"k8s": map[string]any{"namespace_name": "shop", "pod_name": deployPod, "container_name": "checkout"},
	})
	process(p, ev)
	got := ev.Fields()["k8s"].(map[string]any)
	want := map[string]any{"namespace_name": "shop", "pod_name": deployPod, "container_name": "checkout",
		"pod_id": "6f1c2a7e-2b1d-4c43-9a57-0e1f9b3a1c11", "host": "node-a", "container_image": "registry.example.com/shop/checkout:1.4.2"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
}

// The fake clientset ignores the spec.nodeName field selector, as some
// servers could: the processor still keeps other nodes' pods out.
func TestOtherNodesIgnored(t *testing.T) {
	client := fake.NewClientset(recordedPods(t)...)
	p, reg := start(t, `node_name: node-a`, client, nil)
	waitSynced(t, p)
	ev := logEvent("shop", otherPod, "checkout")
	process(p, ev)
	if _, ok := kube(ev)["labels"]; ok {
		t.Errorf("a pod of node-b enriched the event: %v", kube(ev))
	}
	if got := counter(t, reg, "weft_kubernetes_cache_misses_total"); got != 1 {
		t.Errorf("misses %v, want 1", got)
	}
	// The list and watch asked for this node's pods only.
	var sawSelector bool
	for _, a := range client.Actions() {
		if l, ok := a.(k8stesting.ListAction); ok && l.GetListRestrictions().Fields.String() == "spec.nodeName=node-a" {
			sawSelector = true
		}
	}
	if !sawSelector {
		t.Errorf("no list with the field selector spec.nodeName=node-a: %v", client.Actions())
	}
}

func TestNodeNameFromEnvironment(t *testing.T) {
	t.Setenv("NODE_NAME", "node-b")
	client := fake.NewClientset(recordedPods(t)...)
	p, _ := start(t, `{}`, client, nil)
	waitSynced(t, p)
	a, b := logEvent("shop", deployPod, "checkout"), logEvent("shop", otherPod, "checkout")
	process(p, a, b)
	if _, ok := kube(a)["pod_id"]; ok {
		t.Error("node-a's pod enriched on node-b")
	}
	if kube(b)["pod_id"] != "7a2d3b8f-3c2e-4d54-8b68-1f2a0c4b2d22" {
		t.Errorf("node-b's pod not enriched: %v", kube(b))
	}
}

func TestDeletedPodKeptForCacheTTL(t *testing.T) {
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	client := fake.NewClientset(recordedPods(t)...)
	p, reg := start(t, `{node_name: node-a, cache_ttl: 1m}`, client, clk)
	waitSynced(t, p)
	if err := client.CoreV1().Pods("shop").Delete(context.Background(), deployPod, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the deletion to reach the cache", func() bool {
		i := p.cache.get("shop", deployPod)
		return i != nil && !i.deleted.IsZero()
	})
	clk.add(50 * time.Second)
	ev := logEvent("shop", deployPod, "checkout")
	process(p, ev)
	if kube(ev)["host"] != "node-a" {
		t.Errorf("a pod deleted 50s ago (cache_ttl 1m) was not used: %v", kube(ev))
	}
	clk.add(20 * time.Second)
	ev = logEvent("shop", deployPod, "checkout")
	process(p, ev)
	if _, ok := kube(ev)["host"]; ok {
		t.Errorf("a pod deleted 70s ago (cache_ttl 1m) was used: %v", kube(ev))
	}
	if got := counter(t, reg, "weft_kubernetes_cache_misses_total"); got != 1 {
		t.Errorf("misses %v, want 1", got)
	}
	p.cache.purge()
	if n := p.cache.size(); n != 2 {
		t.Errorf("after purge the cache holds %d pods, want 2", n)
	}
}

func TestCacheTTLZero(t *testing.T) {
	c := newPodCache(0)
	pod := loadPod(t, "pod-bare.yaml")
	c.upsert(newPodInfo(pod, infoOptions{}))
	c.markDeleted(pod.Namespace, pod.Name, string(pod.UID))
	if c.get(pod.Namespace, pod.Name) != nil || c.size() != 0 {
		t.Error("with cache_ttl 0 a deleted pod stays")
	}
}

// A StatefulSet pod re-created under the same name: the name finds the new
// pod, the old UID still finds the old one during cache_ttl.
func TestRecreatedPod(t *testing.T) {
	c := newPodCache(time.Minute)
	old := loadPod(t, "pod-bare.yaml")
	c.upsert(newPodInfo(old, infoOptions{}))
	c.markDeleted(old.Namespace, old.Name, string(old.UID))
	nw := old.DeepCopy()
	nw.UID = "11111111-2222-3333-4444-555555555555"
	c.upsert(newPodInfo(nw, infoOptions{}))
	if got := c.get(old.Namespace, old.Name); got == nil || got.uid != string(nw.UID) || !got.deleted.IsZero() {
		t.Errorf("by name: %+v", got)
	}
	if got := c.getUID(string(old.UID)); got == nil || got.deleted.IsZero() {
		t.Errorf("old uid: %+v", got)
	}
	// A late delete of the old pod must not mark the new one.
	c.markDeleted(old.Namespace, old.Name, string(old.UID))
	if got := c.get(old.Namespace, old.Name); got == nil || !got.deleted.IsZero() {
		t.Errorf("new pod marked deleted: %+v", got)
	}
}

func TestMatchByUID(t *testing.T) {
	client := fake.NewClientset(recordedPods(t)...)
	p, _ := start(t, `{node_name: node-a, match_by: uid}`, client, nil)
	waitSynced(t, p)
	// /var/log/pods/<ns>_<pod>_<uid>/<container>/0.log gives pod_id.
	ev := event.New(event.KindLog, time.Time{}, map[string]any{"kubernetes": map[string]any{
		"namespace_name": "shop", "pod_name": "stale-name", "pod_id": "6f1c2a7e-2b1d-4c43-9a57-0e1f9b3a1c11", "container_name": "checkout",
	}})
	noUID := logEvent("observability", dsPod, "weft")
	process(p, ev, noUID)
	if kube(ev)["owner"] == nil || kube(ev)["container_image"] != "registry.example.com/shop/checkout:1.4.2" {
		t.Errorf("not matched by uid: %v", kube(ev))
	}
	if kube(noUID)["pod_id"] != "2a4e8d60-7f3b-4e0a-9c1d-3b5f7a9e1d02" {
		t.Errorf("without pod_id, not matched by name: %v", kube(noUID))
	}
}

// outage makes the fake API fail lists and watches while down is set, and
// can cut the watch in progress.
type outage struct {
	down    atomic.Bool
	mu      sync.Mutex
	watches []watch.Interface
}

func newOutageClient(t testing.TB) (*fake.Clientset, *outage) {
	client := fake.NewClientset(recordedPods(t)...)
	o := &outage{}
	errDown := errors.New("dial tcp 10.96.0.1:443: connect: connection refused")
	client.PrependReactor("list", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		if o.down.Load() {
			return true, nil, errDown
		}
		return false, nil, nil
	})
	client.PrependWatchReactor("pods", func(a k8stesting.Action) (bool, watch.Interface, error) {
		if o.down.Load() {
			return true, nil, errDown
		}
		w, err := client.Tracker().Watch(a.GetResource(), a.GetNamespace())
		if err == nil {
			o.mu.Lock()
			o.watches = append(o.watches, w)
			o.mu.Unlock()
		}
		return true, w, err
	})
	return client, o
}

// fail takes the API down and ends the open watches, as a dropped
// connection would.
func (o *outage) fail() {
	o.down.Store(true)
	o.mu.Lock()
	for _, w := range o.watches {
		w.Stop()
	}
	o.watches = nil
	o.mu.Unlock()
}

func TestAPIOutageServesFromCache(t *testing.T) {
	client, o := newOutageClient(t)
	p, reg := start(t, `node_name: node-a`, client, nil)
	waitSynced(t, p)
	o.fail()
	waitFor(t, "API errors to be counted", func() bool {
		return counter(t, reg, "weft_kubernetes_api_errors_total") > 0
	})
	start := time.Now()
	ev := logEvent("shop", deployPod, "checkout")
	process(p, ev)
	if time.Since(start) > time.Second {
		t.Error("Process waited for the API")
	}
	if kube(ev)["owner"] == nil {
		t.Errorf("cached pod not used during the outage: %v", kube(ev))
	}
	if err := p.Ready(); err != nil {
		t.Errorf("not ready during an outage after the first sync: %v", err)
	}
	// The API comes back: the reflector re-lists and sees a new pod.
	newPod := loadPod(t, "pod-bare.yaml")
	newPod.Name, newPod.UID = "debug-shell-2", "99999999-0000-0000-0000-000000000000"
	if err := client.Tracker().Add(newPod); err != nil {
		t.Fatal(err)
	}
	o.down.Store(false)
	waitFor(t, "the pod created after the outage", func() bool { return p.cache.get("default", "debug-shell-2") != nil })
	ev = logEvent("shop", deployPod, "checkout")
	process(p, ev)
	if kube(ev)["owner"] == nil {
		t.Errorf("pod lost after the outage: %v", kube(ev))
	}
}

func TestReadyWaitsForSyncThenTimesOut(t *testing.T) {
	client, o := newOutageClient(t)
	o.down.Store(true) // the API is down from the start
	p, reg := start(t, `{node_name: node-a, sync_timeout: 300ms}`, client, nil)
	if err := p.Ready(); err == nil {
		t.Error("ready before the pod list loaded")
	}
	ev := logEvent("shop", deployPod, "checkout")
	process(p, ev) // passes, unenriched
	if _, ok := kube(ev)["pod_id"]; ok {
		t.Error("enriched without a cache")
	}
	if got := counter(t, reg, "weft_kubernetes_cache_misses_total"); got != 1 {
		t.Errorf("misses %v", got)
	}
	waitFor(t, "sync_timeout", func() bool { return p.Ready() == nil })
	if p.synced.Load() {
		t.Error("synced while the API is down")
	}
	o.down.Store(false)
	waitFor(t, "the late sync", func() bool { return p.synced.Load() })
}

func TestEventsWithoutKubernetesUntouched(t *testing.T) {
	client := fake.NewClientset(recordedPods(t)...)
	p, reg := start(t, `node_name: node-a`, client, nil)
	waitSynced(t, p)
	cases := []map[string]any{
		{"message": "no kubernetes"},
		{"kubernetes": "not an object"},
		{"kubernetes": map[string]any{"pod_name": deployPod}},
		{"kubernetes": map[string]any{"namespace_name": "shop", "pod_name": int64(3)}},
	}
	for _, fields := range cases {
		want := event.DeepCopyMap(fields)
		ev := event.New(event.KindLog, time.Time{}, fields)
		process(p, ev)
		if !reflect.DeepEqual(ev.Fields(), want) {
			t.Errorf("changed: %v → %v", want, ev.Fields())
		}
	}
	if got := counter(t, reg, "weft_kubernetes_cache_misses_total"); got != 0 {
		t.Errorf("misses %v for events that name no pod", got)
	}
}

// Enriching an event must not change a clone sharing its fields.
func TestCloneNotChanged(t *testing.T) {
	client := fake.NewClientset(recordedPods(t)...)
	p, _ := start(t, `node_name: node-a`, client, nil)
	waitSynced(t, p)
	ev := logEvent("shop", deployPod, "checkout")
	c := ev.Clone()
	process(p, ev)
	if _, ok := kube(c)["pod_id"]; ok {
		t.Error("the clone was enriched too")
	}
	if kube(ev)["pod_id"] == nil {
		t.Error("not enriched")
	}
}

func TestAPIOff(t *testing.T) {
	p, _, err := pipelinestest.Processor("kubernetes", `api: false`)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.(pipelines.Starter).Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	ev := logEvent("shop", deployPod, "checkout")
	p.Process(context.Background(), []*event.Event{ev})
	if len(kube(ev)) != 4 || p.(pipelines.Readier).Ready() != nil {
		t.Errorf("api: false changed the event: %v", kube(ev))
	}
	if err := p.(pipelines.Shutdowner).Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// Workers call Process while the informer applies updates (go test -race).
func TestConcurrentProcessDuringUpdates(t *testing.T) {
	client := fake.NewClientset(recordedPods(t)...)
	p, _ := start(t, `node_name: node-a`, client, nil)
	waitSynced(t, p)
	stop := make(chan struct{})
	var updater sync.WaitGroup
	updater.Add(1)
	go func() {
		defer updater.Done()
		pods := client.CoreV1().Pods("shop")
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			pod, err := pods.Get(context.Background(), deployPod, metav1.GetOptions{})
			if err != nil {
				t.Error(err)
				return
			}
			pod.Labels["revision"] = string(rune('a' + i%26))
			if _, err := pods.Update(context.Background(), pod, metav1.UpdateOptions{}); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 300; i++ {
				evs := []*event.Event{logEvent("shop", deployPod, "checkout"), logEvent("observability", dsPod, "weft")}
				p.Process(context.Background(), evs)
				for _, ev := range evs {
					if kube(ev)["owner"] == nil {
						t.Errorf("not enriched: %v", kube(ev))
						return
					}
				}
				// A later processor writing the labels must not race.
				kube(evs[0])["labels"].(map[string]any)["x"] = "y"
			}
		}()
	}
	wg.Wait()
	close(stop)
	updater.Wait()
}

func TestOwner(t *testing.T) {
	ref := func(kind, name string, controller bool) metav1.OwnerReference {
		return metav1.OwnerReference{Kind: kind, Name: name, Controller: &controller}
	}
	tests := []struct {
		name      string
		labels    map[string]string
		refs      []metav1.OwnerReference
		kind, own string
	}{
		{"deployment", map[string]string{"pod-template-hash": "5f7b9c"}, []metav1.OwnerReference{ref("ReplicaSet", "web-5f7b9c", true)}, "Deployment", "web"},
		{"bare replicaset", nil, []metav1.OwnerReference{ref("ReplicaSet", "web-5f7b9c", true)}, "ReplicaSet", "web-5f7b9c"},
		{"hash does not match", map[string]string{"pod-template-hash": "abc"}, []metav1.OwnerReference{ref("ReplicaSet", "web-5f7b9c", true)}, "ReplicaSet", "web-5f7b9c"},
		{"statefulset", nil, []metav1.OwnerReference{ref("StatefulSet", "db", true)}, "StatefulSet", "db"},
		{"controller preferred", nil, []metav1.OwnerReference{ref("ConfigMap", "x", false), ref("Job", "backup-2911", true)}, "Job", "backup-2911"},
		{"first without controller", nil, []metav1.OwnerReference{ref("Node", "n1", false)}, "Node", "n1"},
		{"none", nil, nil, "", ""},
	}
	for _, tc := range tests {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Labels: tc.labels, OwnerReferences: tc.refs}}
		if k, n := owner(pod); k != tc.kind || n != tc.own {
			t.Errorf("%s: %s/%s, want %s/%s", tc.name, k, n, tc.kind, tc.own)
		}
	}
}

func TestRestConfig(t *testing.T) {
	dir := t.TempDir()
	token, ca := filepath.Join(dir, "token"), filepath.Join(dir, "ca.crt")
	os.WriteFile(token, []byte("tok"), 0o600)
	os.WriteFile(ca, []byte("-----BEGIN CERTIFICATE-----\n"), 0o600)
	c := NewConfig()
	c.KubeTokenFile, c.KubeCAFile = token, ca
	t.Setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
	t.Setenv("KUBERNETES_SERVICE_PORT", "443")
	log := pipelinestestLogger()
	rc, err := restConfig(c, log)
	if err != nil {
		t.Fatal(err)
	}
	if rc.Host != "https://10.96.0.1:443" || rc.BearerTokenFile != token || rc.TLSClientConfig.CAFile != ca {
		t.Errorf("in-cluster config: host %q token %q ca %q", rc.Host, rc.BearerTokenFile, rc.TLSClientConfig.CAFile)
	}
	c.KubeURL = "http://127.0.0.1:8001"
	c.KubeTokenFile = filepath.Join(dir, "missing")
	if rc, err = restConfig(c, log); err != nil || rc.Host != c.KubeURL || rc.BearerTokenFile != "" {
		t.Errorf("kube_url without token: %v %+v", err, rc)
	}
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	c.KubeURL = ""
	if _, err := restConfig(c, log); err == nil {
		t.Error("no error outside a cluster without kube_url")
	}
	c.KubeCAFile = filepath.Join(dir, "missing-ca")
	c.KubeURL = "https://api.example.com"
	if _, err := restConfig(c, log); err == nil {
		t.Error("no error for a missing kube_ca_file")
	}
}

func TestConfigErrors(t *testing.T) {
	for _, opts := range []string{`match_by: pod`, `source: ""`, `cache_ttl: -1s`, `labls: true`} {
		if _, err := pipelinestest.DecodeConfig(pipelines.KindProcessor, "kubernetes", opts); err == nil {
			t.Errorf("%s: no error", opts)
		}
	}
}

func TestReadmeListsEveryOption(t *testing.T) {
	pipelinestest.CheckREADME(t, pipelines.KindProcessor, "kubernetes", "README.md")
}

// BenchmarkEnrich measures enrichment per event from a filled cache (no
// informer: the cost of Process alone).
func BenchmarkEnrich(b *testing.B) {
	proc, _, err := pipelinestest.Processor("kubernetes", `{node_name: node-a, annotations: true}`)
	if err != nil {
		b.Fatal(err)
	}
	p := proc.(*processor)
	for _, f := range []string{"pod-deployment.yaml", "pod-daemonset.yaml", "pod-bare.yaml"} {
		p.onUpsert(loadPod(b, f))
	}
	ctx := context.Background()
	const n = 1000
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		evs := make([]*event.Event, n)
		for j := range evs {
			evs[j] = logEvent("shop", deployPod, "checkout")
		}
		b.StartTimer()
		p.Process(ctx, evs)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/event")
}

func pipelinestestLogger() *logrus.Entry {
	s, _ := pipelinestest.Settings("test", "processor/0/kubernetes")
	return s.Logger
}
