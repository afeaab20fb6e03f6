package filter

import (
	"math"
	"strings"
	"time"
)

// range compares each value of the field with the bounds. weft has no
// mapping, so the comparison follows the types of the two sides:
//
//   - number with number (or numeric string): numerically;
//   - two strings that both read as dates (or a date and "now" date math):
//     as times;
//   - a number with a date: the number is epoch milliseconds (as
//     OpenSearch's date fields read numbers);
//   - two strings that both read as numbers: numerically;
//   - other strings: lexicographically by UTF-8 bytes (as a keyword field);
//   - booleans and objects are never in a range.

// now is the clock of date math ("now-1h"); tests replace it.
var now = time.Now

type bound struct {
	set   bool
	incl  bool // gte, lte
	upper bool // lt, lte
	// The bound's readings.
	num        numv
	numOK      bool
	fromNumber bool // written as a number, not a string
	t          time.Time
	timeOK     bool
	dm         *dateMath // "now…": evaluated at match time
	str        string
	strOK      bool
}

type rangeQuery struct {
	f      *field
	lo, hi bound
	hasNow bool
}

func (c *compiler) compileRange(n *dnode, path string) matcher {
	name, fk, fv, ok := c.fieldBody(n, path)
	if !ok {
		return matchNone
	}
	fp := joinPath(path, name)
	f := c.newField(fk, name, fp)
	if fv.kind != dMap {
		c.fail(fv, fp, "expected an object with gt, gte, lt or lte, got %s", fv.kindName())
		return matchNone
	}
	ps, _ := c.params(fv, fp, []string{"gt", "gte", "lt", "lte"})
	r := &rangeQuery{f: f}
	for _, op := range []string{"gt", "gte", "lt", "lte"} {
		v, ok := ps[op]
		if !ok || v.kind == dScalar && v.val == nil { // null: unbounded, as in OpenSearch
			continue
		}
		b := &r.lo
		if op[0] == 'l' {
			b = &r.hi
		}
		if b.set {
			c.fail(v, joinPath(fp, op), "give %s or %s, not both", op[:2], op[:2]+"e")
			continue
		}
		nb, ok := c.bound(v, joinPath(fp, op), op[0] == 'l', len(op) == 3)
		if ok {
			*b = nb
			r.hasNow = r.hasNow || nb.dm != nil
		}
	}
	if f == nil {
		return matchNone
	}
	return r.match
}

func (c *compiler) bound(n *dnode, path string, upper, incl bool) (bound, bool) {
	b := bound{set: true, incl: incl, upper: upper}
	// OpenSearch rounds gt and lte up (to the end of a rounded unit, or of
	// a date's missing time), gte and lt down.
	roundUp := upper == incl
	if n.kind != dScalar {
		c.fail(n, path, "expected a number, date or string, got %s", n.kindName())
		return b, false
	}
	switch v := n.val.(type) {
	case int64:
		b.num, b.numOK, b.fromNumber = intNum(v), true, true
	case float64:
		b.num, b.numOK, b.fromNumber = floatNum(v), true, true
	case string:
		if strings.HasPrefix(v, "now") && (len(v) == 3 || strings.ContainsRune("+-/", rune(v[3]))) ||
			strings.Contains(v, "||") {
			dm, err := parseDateMath(v, roundUp)
			if err != nil {
				c.fail(n, path, "%v", err)
				return b, false
			}
			if dm.now {
				b.dm = dm
			} else {
				b.t, b.timeOK = dm.eval(time.Time{}, roundUp), true
			}
			return b, true
		}
		b.str, b.strOK = v, true
		b.num, b.numOK = parseNum(v)
		b.t, _, b.timeOK = parseDate(v, roundUp)
	default:
		c.fail(n, path, "expected a number, date or string, got %s", n.kindName())
		return b, false
	}
	return b, true
}

// docValue is one field value read for comparisons, parsed on demand.
type docValue struct {
	s                  string
	isStr              bool
	num                numv
	numOK              bool
	t                  time.Time
	timeOK             bool
	parsedN, parsedT   bool
	isTime, isNumValue bool
}

func (d *docValue) number() (numv, bool) {
	if !d.parsedN {
		d.parsedN = true
		if d.isStr {
			d.num, d.numOK = parseNum(d.s)
		}
	}
	return d.num, d.numOK
}

func (d *docValue) time() (time.Time, bool) {
	if !d.parsedT {
		d.parsedT = true
		if d.isStr {
			d.t, _, d.timeOK = parseDate(d.s, false)
		}
	}
	return d.t, d.timeOK
}

func epochMillis(n numv) time.Time {
	if n.isInt {
		return time.UnixMilli(n.i)
	}
	sec := math.Floor(n.f / 1000)
	return time.Unix(int64(sec), int64((n.f-sec*1000)*1e6))
}

// cmp compares the value with the bound: -1, 0 or 1, and whether they are
// comparable at all.
func (b *bound) cmp(d *docValue, nowT time.Time) (int, bool) {
	bt, bTime := b.t, b.timeOK
	if b.dm != nil {
		bt, bTime = b.dm.eval(nowT, b.upper == b.incl), true
	}
	switch {
	case d.isNumValue:
		if b.numOK {
			return numCmp(d.num, b.num), true
		}
		if bTime {
			return epochMillis(d.num).Compare(bt), true
		}
		return 0, false
	case d.isTime:
		if bTime {
			return d.t.Compare(bt), true
		}
		if b.fromNumber {
			return d.t.Compare(epochMillis(b.num)), true
		}
		return 0, false
	case !d.isStr:
		return 0, false
	}
	if bTime {
		if t, ok := d.time(); ok {
			return t.Compare(bt), true
		}
	}
	if b.numOK {
		if n, ok := d.number(); ok {
			return numCmp(n, b.num), true
		}
	}
	if bTime && !b.numOK {
		// A date bound against epoch milliseconds written as a string.
		if n, ok := d.number(); ok {
			return epochMillis(n).Compare(bt), true
		}
	}
	if b.fromNumber {
		// Epoch milliseconds against a date string.
		if t, ok := d.time(); ok {
			return t.Compare(epochMillis(b.num)), true
		}
		return 0, false
	}
	if b.strOK {
		return strings.Compare(d.s, b.str), true
	}
	return 0, false
}

func (b *bound) admits(d *docValue, nowT time.Time) bool {
	c, ok := b.cmp(d, nowT)
	if !ok {
		return false
	}
	if b.upper {
		return c < 0 || b.incl && c == 0
	}
	return c > 0 || b.incl && c == 0
}

func (r *rangeQuery) match(doc map[string]any) bool {
	var buf [valBuf]any
	vals, _ := r.f.values(doc, buf[:0])
	if len(vals) == 0 {
		return false
	}
	var nowT time.Time
	if r.hasNow {
		nowT = now()
	}
	for _, v := range vals {
		var d docValue
		switch t := v.(type) {
		case string:
			d.s, d.isStr = t, true
		case time.Time:
			d.t, d.isTime = t, true
		case bool, map[string]any:
			continue
		default:
			if d.num, d.isNumValue = docNum(v); !d.isNumValue {
				continue
			}
		}
		if r.lo.set && !r.lo.admits(&d, nowT) {
			continue
		}
		if r.hi.set && !r.hi.admits(&d, nowT) {
			continue
		}
		return true
	}
	return false
}
