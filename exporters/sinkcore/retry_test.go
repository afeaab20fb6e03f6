package sinkcore

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestBackoffCapGrowsToMax(t *testing.T) {
	b := Backoff{Initial: 100 * time.Millisecond, Max: 10 * time.Second}
	want := []time.Duration{100, 200, 400, 800, 1600, 3200, 6400, 10000, 10000}
	for n, w := range want {
		if got := b.Cap(n); got != w*time.Millisecond {
			t.Fatalf("Cap(%d) = %v, want %v", n, got, w*time.Millisecond)
		}
	}
	if got := b.Cap(1000); got != 10*time.Second {
		t.Fatalf("Cap(1000) = %v", got)
	}
}

func TestBackoffFullJitter(t *testing.T) {
	b := Backoff{Initial: 100 * time.Millisecond, Max: time.Second}
	sawLow, sawHigh := false, false
	for i := 0; i < 2000; i++ {
		d := b.Delay(3) // cap 800ms
		if d < 0 || d > 800*time.Millisecond {
			t.Fatalf("Delay(3) = %v outside [0, 800ms]", d)
		}
		sawLow = sawLow || d < 200*time.Millisecond
		sawHigh = sawHigh || d > 600*time.Millisecond
	}
	if !sawLow || !sawHigh {
		t.Fatal("delays are not spread over [0, cap]")
	}
	fixed := Backoff{Initial: time.Second, Max: time.Minute, Rand: func() float64 { return 0.5 }}
	if got := fixed.Delay(1); got < 999*time.Millisecond || got > 1001*time.Millisecond {
		t.Fatalf("Delay(1) with rand 0.5 = %v, want ~1s", got)
	}
}

var errTemp = errors.New("temporary")
var errPerm = errors.New("permanent")

func classify(err error) Class {
	if errors.Is(err, errPerm) {
		return Permanent
	}
	return Retryable
}

func TestRetry(t *testing.T) {
	b := Backoff{Initial: time.Microsecond, Max: time.Millisecond, MaxRetries: 3}
	calls := 0
	n, err := Retry(context.Background(), b, classify, func(context.Context, int) error {
		calls++
		if calls < 3 {
			return errTemp
		}
		return nil
	})
	if err != nil || n != 3 {
		t.Fatalf("Retry = %d, %v; want success on attempt 3", n, err)
	}

	calls = 0
	n, err = Retry(context.Background(), b, classify, func(context.Context, int) error { calls++; return errTemp })
	if !errors.Is(err, errTemp) || n != 4 || calls != 4 {
		t.Fatalf("Retry = %d, %v after %d calls; want 1 + 3 retries", n, err, calls)
	}

	calls = 0
	n, err = Retry(context.Background(), b, classify, func(context.Context, int) error { calls++; return errPerm })
	if !errors.Is(err, errPerm) || n != 1 {
		t.Fatalf("Retry = %d, %v; a permanent error is not retried", n, err)
	}
}

func TestRetryStopsWithContext(t *testing.T) {
	b := Backoff{Initial: time.Hour, Max: time.Hour, MaxRetries: 5, Rand: func() float64 { return 0.99 }}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := Retry(ctx, b, nil, func(context.Context, int) error { return errTemp })
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, errTemp) {
		t.Fatalf("err = %v, want the deadline and the last failure", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatal("Retry slept through the context's end")
	}
}

func TestSleep(t *testing.T) {
	if err := Sleep(context.Background(), time.Millisecond); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Fatalf("Sleep = %v", err)
	}
}
