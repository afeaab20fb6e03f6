package event

import (
	"reflect"
	"testing"
	"time"
)

// Events given the same metadata map by ShareMetadata read it, and copy it
// before their first change, so the others (and the shared map) keep theirs.
func TestShareMetadata(t *testing.T) {
	shared := map[string]any{"signal": "traces"}
	a, b := New(KindSpan, time.Time{}, nil), New(KindSpan, time.Time{}, nil)
	a.ShareMetadata(shared)
	b.ShareMetadata(shared)
	if v, _ := a.Metadata("signal"); v != "traces" {
		t.Fatalf("metadata %v", v)
	}
	a.SetMetadata("signal", "changed")
	a.SetMetadata("extra", 1)
	if v, _ := b.Metadata("signal"); v != "traces" {
		t.Errorf("another event sees %v", v)
	}
	if !reflect.DeepEqual(shared, map[string]any{"signal": "traces"}) {
		t.Errorf("the shared map changed: %v", shared)
	}
	// A clone of an event with shared metadata copies it too.
	c := b.Clone()
	c.SetMetadata("signal", "clone")
	if v, _ := b.Metadata("signal"); v != "traces" || len(shared) != 1 {
		t.Errorf("the clone changed the original: %v %v", v, shared)
	}
	// Writing the fields of a clone copies the metadata; it stays shared
	// until then, and SetMetadata afterwards still leaves the map alone.
	d := b.Clone()
	d.Mutable()["x"] = 1
	d.SetMetadata("signal", "d")
	b.SetMetadata("k", "v")
	if v, _ := b.Metadata("signal"); v != "traces" || len(shared) != 1 {
		t.Errorf("after Mutable: %v %v", v, shared)
	}
	if got := a.MetadataKeys(); !reflect.DeepEqual(got, []string{"extra", "signal"}) {
		t.Errorf("keys %v", got)
	}
}
