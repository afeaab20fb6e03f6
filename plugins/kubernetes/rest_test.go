package kubernetes

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/weft-agent/weft/pipelines/pipelinestest"
)

// podAPI serves GET /api/v1/pods the way the API server does for the
// requests a pod informer makes: a list, a watch from a resource version,
// and a watch-list stream (sendInitialEvents: the current pods as ADDED,
// then a bookmark marking the end of the initial events). Pods added with
// add reach open watches. It records every request's query.
type podAPI struct {
	t       *testing.T
	mu      sync.Mutex
	pods    []*corev1.Pod
	queries []string
	added   chan *corev1.Pod
}

func newPodAPI(t *testing.T, pods ...*corev1.Pod) *podAPI {
	return &podAPI{t: t, pods: pods, added: make(chan *corev1.Pod, 8)}
}

func (a *podAPI) add(p *corev1.Pod) {
	a.mu.Lock()
	a.pods = append(a.pods, p)
	a.mu.Unlock()
	a.added <- p
}

// selected applies the only field selector weft uses, spec.nodeName=.
func selected(p *corev1.Pod, sel string) bool {
	node, ok := strings.CutPrefix(sel, "spec.nodeName=")
	return sel == "" || ok && p.Spec.NodeName == node
}

func typed(p *corev1.Pod) *corev1.Pod {
	c := p.DeepCopy()
	c.Kind, c.APIVersion = "Pod", "v1"
	return c
}

func (a *podAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/api/v1/pods" {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	q := r.URL.Query()
	sel := q.Get("fieldSelector")
	a.mu.Lock()
	a.queries = append(a.queries, r.URL.RawQuery)
	pods := append([]*corev1.Pod(nil), a.pods...)
	a.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if q.Get("watch") != "true" && q.Get("watch") != "1" {
		list := corev1.PodList{TypeMeta: metav1.TypeMeta{Kind: "PodList", APIVersion: "v1"},
			ListMeta: metav1.ListMeta{ResourceVersion: "10"}}
		for _, p := range pods {
			if selected(p, sel) {
				list.Items = append(list.Items, *typed(p))
			}
		}
		_ = json.NewEncoder(w).Encode(list)
		return
	}
	enc := json.NewEncoder(w)
	send := func(typ string, obj any) {
		_ = enc.Encode(map[string]any{"type": typ, "object": obj})
		w.(http.Flusher).Flush()
	}
	if q.Get("sendInitialEvents") == "true" {
		for _, p := range pods {
			if selected(p, sel) {
				send("ADDED", typed(p))
			}
		}
		send("BOOKMARK", &corev1.Pod{TypeMeta: metav1.TypeMeta{Kind: "Pod", APIVersion: "v1"},
			ObjectMeta: metav1.ObjectMeta{ResourceVersion: "10",
				Annotations: map[string]string{metav1.InitialEventsAnnotationKey: "true"}}})
	} else {
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case p := <-a.added:
			if selected(p, sel) {
				send("ADDED", typed(p))
			}
		}
	}
}

// TestRealClientAgainstPodAPI runs the processor with the client it builds
// itself (kube_url), so the REST client, the list/watch and the informer
// are the production ones; only the API server is a stand-in.
func TestRealClientAgainstPodAPI(t *testing.T) {
	dep, other := loadPod(t, "pod-deployment.yaml"), loadPod(t, "pod-other-node.yaml")
	api := newPodAPI(t, dep, other)
	srv := httptest.NewServer(api)
	defer srv.Close()

	proc, _, err := pipelinestest.Processor("kubernetes", `{node_name: node-a, kube_url: "`+srv.URL+`"}`)
	if err != nil {
		t.Fatal(err)
	}
	p := proc.(*processor)
	if err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := p.Shutdown(ctx); err != nil {
			t.Error(err)
		}
	}()
	waitSynced(t, p)

	ev := logEvent("shop", deployPod, "checkout")
	process(p, ev)
	if got := kube(ev)["pod_id"]; got != string(dep.UID) {
		t.Errorf("pod_id %v, want %v (enriched from the API)", got, dep.UID)
	}
	if got := kube(ev)["host"]; got != "node-a" {
		t.Errorf("host %v", got)
	}
	// the other node's pod is never cached: the selector reached the server
	if got := p.cache.size(); got != 1 {
		t.Errorf("%d pods cached, want 1 (node-a only)", got)
	}
	api.mu.Lock()
	for _, q := range api.queries {
		if !strings.Contains(q, "fieldSelector=spec.nodeName%3Dnode-a") {
			t.Errorf("request without the node's field selector: %s", q)
		}
	}
	api.mu.Unlock()

	// a pod created later arrives through the watch
	late := dep.DeepCopy()
	late.Name, late.UID, late.ResourceVersion = "checkout-7d9f8b6c5d-late1", "11111111-2222-3333-4444-555555555555", "11"
	api.add(late)
	waitFor(t, "the new pod from the watch", func() bool {
		ev := logEvent("shop", late.Name, "checkout")
		process(p, ev)
		return kube(ev)["pod_id"] == string(late.UID)
	})
}
