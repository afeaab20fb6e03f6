// Package kubernetes implements the kubernetes processor: it completes the
// pod metadata the tail source reads from log file names (namespace, pod,
// container) with what the Kubernetes API knows of the pod — labels,
// annotations, node, UID, owner and container image — like Fluent Bit's
// kubernetes filter. Pods are watched with a client-go informer restricted
// to this node and kept in a local cache, so events never wait for the API
// and an API outage only stops updates.
package kubernetes

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/weft-agent/weft/pipelines"
	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/pipelines/ratelog"
)

func init() {
	pipelines.RegisterProcessor("kubernetes",
		"adds pod labels, annotations, node, owner and image from the Kubernetes API to events with kubernetes metadata",
		NewConfig, New)
}

type metrics struct {
	cached    prometheus.Gauge
	misses    prometheus.Counter
	apiErrors prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{}
	var err error
	if m.cached, err = pipelines.RegisterMetric(reg, prometheus.NewGauge(prometheus.GaugeOpts{Name: "weft_kubernetes_cache_pods",
		Help: "Pods in the kubernetes processor's cache (deleted ones included during cache_ttl)."})); err != nil {
		return nil, err
	}
	if m.misses, err = pipelines.RegisterMetric(reg, prometheus.NewCounter(prometheus.CounterOpts{Name: "weft_kubernetes_cache_misses_total",
		Help: "Events with kubernetes metadata whose pod was not in the cache (passed on unenriched)."})); err != nil {
		return nil, err
	}
	if m.apiErrors, err = pipelines.RegisterMetric(reg, prometheus.NewCounter(prometheus.CounterOpts{Name: "weft_kubernetes_api_errors_total",
		Help: "Failed lists and watches of pods (the informer retries with backoff)."})); err != nil {
		return nil, err
	}
	return m, nil
}

type processor struct {
	cfg    *Config
	log    *logrus.Entry
	source event.Path
	node   string
	opts   infoOptions
	byUID  bool
	cache  *podCache
	m      *metrics
	apiErr *ratelog.Logger

	// client is built in Start unless set before (tests set a fake). Only
	// the core/v1 client: the full clientset and informer factory would
	// link every API group's client into the binary.
	client corev1client.CoreV1Interface
	// clientKind tells the reflector whether the client can stream the
	// initial list (WatchList); fake clients say they cannot.
	clientKind any

	stopOnce sync.Once
	stop     chan struct{}
	wg       sync.WaitGroup
	started  atomic.Bool
	synced   atomic.Bool
	gaveUp   atomic.Bool // sync_timeout passed before the first sync
}

// New creates a kubernetes processor. It does not contact the API: that
// happens in Start.
func New(s pipelines.Settings, c *Config) (pipelines.Processor, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	m, err := newMetrics(s.Telemetry.Registerer)
	if err != nil {
		return nil, err
	}
	node := c.NodeName
	if node == "" {
		node = os.Getenv("NODE_NAME")
	}
	p := &processor{
		cfg:    c,
		log:    s.Logger,
		source: event.ParsePath(c.Source),
		node:   node,
		opts:   infoOptions{labels: c.Labels, annotations: c.Annotations, owner: c.Owner},
		byUID:  c.MatchBy == "uid",
		cache:  newPodCache(c.CacheTTL),
		m:      m,
		apiErr: ratelog.New(s.Logger, "kubernetes: listing or watching pods failed; serving from the cache and retrying"),
		stop:   make(chan struct{}),
	}
	return p, nil
}

