package series

import (
	"fmt"
	"reflect"
	"sync"
	"testing"
)

func TestKeyRoundTrip(t *testing.T) {
	vals := []string{"", "a", "with\x00nul", "länger", "bad\xffutf8"}
	var key []byte
	for i, v := range vals {
		if i%2 == 0 {
			key = AppendValue(key, v)
		} else {
			key = AppendBytes(key, []byte(v))
		}
	}
	want := []string{"", "a", "with\x00nul", "länger", "bad\uFFFDutf8"}
	if got := Values(key); !reflect.DeepEqual(got, want) {
		t.Fatalf("Values = %q, want %q", got, want)
	}
	// lengths make keys unambiguous: ("ab","c") differs from ("a","bc")
	if string(AppendValue(AppendValue(nil, "ab"), "c")) == string(AppendValue(AppendValue(nil, "a"), "bc")) {
		t.Fatal("ambiguous keys")
	}
}

func TestTablePublishes(t *testing.T) {
	tb := NewTable[int]()
	if _, ok := tb.Get([]byte("k")); ok {
		t.Fatal("found in an empty table")
	}
	tb.Lock()
	tb.AddLocked([]byte("k"), 1)
	tb.Unlock()
	if v, ok := tb.Get([]byte("k")); !ok || v != 1 {
		t.Fatalf("small table: Get = %v %v, want published at once", v, ok)
	}
	// a large table publishes after misses proportional to its size, and
	// every series is visible after PublishLocked
	tb.Lock()
	for i := range 2000 {
		tb.AddLocked(fmt.Appendf(nil, "s%d", i), i)
	}
	last := []byte("s1999")
	tb.Unlock()
	if _, ok := tb.Get(last); ok {
		t.Log("published on the last add (allowed)")
	}
	tb.Lock()
	if v, ok := tb.FindLocked(last); !ok || v != 1999 {
		t.Fatalf("FindLocked = %v %v", v, ok)
	}
	tb.PublishLocked()
	n := tb.LenLocked()
	tb.Unlock()
	if n != 2001 {
		t.Fatalf("LenLocked = %d", n)
	}
	for i := range 2000 {
		if v, ok := tb.Get(fmt.Appendf(nil, "s%d", i)); !ok || v != i {
			t.Fatalf("s%d: %v %v after PublishLocked", i, v, ok)
		}
	}
}

func TestTableConcurrent(t *testing.T) {
	tb := NewTable[int]()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 3000 {
				k := fmt.Appendf(nil, "%d", i)
				if _, ok := tb.Get(k); ok {
					continue
				}
				tb.Lock()
				if _, ok := tb.FindLocked(k); !ok {
					tb.AddLocked(k, w)
				}
				tb.Unlock()
			}
		}()
	}
	wg.Wait()
	tb.Lock()
	defer tb.Unlock()
	if n := tb.LenLocked(); n != 3000 {
		t.Fatalf("%d series, want 3000", n)
	}
}
