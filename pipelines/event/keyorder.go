package event

import (
	"hash/maphash"
	"sync/atomic"
)

// The encoder writes map keys in sorted order. Maps of up to 16 keys are
// sorted on the stack; larger ones (every Trace Analytics span document,
// wide log records) would be sorted on every encode, although documents
// built by the same code share one key set. keyOrders remembers the sorted
// key lists of recently seen large key sets, found by an order-independent
// signature of the keys: on a hit the encoder looks each key up in sorted
// order instead of sorting. A hit is verified exactly (same number of keys,
// and every remembered key present), so a signature collision only costs a
// fallback to sorting.
//
// A key set is remembered the second time its signature is seen in a slot,
// so one-off key sets do not churn the cache. Entries are immutable once
// published; slots are replaced atomically, so concurrent encoders need no
// lock.

const (
	keyOrderSlots   = 64  // direct-mapped slots
	maxKeyOrderKeys = 512 // larger maps are always sorted
)

type keyOrder struct {
	sig  uint64
	keys []string // sorted
}

var (
	keyOrderSeed = maphash.MakeSeed()
	keyOrders    [keyOrderSlots]atomic.Pointer[keyOrder]
	keyOrderSeen [keyOrderSlots]atomic.Uint64
)

// keySignature returns an order-independent signature of m's key set.
func keySignature(m map[string]any) uint64 {
	sig := uint64(len(m))
	for k := range m {
		sig += maphash.String(keyOrderSeed, k)
	}
	return sig
}

func keyOrderSlot(sig uint64) int { return int((sig * 0x9e3779b97f4a7c15) >> 58) }

// lookupKeyOrder returns the remembered sorted keys for signature sig and
// n keys, or nil.
func lookupKeyOrder(sig uint64, n int) []string {
	if ko := keyOrders[keyOrderSlot(sig)].Load(); ko != nil && ko.sig == sig && len(ko.keys) == n {
		return ko.keys
	}
	return nil
}

// rememberKeyOrder records the sorted members' keys under sig once sig has
// been seen before in its slot.
func rememberKeyOrder(sig uint64, ms []member) {
	slot := keyOrderSlot(sig)
	if keyOrderSeen[slot].Swap(sig) != sig {
		return
	}
	keys := make([]string, len(ms))
	for i := range ms {
		keys[i] = ms[i].k
	}
	keyOrders[slot].Store(&keyOrder{sig: sig, keys: keys})
}

// objectKnownOrder writes m (enter already called) in the remembered key
// order keys. It reports false, with dst and the encoder as they were, when
// m's key set is not the remembered one.
func (e *encoder) objectKnownOrder(dst []byte, m map[string]any, keys []string) ([]byte, bool) {
	start, depth, tooDeep := len(dst), e.depth, e.tooDeep
	dst = append(dst, '{')
	for i, k := range keys {
		v, ok := m[k]
		if !ok {
			e.depth, e.tooDeep = depth, tooDeep
			return dst[:start], false
		}
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, k)
		dst = append(dst, ':')
		dst = e.value(dst, v)
	}
	return append(dst, '}'), true
}
