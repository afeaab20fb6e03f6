package emf

import (
	"fmt"
	"math"
)

// CheckDocument reports the first way doc (a decoded JSON object) breaks
// the Embedded Metric Format specification: the _aws metadata with a
// millisecond Timestamp and CloudWatchMetrics directives; each directive's
// Namespace, Dimensions (sets of at most 30 keys, each a string member of
// the root) and Metrics (at most 100, each naming a member holding a
// number, at most 100 numbers, or a Values/Counts histogram). Tests and
// tools use it to check what the processor writes.
func CheckDocument(doc map[string]any) error {
	aws, ok := doc["_aws"].(map[string]any)
	if !ok {
		return fmt.Errorf("no _aws object")
	}
	ts, ok := num(aws["Timestamp"])
	if !ok || ts < 1e12 || ts != math.Trunc(ts) {
		return fmt.Errorf("_aws.Timestamp %v is not milliseconds since the epoch", aws["Timestamp"])
	}
	dirs, ok := aws["CloudWatchMetrics"].([]any)
	if !ok || len(dirs) == 0 {
		return fmt.Errorf("_aws.CloudWatchMetrics is not a non-empty array")
	}
	for i, d := range dirs {
		dir, ok := d.(map[string]any)
		if !ok {
			return fmt.Errorf("directive %d is not an object", i)
		}
		ns, _ := dir["Namespace"].(string)
		if ns == "" || len(ns) > 255 {
			return fmt.Errorf("directive %d: Namespace %v", i, dir["Namespace"])
		}
		sets, ok := dir["Dimensions"].([]any)
		if !ok {
			return fmt.Errorf("directive %d: Dimensions is not an array", i)
		}
		for _, s := range sets {
			set, ok := s.([]any)
			if !ok {
				return fmt.Errorf("directive %d: a dimension set is not an array", i)
			}
			if len(set) > maxDims {
				return fmt.Errorf("directive %d: %d dimensions in a set (at most %d)", i, len(set), maxDims)
			}
			for _, k := range set {
				key, _ := k.(string)
				if v, ok := doc[key].(string); !ok || v == "" {
					return fmt.Errorf("directive %d: dimension %v has no string member", i, k)
				}
			}
		}
		ms, ok := dir["Metrics"].([]any)
		if !ok || len(ms) == 0 {
			return fmt.Errorf("directive %d: Metrics is not a non-empty array", i)
		}
		if len(ms) > maxMetricsPerDoc {
			return fmt.Errorf("directive %d: %d metrics (at most %d)", i, len(ms), maxMetricsPerDoc)
		}
		for _, m := range ms {
			def, _ := m.(map[string]any)
			name, _ := def["Name"].(string)
			if name == "" {
				return fmt.Errorf("directive %d: a metric has no Name", i)
			}
			if u, ok := def["Unit"]; ok {
				if s, _ := u.(string); !validUnit(s) {
					return fmt.Errorf("metric %s: Unit %v", name, u)
				}
			}
			if r, ok := def["StorageResolution"]; ok {
				if x, _ := num(r); x != 1 && x != 60 {
					return fmt.Errorf("metric %s: StorageResolution %v", name, r)
				}
			}
			if err := checkValue(doc[name]); err != nil {
				return fmt.Errorf("metric %s: %w", name, err)
			}
		}
	}
	return nil
}

func checkValue(v any) error {
	if x, ok := num(v); ok {
		if !finite(x) {
			return fmt.Errorf("value %v is not finite", x)
		}
		return nil
	}
	switch x := v.(type) {
	case []any:
		if len(x) == 0 || len(x) > maxValuesPerArray {
			return fmt.Errorf("%d values (1 to %d)", len(x), maxValuesPerArray)
		}
		for _, e := range x {
			if f, ok := num(e); !ok || !finite(f) {
				return fmt.Errorf("value %v is not a finite number", e)
			}
		}
		return nil
	case map[string]any:
		vals, _ := x["Values"].([]any)
		cnts, _ := x["Counts"].([]any)
		if len(vals) == 0 || len(vals) > maxValuesPerArray || len(cnts) != len(vals) {
			return fmt.Errorf("histogram with %d values and %d counts (1 to %d, equal)", len(vals), len(cnts), maxValuesPerArray)
		}
		for i := range vals {
			a, ok1 := num(vals[i])
			c, ok2 := num(cnts[i])
			if !ok1 || !ok2 || !finite(a) || !finite(c) || c <= 0 {
				return fmt.Errorf("histogram entry %v×%v", vals[i], cnts[i])
			}
		}
		for _, k := range []string{"Max", "Min", "Count", "Sum"} {
			if f, ok := num(x[k]); !ok || !finite(f) {
				return fmt.Errorf("histogram %s %v", k, x[k])
			}
		}
		return nil
	case nil:
		return fmt.Errorf("no member holds its value")
	}
	return fmt.Errorf("value %v is not a number, an array or a histogram", v)
}

func num(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int64:
		return float64(x), true
	case int:
		return float64(x), true
	}
	return 0, false
}
