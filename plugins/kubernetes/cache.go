package kubernetes

import (
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// podInfo is what enrichment needs of a pod, prepared once per pod update.
// It is immutable once in the cache (a deletion stores a copy), so Process
// reads it without locking beyond the map lookup.
type podInfo struct {
	namespace, name string
	uid, node       string
	labels          map[string]any // nil when off or empty
	annotations     map[string]any
	ownerKind       string
	ownerName       string
	images          map[string]string // container name → image
	deleted         time.Time         // zero while the pod exists
}

type podKey struct{ namespace, name string }

// podCache holds the pods of the node by namespace+name and by UID. Deleted
// pods stay for ttl, so the last lines of a pod, read after its deletion,
// are still enriched.
type podCache struct {
	ttl time.Duration
	now func() time.Time

	mu     sync.RWMutex
	byName map[podKey]*podInfo
	byUID  map[string]*podInfo
}

func newPodCache(ttl time.Duration) *podCache {
	return &podCache{ttl: ttl, now: time.Now, byName: map[podKey]*podInfo{}, byUID: map[string]*podInfo{}}
}

func (c *podCache) expired(p *podInfo, now time.Time) bool {
	return !p.deleted.IsZero() && now.Sub(p.deleted) >= c.ttl
}

func (c *podCache) get(namespace, name string) *podInfo {
	c.mu.RLock()
	p := c.byName[podKey{namespace, name}]
	c.mu.RUnlock()
	if p == nil || (!p.deleted.IsZero() && c.expired(p, c.now())) {
		return nil
	}
	return p
}

func (c *podCache) getUID(uid string) *podInfo {
	c.mu.RLock()
	p := c.byUID[uid]
	c.mu.RUnlock()
	if p == nil || (!p.deleted.IsZero() && c.expired(p, c.now())) {
		return nil
	}
	return p
}

// upsert stores a live pod. A pod re-created under the same name (a
// StatefulSet's) replaces the name entry; the old UID entry stays until it
// expires, if the old pod was deleted.
func (c *podCache) upsert(p *podInfo) {
	k := podKey{p.namespace, p.name}
	c.mu.Lock()
	if old := c.byName[k]; old != nil && old.uid != p.uid && old.deleted.IsZero() {
		delete(c.byUID, old.uid) // its deletion was missed
	}
	c.byName[k] = p
	c.byUID[p.uid] = p
	c.mu.Unlock()
}

// markDeleted starts the pod's grace period (or removes it at once with a
// zero ttl).
func (c *podCache) markDeleted(namespace, name, uid string) {
	k := podKey{namespace, name}
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	cur := c.byUID[uid]
	if cur == nil {
		if byName := c.byName[k]; byName != nil && (uid == "" || byName.uid == uid) {
			cur = byName
		}
	}
	if cur == nil || !cur.deleted.IsZero() {
		return
	}
	if c.ttl <= 0 {
		delete(c.byUID, cur.uid)
		if c.byName[k] == cur {
			delete(c.byName, k)
		}
		return
	}
	d := *cur
	d.deleted = now
	c.byUID[cur.uid] = &d
	if c.byName[k] == cur {
		c.byName[k] = &d
	}
}

// purge drops the deleted pods whose grace period is over.
func (c *podCache) purge() {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, p := range c.byName {
		if c.expired(p, now) {
			delete(c.byName, k)
		}
	}
	for k, p := range c.byUID {
		if c.expired(p, now) {
			delete(c.byUID, k)
		}
	}
}

// size is the number of pods held (live and deleted in their grace period).
func (c *podCache) size() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.byUID)
}

// infoOptions says which parts of a pod to keep.
type infoOptions struct {
	labels, annotations, owner bool
}

func newPodInfo(pod *corev1.Pod, o infoOptions) *podInfo {
	p := &podInfo{
		namespace: pod.Namespace,
		name:      pod.Name,
		uid:       string(pod.UID),
		node:      pod.Spec.NodeName,
	}
	if o.labels && len(pod.Labels) > 0 {
		p.labels = stringMap(pod.Labels)
	}
	if o.annotations && len(pod.Annotations) > 0 {
		p.annotations = stringMap(pod.Annotations)
	}
	if o.owner {
		p.ownerKind, p.ownerName = owner(pod)
	}
	n := len(pod.Spec.Containers) + len(pod.Spec.InitContainers) + len(pod.Spec.EphemeralContainers)
	if n > 0 {
		p.images = make(map[string]string, n)
		for _, c := range pod.Spec.InitContainers {
			p.images[c.Name] = c.Image
		}
		for _, c := range pod.Spec.EphemeralContainers {
			p.images[c.Name] = c.Image
		}
		for _, c := range pod.Spec.Containers {
			p.images[c.Name] = c.Image
		}
	}
	return p
}

func stringMap(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// owner returns the pod's controller (or, with none marked controller, its
// first owner reference). A ReplicaSet whose name is "<deployment>-<hash>",
// the hash being the pod's pod-template-hash label, is reported as the
// Deployment: that is how the Deployment controller names its ReplicaSets,
// so no lookup of the ReplicaSet is needed (and no RBAC on it).
func owner(pod *corev1.Pod) (kind, name string) {
	refs := pod.OwnerReferences
	if len(refs) == 0 {
		return "", ""
	}
	ref := refs[0]
	if c := metav1.GetControllerOfNoCopy(pod); c != nil {
		ref = *c
	}
	if ref.Kind == "ReplicaSet" {
		if h := pod.Labels["pod-template-hash"]; h != "" {
			if d, ok := strings.CutSuffix(ref.Name, "-"+h); ok && d != "" {
				return "Deployment", d
			}
		}
	}
	return ref.Kind, ref.Name
}
