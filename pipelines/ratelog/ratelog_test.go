package ratelog

import (
	"errors"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"
)

func TestOneLinePerIntervalWithCount(t *testing.T) {
	log, hook := test.NewNullLogger()
	l := New(logrus.NewEntry(log), "bad events")
	clock := time.Unix(1000, 0)
	l.Now = func() time.Time { return clock }
	for i := 0; i < 5; i++ {
		l.Record(errors.New("boom"))
	}
	if len(hook.Entries) != 1 || hook.Entries[0].Data["failed_events"] != int64(1) {
		t.Fatalf("first failure must be logged at once: %v", hook.Entries)
	}
	clock = clock.Add(Interval + time.Second)
	l.Record(errors.New("boom"))
	if len(hook.Entries) != 2 || hook.Entries[1].Data["failed_events"] != int64(5) {
		t.Fatalf("second line must stand for the 5 held back: %v", hook.LastEntry().Data)
	}
	l.Record(errors.New("boom"))
	l.Flush()
	if len(hook.Entries) != 3 || hook.Entries[2].Data["failed_events"] != int64(1) {
		t.Fatalf("flush must report the rest: %v", hook.LastEntry().Data)
	}
	l.Flush()
	if len(hook.Entries) != 3 {
		t.Fatal("flush with nothing pending must not log")
	}
}
