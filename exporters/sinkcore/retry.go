package sinkcore

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"
)

// Backoff is a retry policy: exponential backoff with full jitter. Retry n
// (0-based) waits a uniformly random time in [0, min(Max, Initial·2ⁿ)], so
// many agents retrying at once spread out instead of hitting the
// destination together.
type Backoff struct {
	Initial time.Duration
	Max     time.Duration
	// MaxRetries is how many times an operation is retried after its first
	// attempt (0: never).
	MaxRetries int
	// Rand, when set, returns a number in [0, 1) (tests make it fixed).
	Rand func() float64
}

// Cap returns the upper bound of the wait before retry n (0-based).
func (b Backoff) Cap(n int) time.Duration {
	if b.Initial <= 0 {
		return 0
	}
	d := b.Initial
	for i := 0; i < n; i++ {
		if b.Max > 0 && d >= b.Max {
			break
		}
		if d > time.Duration(1<<62)/2 {
			break
		}
		d *= 2
	}
	if b.Max > 0 && d > b.Max {
		d = b.Max
	}
	return d
}

// Delay returns the jittered wait before retry n (0-based).
func (b Backoff) Delay(n int) time.Duration {
	c := b.Cap(n)
	if c <= 0 {
		return 0
	}
	r := b.Rand
	if r == nil {
		r = rand.Float64
	}
	return time.Duration(r() * float64(c+1))
}

// Sleep waits d or until ctx ends, returning ctx.Err() in that case.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Class says whether a failed attempt may be retried.
type Class int

const (
	// Permanent failures are not retried.
	Permanent Class = iota
	// Retryable failures are retried with backoff until MaxRetries.
	Retryable
)

// Retry runs op until it succeeds (nil error), fails permanently, runs out
// of retries or ctx ends. classify decides for each error (nil classify:
// every error is retryable). It returns the number of attempts made and the
// last error; when ctx ended while waiting, the error wraps both ctx.Err()
// and the last failure.
func Retry(ctx context.Context, b Backoff, classify func(error) Class, op func(ctx context.Context, attempt int) error) (int, error) {
	for attempt := 0; ; attempt++ {
		err := op(ctx, attempt)
		if err == nil {
			return attempt + 1, nil
		}
		if classify != nil && classify(err) == Permanent {
			return attempt + 1, err
		}
		if attempt >= b.MaxRetries {
			return attempt + 1, err
		}
		if serr := Sleep(ctx, b.Delay(attempt)); serr != nil {
			return attempt + 1, errors.Join(serr, err)
		}
	}
}
