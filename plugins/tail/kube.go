package tail

import (
	"path/filepath"
	"strings"
)

// KubernetesFromPath reads the pod, namespace and container from the name
// of a container log file, as the kubelet lays them out:
//
//	/var/log/containers/<pod>_<namespace>_<container>-<64 hex container id>.log
//	/var/log/pods/<namespace>_<pod>_<pod uid>/<container>/<restart count>.log
//
// Only the shape of the name is checked, not the directory, so a copy of
// the layout elsewhere (a hostPath mounted at another place) works too. It
// returns nil when the name has neither shape.
func KubernetesFromPath(path string) map[string]string {
	base := filepath.Base(path)
	name, ok := strings.CutSuffix(base, ".log")
	if !ok || name == "" {
		return nil
	}
	// /var/log/containers/<pod>_<namespace>_<container>-<id>.log
	if dash := strings.LastIndexByte(name, '-'); dash > 0 && isHex64(name[dash+1:]) {
		parts := strings.Split(name[:dash], "_")
		if len(parts) == 3 && parts[0] != "" && parts[1] != "" && parts[2] != "" {
			return map[string]string{
				"pod_name":       parts[0],
				"namespace_name": parts[1],
				"container_name": parts[2],
				"container_id":   name[dash+1:],
			}
		}
	}
	// /var/log/pods/<namespace>_<pod>_<uid>/<container>/<n>.log
	if _, ok := digits(name); ok && len(name) <= 9 {
		dir := filepath.Dir(path)
		container := filepath.Base(dir)
		parts := strings.Split(filepath.Base(filepath.Dir(dir)), "_")
		if len(parts) == 3 && parts[0] != "" && parts[1] != "" && parts[2] != "" &&
			container != "" && container != "." && container != string(filepath.Separator) {
			return map[string]string{
				"namespace_name": parts[0],
				"pod_name":       parts[1],
				"pod_id":         parts[2],
				"container_name": container,
			}
		}
	}
	return nil
}

func isHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// kubeFields prepares the metadata of path as the template of the
// kubernetes field: each event gets a clone.
func kubeFields(path string) map[string]any {
	m := KubernetesFromPath(path)
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
