package correlate

import (
	"encoding/binary"
	"math"
)

// TraceID and SpanID are the binary forms of the hex IDs events carry; the
// store keys on them so that an ID costs 16 or 8 bytes, not a string.
type (
	TraceID [16]byte
	SpanID  [8]byte
)

// hexVal maps an ASCII byte to its hex value, or 0xff.
var hexVal = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = byte(c - '0')
	}
	for c := 'a'; c <= 'f'; c++ {
		t[c] = byte(c-'a') + 10
	}
	for c := 'A'; c <= 'F'; c++ {
		t[c] = byte(c-'A') + 10
	}
	return t
}()

// decodeHex fills dst from the hex string s (len(s) == 2*len(dst)) and
// reports whether s was valid hex and not all zeros (an all-zero ID means
// "no ID" in W3C and OTLP).
func decodeHex(dst []byte, s string) bool {
	if len(s) != 2*len(dst) {
		return false
	}
	var nonzero byte
	for i := range dst {
		hi, lo := hexVal[s[2*i]], hexVal[s[2*i+1]]
		if hi|lo > 15 { // 0xff marks a non-hex byte
			return false
		}
		dst[i] = hi<<4 | lo
		nonzero |= dst[i]
	}
	return nonzero != 0
}

// parseTraceID reads a 32-digit hex trace ID (any case).
func parseTraceID(v any) (TraceID, bool) {
	var id TraceID
	s, ok := v.(string)
	return id, ok && decodeHex(id[:], s)
}

// parseSpanID reads a 16-digit hex span ID (any case).
func parseSpanID(v any) (SpanID, bool) {
	var id SpanID
	s, ok := v.(string)
	return id, ok && decodeHex(id[:], s)
}

// fmix64 is MurmurHash3's 64-bit finalizer: every input bit affects every
// output bit, so comparing the result with a threshold samples uniformly
// even for IDs whose upper half is zero (64-bit B3 IDs padded to 128).
func fmix64(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// TraceHash is the sampling hash of a trace ID: with hi and lo the
// big-endian halves of the 16 ID bytes,
//
//	fmix64(fmix64(hi ^ seed) ^ lo)
//
// It depends on nothing but the ID and the seed, so every weft process with
// the same seed decides a trace the same way.
func TraceHash(id TraceID, seed uint64) uint64 {
	hi := binary.BigEndian.Uint64(id[:8])
	lo := binary.BigEndian.Uint64(id[8:])
	return fmix64(fmix64(hi^seed) ^ lo)
}

// threshold converts a rate in [0, 1] to the bound a hash is compared with:
// keep when hash < threshold. keepAll reports rate >= 1 (no bound fits).
func threshold(rate float64) (t uint64, keepAll bool) {
	if rate >= 1 {
		return math.MaxUint64, true
	}
	if rate <= 0 {
		return 0, false
	}
	return uint64(rate * (1 << 64)), false
}
