package event

import (
	"bytes"
	"encoding/json"
	"strconv"
	"sync"
	"testing"
	"time"
)

// wide returns a map of n keys named prefix0..prefixN-1 with int64 values
// and one nested object.
func wide(prefix string, n int) map[string]any {
	m := make(map[string]any, n)
	for i := 0; i < n-1; i++ {
		m[prefix+strconv.Itoa(i)] = int64(i)
	}
	m[prefix+"nested"] = map[string]any{"b": "x", "a": []any{int64(1), nil}}
	return m
}

// reference encodes with encoding/json (sorted keys, no HTML escaping).
func reference(t *testing.T, v any) string {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return string(bytes.TrimRight(b.Bytes(), "\n"))
}

// Large maps are encoded from a remembered key order after their key set
// was seen twice; the output must stay sorted and complete while the key set
// changes between encodes (a key added, removed, renamed at the same size).
func TestAppendJSONLargeMapKeyOrderCache(t *testing.T) {
	m := wide("k", 40)
	check := func(what string) {
		t.Helper()
		for i := 0; i < 3; i++ { // miss, remember, hit
			if got, want := string(AppendJSON(nil, m)), reference(t, m); got != want {
				t.Fatalf("%s, encode %d:\n got %s\nwant %s", what, i, got, want)
			}
		}
	}
	check("initial")
	if keyOrders[keyOrderSlot(keySignature(m))].Load() == nil {
		t.Fatal("key order was not remembered after three encodes")
	}
	m["k5"] = "changed value" // same key set, other value
	check("value changed")
	m["a-new-first-key"] = true
	check("key added")
	delete(m, "a-new-first-key")
	delete(m, "k7")
	check("key removed")
	m["k7-renamed"] = int64(7) // same size as the remembered set
	check("key renamed")
	delete(m, "k7-renamed")
	m["k7"] = int64(7)
	check("back to the first set")

	// Same size, disjoint key set, alternating with the first.
	other := wide("z", 40)
	for i := 0; i < 4; i++ {
		for _, x := range []map[string]any{m, other} {
			if got, want := string(AppendJSON(nil, x)), reference(t, x); got != want {
				t.Fatalf("alternating, round %d:\n got %s\nwant %s", i, got, want)
			}
		}
	}
}

// A remembered order that does not match the map (a signature collision)
// leaves the output and the encoder untouched.
func TestObjectKnownOrderMismatch(t *testing.T) {
	m := wide("k", 20)
	ms := make([]member, 0, len(m))
	for k := range m {
		ms = append(ms, member{k: k})
	}
	ms[len(ms)-1].k = "not-in-the-map"
	sig := keySignature(m)
	rememberKeyOrder(sig, ms)
	rememberKeyOrder(sig, ms)
	ko := lookupKeyOrder(sig, len(m))
	if ko == nil {
		t.Fatal("not remembered")
	}
	e := encoder{depth: 3}
	dst := []byte("prefix")
	out, ok := e.objectKnownOrder(dst, m, ko)
	if ok || string(out) != "prefix" || e.depth != 3 || e.tooDeep {
		t.Fatalf("mismatch: ok=%v out=%q depth=%d tooDeep=%v", ok, out, e.depth, e.tooDeep)
	}
}

// Nested large maps and many goroutines encoding maps whose key sets share
// slots (run with -race).
func TestAppendJSONKeyOrderConcurrent(t *testing.T) {
	maps := make([]map[string]any, 8)
	want := make([]string, len(maps))
	for i := range maps {
		maps[i] = wide("g"+strconv.Itoa(i)+".", 17+i%3)
		maps[i]["inner"] = wide("in", 30)
		want[i] = reference(t, maps[i])
	}
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf []byte
			for i := 0; i < 200; i++ {
				j := (g + i) % len(maps)
				buf = AppendJSON(buf[:0], maps[j])
				if string(buf) != want[j] {
					errs <- string(buf)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatalf("wrong encoding %s", e)
	}
}

// The remembered-order path allocates nothing.
func TestAppendJSONLargeMapNoAllocs(t *testing.T) {
	m := wide("span.attributes.", 34)
	buf := AppendJSON(nil, m)
	AppendJSON(buf[:0], m)
	if n := testing.AllocsPerRun(100, func() { buf = AppendJSON(buf[:0], m) }); n != 0 {
		t.Fatalf("%v allocations per encode of a 34-key map, want 0", n)
	}
}

// Events sharing an OrderHint encode correctly whatever their fields: a
// hint that does not fit falls back, and the hint follows the last order.
func TestOrderHint(t *testing.T) {
	h := new(OrderHint)
	maps := []map[string]any{wide("a", 30), wide("a", 30), wide("b", 30), wide("a", 31), wide("a", 30), {"small": int64(1)}}
	maps[1]["a3"] = "other value"
	for round := 0; round < 3; round++ {
		for i, m := range maps {
			ev := New(KindSpan, time.Time{}, m)
			ev.SetOrderHint(h)
			if i%2 == 1 {
				ev = ev.Clone() // clones keep the hint
			}
			if got, want := string(ev.AppendJSON(nil)), reference(t, m); got != want {
				t.Fatalf("round %d, map %d:\n got %s\nwant %s", round, i, got, want)
			}
		}
	}
	if h.ko.Load() == nil {
		t.Error("the hint never recorded an order")
	}
	ev := New(KindSpan, time.Time{}, wide("a", 30))
	ev.SetOrderHint(h)
	AppendJSON(nil, ev.Fields()) // warm the cache
	buf := ev.AppendJSON(nil)
	if n := testing.AllocsPerRun(50, func() { buf = ev.AppendJSON(buf[:0]) }); n != 0 {
		t.Errorf("%v allocations per hinted encode", n)
	}
}
