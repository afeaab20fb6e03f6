package sinkcore

import (
	"errors"
	"reflect"
	"testing"

	"github.com/weft-agent/weft/pipelines/event"
	"github.com/weft-agent/weft/pipelines/pipelinestest"
)

func TestCutPiecesAreIndependentOfTheBuffer(t *testing.T) {
	buf := []byte("aaabbc")
	var got [][]byte
	Cut(buf, []int{3, 5, 6}, func(i int, p []byte) {
		if i != len(got) {
			t.Fatalf("piece %d out of order", i)
		}
		got = append(got, p)
	})
	if want := [][]byte{[]byte("aaa"), []byte("bb"), []byte("c")}; !reflect.DeepEqual(got, want) {
		t.Fatalf("pieces %q, want %q", got, want)
	}
	copy(buf, "xxxxxx") // the scratch buffer is reused
	got[0] = append(got[0], 'z')
	if string(got[0]) != "aaaz" || string(got[1]) != "bb" {
		t.Fatalf("pieces share memory with the buffer or each other: %q %q", got[0], got[1])
	}
}

func TestRejectClosedAndShutdown(t *testing.T) {
	set, reg := pipelinestest.Settings("p", "sink/0/x")
	evs := []*event.Event{pipelinestest.Event(t, `{"a":1}`), pipelinestest.Event(t, `{"a":2}`)}
	if err := RejectClosed(set.Telemetry, evs); !errors.Is(err, ErrClosed) {
		t.Fatalf("RejectClosed = %v", err)
	}
	RejectShutdown(set.Telemetry, evs[1:], func(e *event.Event) *event.Event { return e })
	if v := pipelinestest.CounterValue(reg, "weft_component_events_failed_total", "reason", "shutdown"); v != 3 {
		t.Fatalf("failed{shutdown} = %v, want 3", v)
	}
}
