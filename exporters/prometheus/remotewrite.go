package prometheus

import (
	"math"
	"sort"
	"strconv"

	"github.com/klauspost/compress/snappy"
	"google.golang.org/protobuf/encoding/protowire"
)

// The remote write 1.0 wire format (prometheus/prompb, types.proto and
// remote.proto), written by hand with protowire instead of importing the
// Prometheus module:
//
//	message WriteRequest { repeated TimeSeries timeseries = 1; }
//	message TimeSeries   { repeated Label labels = 1; repeated Sample samples = 2; }
//	message Label        { string name = 1; string value = 2; }
//	message Sample       { double value = 1; int64 timestamp = 2; }  // ms since the epoch
//
// Field numbers and wire types, as protowire tags.
const (
	fieldWriteTimeseries = 1
	fieldSeriesLabels    = 1
	fieldSeriesSamples   = 2
	fieldLabelName       = 1
	fieldLabelValue      = 2
	fieldSampleValue     = 1
	fieldSampleTimestamp = 2
)

// Label is one label of a series.
type Label struct {
	Name, Value string
}

// Labels are a series' labels; Encode sorts them by name, as the
// specification requires.
type Labels []Label

func (l Labels) Len() int           { return len(l) }
func (l Labels) Less(i, j int) bool { return l[i].Name < l[j].Name }
func (l Labels) Swap(i, j int)      { l[i], l[j] = l[j], l[i] }

// appendLabels sorts ls by name and appends them as the repeated Label
// fields of a TimeSeries. Labels with an empty value are left out: for
// Prometheus an empty label value is the same as no label.
func appendLabels(b []byte, ls Labels) []byte {
	if !sort.IsSorted(ls) {
		sort.Stable(ls)
	}
	for _, l := range ls {
		if l.Value == "" {
			continue
		}
		size := protowire.SizeTag(fieldLabelName) + protowire.SizeBytes(len(l.Name)) +
			protowire.SizeTag(fieldLabelValue) + protowire.SizeBytes(len(l.Value))
		b = protowire.AppendTag(b, fieldSeriesLabels, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(size))
		b = protowire.AppendTag(b, fieldLabelName, protowire.BytesType)
		b = protowire.AppendString(b, l.Name)
		b = protowire.AppendTag(b, fieldLabelValue, protowire.BytesType)
		b = protowire.AppendString(b, l.Value)
	}
	return b
}

// Sample is one value at a time (milliseconds since the epoch).
type Sample struct {
	Value     float64
	Timestamp int64
}

// sampleSize is the encoded size of a Sample message (without its own tag
// and length).
func sampleSize(s Sample) int {
	return protowire.SizeTag(fieldSampleValue) + 8 + protowire.SizeTag(fieldSampleTimestamp) + protowire.SizeVarint(uint64(s.Timestamp))
}

// appendSeries appends one TimeSeries (as field 1 of a WriteRequest): its
// labels, already encoded by appendLabels, and its samples, which must be
// sorted by time.
func appendSeries(b []byte, labels string, samples []Sample) []byte {
	size := len(labels)
	for _, s := range samples {
		n := sampleSize(s)
		size += protowire.SizeTag(fieldSeriesSamples) + protowire.SizeBytes(n)
	}
	b = protowire.AppendTag(b, fieldWriteTimeseries, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(size))
	b = append(b, labels...)
	for _, s := range samples {
		b = protowire.AppendTag(b, fieldSeriesSamples, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(sampleSize(s)))
		b = protowire.AppendTag(b, fieldSampleValue, protowire.Fixed64Type)
		b = protowire.AppendFixed64(b, math.Float64bits(s.Value))
		b = protowire.AppendTag(b, fieldSampleTimestamp, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(s.Timestamp))
	}
	return b
}

// seriesSize estimates the encoded size of one series with n samples, for
// request size limits.
func seriesSize(labels string, n int) int {
	return 4 + len(labels) + n*14
}

// compress returns the block-format snappy encoding of src (remote write
// uses the block format, not the framed stream format), reusing dst.
func compress(dst, src []byte) []byte {
	n := snappy.MaxEncodedLen(len(src))
	if cap(dst) < n {
		dst = make([]byte, n)
	}
	return snappy.Encode(dst[:n], src)
}

// formatFloat writes a float as the text exposition format does (le and
// quantile label values): shortest representation, +Inf, -Inf, NaN.
func formatFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	case math.IsNaN(f):
		return "NaN"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}