// restConfig builds the API client's configuration: from a kubeconfig
// file, or in-cluster from the service account's token and CA.
func restConfig(c *Config, log *logrus.Entry) (*rest.Config, error) {
	var rc *rest.Config
	if c.Kubeconfig != "" {
		var err error
		if rc, err = clientcmd.BuildConfigFromFlags(c.KubeURL, c.Kubeconfig); err != nil {
			return nil, fmt.Errorf("kubeconfig: %w", err)
		}
	} else {
		host := c.KubeURL
		if host == "" {
			h, port := os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT")
			if h == "" || port == "" {
				return nil, errors.New("not running in a Kubernetes pod (KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set): set kube_url or kubeconfig, or api: false")
			}
			host = "https://" + net.JoinHostPort(h, port)
		}
		rc = &rest.Config{Host: host}
		// The token file is re-read every minute by client-go (projected
		// service-account tokens rotate); a missing file means no token
		// (kube_url pointing at `kubectl proxy`, for one).
		if c.KubeTokenFile != "" {
			if _, err := os.Stat(c.KubeTokenFile); err == nil {
				rc.BearerTokenFile = c.KubeTokenFile
			} else {
				log.WithError(err).Warn("kubernetes: no service-account token; calling the API without one")
			}
		}
		if c.KubeCAFile != "" {
			if _, err := os.Stat(c.KubeCAFile); err == nil {
				rc.TLSClientConfig.CAFile = c.KubeCAFile
			} else if c.KubeCAFile != DefaultCAFile || c.KubeURL == "" {
				return nil, fmt.Errorf("kube_ca_file: %w", err)
			}
		}
	}
	rc.UserAgent = "weft"
	if rc.QPS == 0 {
		rc.QPS, rc.Burst = 5, 10
	}
	return rc, nil
}

// Start begins watching pods. It does not wait for the first list: events
// flow at once (unenriched until the cache is loaded, see Ready).
func (p *processor) Start(ctx context.Context) error {
	if !p.cfg.API {
		return nil
	}
	if p.client == nil {
		rc, err := restConfig(p.cfg, p.log)
		if err != nil {
			return err
		}
		if p.client, err = corev1client.NewForConfig(rc); err != nil {
			return fmt.Errorf("kubernetes client: %w", err)
		}
	}
	if p.node == "" {
		p.log.Warn("kubernetes: no node_name and no NODE_NAME: watching the pods of the whole cluster")
	}
	tweak := func(o *metav1.ListOptions) {}
	if p.node != "" {
		sel := fields.OneTermEqualSelector("spec.nodeName", p.node).String()
		tweak = func(o *metav1.ListOptions) { o.FieldSelector = sel }
	}
	pods := p.client.Pods(metav1.NamespaceAll)
	lw := cache.ToListWatcherWithWatchListSemantics(&cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			tweak(&o)
			return pods.List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			tweak(&o)
			return pods.Watch(ctx, o)
		},
	}, p.clientKind)
	inf := cache.NewSharedIndexInformer(lw, &corev1.Pod{}, p.cfg.ResyncInterval, cache.Indexers{})
	if err := inf.SetTransform(stripPod); err != nil {
		return err
	}
	if err := inf.SetWatchErrorHandler(p.watchError); err != nil {
		return err
	}
	reg, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { p.onUpsert(obj) },
		UpdateFunc: func(_, obj any) { p.onUpsert(obj) },
		DeleteFunc: p.onDelete,
	})
	if err != nil {
		return err
	}
	p.started.Store(true)
	p.wg.Add(3)
	go func() {
		defer p.wg.Done()
		inf.Run(p.stop)
	}()
	go func() {
		defer p.wg.Done()
		p.waitSync(reg.HasSynced)
	}()
	go func() {
		defer p.wg.Done()
		p.janitor()
	}()
	return nil
}

func (p *processor) waitSync(hasSynced cache.InformerSynced) {
	ctx, cancel := context.WithTimeout(context.Background(), p.cfg.SyncTimeout)
	var helper sync.WaitGroup
	helper.Add(1)
	go func() { // ends ctx at Shutdown; ends itself when waitSync returns
		defer helper.Done()
		select {
		case <-p.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	ok := cache.WaitForCacheSync(ctx.Done(), hasSynced)
	cancel()
	helper.Wait()
	if !ok {
		select {
		case <-p.stop:
			return
		default:
		}
		p.gaveUp.Store(true)
		p.log.WithField("sync_timeout", p.cfg.SyncTimeout).Warn("kubernetes: the pod list did not load in time; reporting ready anyway, events pass unenriched until it does")
		if !cache.WaitForCacheSync(p.stop, hasSynced) {
			return
		}
	}
	p.synced.Store(true)
	p.log.WithField("pods", p.cache.size()).Info("kubernetes: pod cache loaded")
}

// janitor removes deleted pods once their cache_ttl is over.
func (p *processor) janitor() {
	every := min(max(p.cfg.CacheTTL/4, time.Second), time.Minute)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			p.cache.purge()
			p.m.cached.Set(float64(p.cache.size()))
		}
	}
}

func (p *processor) watchError(_ *cache.Reflector, err error) {
	if errors.Is(err, io.EOF) { // the server closed a watch: normal
		return
	}
	p.m.apiErrors.Inc()
	p.apiErr.Record(err)
}

func (p *processor) onNode(pod *corev1.Pod) bool {
	return p.node == "" || pod.Spec.NodeName == p.node
}

func (p *processor) onUpsert(obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	if !p.onNode(pod) {
		// The field selector keeps other nodes' pods out; this guards
		// against servers (and fakes) that ignore it.
		return
	}
	p.cache.upsert(newPodInfo(pod, p.opts))
	p.m.cached.Set(float64(p.cache.size()))
}

func (p *processor) onDelete(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	p.cache.markDeleted(pod.Namespace, pod.Name, string(pod.UID))
	p.m.cached.Set(float64(p.cache.size()))
}

// stripPod drops what the cache never reads (managed fields are often the
// largest part of a pod) before the informer stores the object.
func stripPod(obj any) (any, error) {
	if pod, ok := obj.(*corev1.Pod); ok {
		pod.ManagedFields = nil
		pod.Status = corev1.PodStatus{}
		pod.Spec.Volumes = nil
	}
	return obj, nil
}

// Process enriches, in place, every event whose kubernetes object names a
// pod in the cache. It never waits for the API.
func (p *processor) Process(_ context.Context, events []*event.Event) []*event.Event {
	if !p.cfg.API {
		return events
	}
	for _, ev := range events {
		p.enrich(ev)
	}
	return events
}

func (p *processor) enrich(ev *event.Event) {
	v, ok := ev.Get(p.source)
	if !ok {
		return
	}
	k, ok := v.(map[string]any)
	if !ok {
		return
	}
	var info *podInfo
	if p.byUID {
		if uid, _ := k["pod_id"].(string); uid != "" {
			info = p.cache.getUID(uid)
		}
	}
	ns, _ := k["namespace_name"].(string)
	name, _ := k["pod_name"].(string)
	if info == nil {
		if ns == "" || name == "" {
			return // not a container log
		}
		info = p.cache.get(ns, name)
	}
	if info == nil {
		p.m.misses.Inc()
		return
	}
	// Write through Mutable: the field tree may be shared with a clone.
	v, _ = p.source.Lookup(ev.Mutable())
	k, ok = v.(map[string]any)
	if !ok {
		return
	}
	k["pod_id"] = info.uid
	if info.node != "" {
		k["host"] = info.node
	}
	// Each event gets its own maps: a later processor may change them.
	if info.labels != nil {
		k["labels"] = maps.Clone(info.labels)
	}
	if info.annotations != nil {
		k["annotations"] = maps.Clone(info.annotations)
	}
	if info.ownerKind != "" {
		k["owner"] = map[string]any{"kind": info.ownerKind, "name": info.ownerName}
	}
	if c, _ := k["container_name"].(string); c != "" {
		if img, ok := info.images[c]; ok {
			k["container_image"] = img
		}
	}
}

// Ready reports not ready until the pod cache has loaded once, or
// sync_timeout has passed since Start (then it is ready anyway, with a
// warning in the log, so an API outage at startup does not hold the agent
// back: events pass unenriched until the list loads).
func (p *processor) Ready() error {
	if !p.cfg.API || p.synced.Load() || p.gaveUp.Load() {
		return nil
	}
	if !p.started.Load() {
		return errors.New("kubernetes: not started")
	}
	return errors.New("kubernetes: the pod cache is still loading from the API")
}

// Shutdown stops the informer and every goroutine of the processor.
func (p *processor) Shutdown(ctx context.Context) error {
	p.stopOnce.Do(func() { close(p.stop) })
	done := make(chan struct{})
	go func() {
		p.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("kubernetes: informer did not stop: %w", ctx.Err())
	}
	p.apiErr.Flush()
	return nil
}
