// Package detect finds personal data and secrets in free text in one pass.
//
// The scanner walks the string once. Most bytes cost one table lookup; a few
// characters are triggers (a digit at the start of a number, '@', ':', '=',
// '+', '(', 'A', 'B'/'b', 'e', a hex letter at the start of a word) and only
// there does a hand-written validator look around. There are no regular
// expressions and no allocations. Matches start and end at ASCII
// characters (only a password or secret value may hold other characters),
// so replacing them never splits a multi-byte UTF-8 sequence.
//
// The rules of each detector, including what it deliberately does not match,
// are listed in the mask processor's README.md.
package detect

// Kind is one detector.
type Kind uint8

// The detectors, in the order of their names.
const (
	Email Kind = iota
	CreditCard
	IPv4
	IPv6
	USSSN
	Phone
	AWSAccessKey
	BearerToken
	URLPassword
	SecretPair
	// NumKinds is the number of detectors.
	NumKinds
)

var kindNames = [NumKinds]string{
	Email:        "email",
	CreditCard:   "credit_card",
	IPv4:         "ipv4",
	IPv6:         "ipv6",
	USSSN:        "us_ssn",
	Phone:        "phone",
	AWSAccessKey: "aws_access_key",
	BearerToken:  "bearer_token",
	URLPassword:  "url_password",
	SecretPair:   "secret_pair",
}

// String returns the detector's configuration name ("credit_card").
func (k Kind) String() string {
	if k < NumKinds {
		return kindNames[k]
	}
	return "unknown"
}

// ParseKind finds a detector by configuration name.
func ParseKind(name string) (Kind, bool) {
	for k, n := range kindNames {
		if n == name {
			return Kind(k), true
		}
	}
	return 0, false
}

// Names returns every detector name, in Kind order.
func Names() []string { return append([]string(nil), kindNames[:]...) }

// Secret reports whether the detector finds credentials (as opposed to
// identifiers such as addresses and numbers).
func (k Kind) Secret() bool {
	switch k {
	case AWSAccessKey, BearerToken, URLPassword, SecretPair:
		return true
	}
	return false
}

// Set is a set of enabled detectors.
type Set uint16

// All is the set of every detector.
const All Set = 1<<NumKinds - 1

// Of returns the set of the given detectors.
func Of(kinds ...Kind) Set {
	var s Set
	for _, k := range kinds {
		s |= 1 << k
	}
	return s
}

// Has reports whether k is in the set.
func (s Set) Has(k Kind) bool { return s&(1<<k) != 0 }

// Match is one finding: s[Start:End] is the sensitive part (for a URL
// password, a secret pair or a bearer token only the secret itself, not the
// scheme, user or key around it).
type Match struct {
	Start, End int
	Kind       Kind
}

// character classes
const (
	cDigit uint16 = 1 << iota
	cUpper
	cLower
	cHex      // 0-9 a-f A-F
	cLocal    // e-mail local part: A-Z a-z 0-9 . _ % + -
	cDomain   // A-Z a-z 0-9 -
	cKey      // secret key: A-Z a-z 0-9 _ . -
	cB64URL   // A-Z a-z 0-9 _ -
	cToken    // bearer token (RFC 6750 b64token): A-Z a-z 0-9 - . _ ~ + /
	cScheme   // URL scheme: A-Z a-z 0-9 + - .
	cTrigger  // the main loop looks closer
	cValueEnd // ends an unquoted secret value
)

const cWord = cDigit | cUpper | cLower

var class [256]uint16

func init() {
	set := func(chars string, c uint16) {
		for i := 0; i < len(chars); i++ {
			class[chars[i]] |= c
		}
	}
	for c := '0'; c <= '9'; c++ {
		class[c] |= cDigit | cHex
	}
	for c := 'A'; c <= 'Z'; c++ {
		class[c] |= cUpper
	}
	for c := 'a'; c <= 'z'; c++ {
		class[c] |= cLower
	}
	set("abcdefABCDEF", cHex)
	alnum := cDigit | cUpper | cLower
	for i := range class {
		if class[i]&alnum != 0 {
			class[i] |= cLocal | cDomain | cKey | cB64URL | cToken | cScheme
		}
	}
	set("._%+-", cLocal)
	set("-", cDomain)
	set("_.-", cKey)
	set("_-", cB64URL)
	set("-._~+/", cToken)
	set("+-.", cScheme)
	set("0123456789+(@:=ABbeabcdefCDEF", cTrigger)
	set(" \t\r\n\v\f&,;\"'<>()[]{}`\\|", cValueEnd)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// isWord reports whether c continues a word: ASCII letters, digits and '_'.
func isWord(c byte) bool { return class[c]&cWord != 0 || c == '_' }

// wordStart reports whether a word may start at i.
func wordStart(s string, i int) bool { return i == 0 || !isWord(s[i-1]) }

// numStart reports whether a number may start at i: not inside a word, and
// not the continuation of a dotted or dashed number ("1.2.3.4.5", "1-555").
func numStart(s string, i int) bool {
	if i == 0 {
		return true
	}
	p := s[i-1]
	if isWord(p) {
		return false
	}
	if (p == '.' || p == '-') && i >= 2 && isDigit(s[i-2]) {
		return false
	}
	return true
}

// numEnd reports whether a number may end at j: not followed by a word
// character, nor by '.' or '-' and a digit (the number goes on).
func numEnd(s string, j int) bool {
	if j >= len(s) {
		return true
	}
	c := s[j]
	if isWord(c) {
		return false
	}
	if (c == '.' || c == '-') && j+1 < len(s) && isDigit(s[j+1]) {
		return false
	}
	return true
}

// digitsEnd returns the end of the run of ASCII digits starting at i.
func digitsEnd(s string, i int) int {
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return i
}

// Next returns the first match that starts at or after from. Matches never
// overlap when the caller continues from the previous match's End. It does
// not allocate.
func (set Set) Next(s string, from int) (Match, bool) {
	if set == 0 || from >= len(s) {
		return Match{}, false
	}
	// floor bounds the backward walks (an e-mail's local part, a secret's
	// key): nothing before it may become part of a match.
	floor := from
	if from < 0 {
		from, floor = 0, 0
	}
	n := len(s)
	for i := from; i < n; i++ {
		c := s[i]
		if class[c]&cTrigger == 0 {
			continue
		}
		switch c {
		case '@':
			if set.Has(Email) {
				if m, ok := emailAt(s, i, floor); ok {
					return m, true
				}
			}
			continue
		case ':':
			if i+2 < n && s[i+1] == '/' && s[i+2] == '/' {
				if set.Has(URLPassword) {
					m, ok, at := urlPasswordAt(s, i, floor)
					if ok {
						return m, true
					}
					if at > i {
						// user@host without a password: not an e-mail
						floor, i = at, at-1
					}
				}
				continue
			}
			if set.Has(SecretPair) {
				if m, ok := secretPairAt(s, i, floor); ok {
					return m, true
				}
			}
			if set.Has(IPv6) && i+1 < n && s[i+1] == ':' && ipv6Start(s, i) {
				if end, ok := ipv6At(s, i); ok {
					return Match{i, end, IPv6}, true
				}
			}
			continue
		case '=':
			if set.Has(SecretPair) {
				if m, ok := secretPairAt(s, i, floor); ok {
					return m, true
				}
			}
			continue
		case '+':
			if set.Has(Phone) && wordStart(s, i) {
				if end, ok := e164At(s, i); ok {
					return Match{i, end, Phone}, true
				}
			}
			continue
		case '(':
			if set.Has(Phone) && wordStart(s, i) {
				if end, ok := nanpParenAt(s, i); ok {
					return Match{i, end, Phone}, true
				}
			}
			continue
		}
		if isDigit(c) {
			if !numStart(s, i) {
				continue
			}
			if m, ok := set.numberAt(s, i); ok {
				return m, true
			}
			if set.Has(IPv6) && ipv6Start(s, i) && ipv6Quick(s, i) {
				if end, ok := ipv6At(s, i); ok {
					return Match{i, end, IPv6}, true
				}
			}
			// the rest of this digit run cannot start anything
			i = digitsEnd(s, i) - 1
			continue
		}
		// letters: A (AWS keys), B/b (Bearer), e (JWT), hex letters (IPv6)
		if !wordStart(s, i) {
			continue
		}
		switch c {
		case 'A':
			if set.Has(AWSAccessKey) {
				if end, ok := awsKeyAt(s, i); ok {
					return Match{i, end, AWSAccessKey}, true
				}
			}
		case 'B', 'b':
			if set.Has(BearerToken) {
				if m, ok := bearerAt(s, i); ok {
					return m, true
				}
			}
		case 'e':
			if set.Has(BearerToken) {
				if end, ok := jwtAt(s, i); ok {
					return Match{i, end, BearerToken}, true
				}
			}
		}
		if class[c]&cHex != 0 && set.Has(IPv6) && ipv6Start(s, i) && ipv6Quick(s, i) {
			if end, ok := ipv6At(s, i); ok {
				return Match{i, end, IPv6}, true
			}
		}
	}
	return Match{}, false
}

// Contains reports whether s has any match.
func (set Set) Contains(s string) bool {
	_, ok := set.Next(s, 0)
	return ok
}

// numberAt tries the detectors that start with a digit: credit card, SSN,
// phone (NANP without '+'), IPv4.
func (set Set) numberAt(s string, i int) (Match, bool) {
	if set.Has(CreditCard) {
		if end, ok := cardAt(s, i); ok {
			return Match{i, end, CreditCard}, true
		}
	}
	if set.Has(USSSN) {
		if end, ok := ssnAt(s, i); ok {
			return Match{i, end, USSSN}, true
		}
	}
	if set.Has(Phone) {
		if end, ok := nanpAt(s, i); ok {
			return Match{i, end, Phone}, true
		}
	}
	if set.Has(IPv4) {
		if end, ok := ipv4At(s, i); ok && numEnd(s, end) {
			return Match{i, end, IPv4}, true
		}
	}
	return Match{}, false
}

// ---- credit cards ----

// cardAt matches 13 to 19 digits, contiguous or in groups separated by one
// space or dash (4-4-4-4, 4-4-4-4-3, 4-4-4-1…, 4-6-5, 4-6-4), whose first
// digit is 2-6 (the issuer industries of payment cards; this keeps
// millisecond and nanosecond timestamps, which start with 1, out) and that
// pass the Luhn check.
func cardAt(s string, i int) (int, bool) {
	if s[i] < '2' || s[i] > '6' {
		return 0, false
	}
	j := digitsEnd(s, i)
	n1 := j - i
	if n1 >= 13 && n1 <= 19 {
		if numEnd(s, j) && luhn(s[i:j]) {
			return j, true
		}
		return 0, false
	}
	if n1 != 4 || j+1 >= len(s) || (s[j] != ' ' && s[j] != '-') || !isDigit(s[j+1]) {
		return 0, false
	}
	sep := s[j]
	var ends [6]int // end offset of each group
	var sizes [6]int
	g := 0
	ends[g], sizes[g] = j, 4
	g++
	total := 4
	k := j
	for g < len(ends) && k+1 < len(s) && s[k] == sep && isDigit(s[k+1]) {
		e := digitsEnd(s, k+1)
		size := e - k - 1
		if size > 6 || total+size > 19 {
			break
		}
		ends[g], sizes[g] = e, size
		total += size
		g++
		k = e
	}
	// A space-separated card may be followed by another number ("exp 1227"
	// would not be, but "4111 1111 1111 1111 2027" is): try the longest
	// valid prefix. Dashes bind: a dashed number must be a card as a whole.
	for ; g >= 3; g-- {
		end := ends[g-1]
		if !numEnd(s, end) {
			if sep == '-' {
				return 0, false
			}
			continue
		}
		if !cardLayout(sizes[:g]) {
			continue
		}
		if luhn(s[i:end]) {
			return end, true
		}
	}
	return 0, false
}

// cardLayout accepts the group sizes of printed card numbers.
func cardLayout(sizes []int) bool {
	total := 0
	for _, n := range sizes {
		total += n
	}
	if total < 13 || total > 19 {
		return false
	}
	if len(sizes) == 3 && sizes[0] == 4 && sizes[1] == 6 && (sizes[2] == 5 || sizes[2] == 4) {
		return true
	}
	for k, n := range sizes {
		if k < len(sizes)-1 && n != 4 {
			return false
		}
	}
	return len(sizes) >= 4
}

// luhn checks the Luhn digit over the digits of s, ignoring separators.
func luhn(s string) bool {
	sum, double := 0, false
	for k := len(s) - 1; k >= 0; k-- {
		c := s[k]
		if !isDigit(c) {
			continue
		}
		d := int(c - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

// ---- US social security numbers ----

// ssnAt matches AAA-GG-SSSS, excluding area 000, 666 and 900-999, group 00
// and serial 0000 (numbers the SSA never issues).
func ssnAt(s string, i int) (int, bool) {
	if i+11 > len(s) {
		return 0, false
	}
	t := s[i : i+11]
	for k := 0; k < 11; k++ {
		switch k {
		case 3, 6:
			if t[k] != '-' {
				return 0, false
			}
		default:
			if !isDigit(t[k]) {
				return 0, false
			}
		}
	}
	if !numEnd(s, i+11) {
		return 0, false
	}
	area, group, serial := t[0:3], t[4:6], t[7:11]
	if area == "000" || area == "666" || area[0] == '9' || group == "00" || serial == "0000" {
		return 0, false
	}
	return i + 11, true
}

// ---- phone numbers ----

// nanpCore matches the 10-digit North American number at i: "(AAA) EEE-LLLL"
// (also "(AAA)EEE-LLLL", with '-', '.' or ' ' before LLLL) or "AAA-EEE-LLLL"
// / "AAA.EEE.LLLL" (the same separator twice). Area code and exchange start
// with 2-9. Plain ten-digit runs and space-separated groups without
// parentheses are not phones: they are far more often IDs and counts.
func nanpCore(s string, i int) (int, bool) {
	n := len(s)
	var a, e, l int // starts of area, exchange, line
	if i < n && s[i] == '(' {
		a = i + 1
		if a+4 > n || digitsEnd(s, a) != a+3 || s[a+3] != ')' {
			return 0, false
		}
		e = a + 4
		if e < n && (s[e] == ' ' || s[e] == '-') {
			e++
		}
		if digitsEnd(s, e) != e+3 || e+4 >= n {
			return 0, false
		}
		sep := s[e+3]
		if sep != '-' && sep != '.' && sep != ' ' {
			return 0, false
		}
		l = e + 4
	} else {
		a = i
		if digitsEnd(s, a) != a+3 || a+4 >= n {
			return 0, false
		}
		sep := s[a+3]
		if sep != '-' && sep != '.' {
			return 0, false
		}
		e = a + 4
		if digitsEnd(s, e) != e+3 || e+4 >= n || s[e+3] != sep {
			return 0, false
		}
		l = e + 4
	}
	if digitsEnd(s, l) != l+4 || !numEnd(s, l+4) {
		return 0, false
	}
	if s[a] < '2' || s[e] < '2' {
		return 0, false
	}
	return l + 4, true
}

// nanpAt matches a NANP number starting with a digit, optionally with the
// country code "1" and a separator ("1-800-555-0199").
func nanpAt(s string, i int) (int, bool) {
	if end, ok := nanpCore(s, i); ok {
		return end, true
	}
	if s[i] == '1' && i+2 < len(s) && (s[i+1] == '-' || s[i+1] == '.' || s[i+1] == ' ') {
		return nanpCore(s, i+2)
	}
	return 0, false
}

// nanpParenAt matches "(AAA) EEE-LLLL" starting at '('.
func nanpParenAt(s string, i int) (int, bool) { return nanpCore(s, i) }

// e164At matches an international number: '+', a country code starting
// with 1-9, then digit groups separated by single spaces, dashes or dots (a
// group may be parenthesised: "+1 (206) 555-0142"), 8 to 15 digits in all.
func e164At(s string, i int) (int, bool) {
	n := len(s)
	p := i + 1
	if p >= n || s[p] < '1' || s[p] > '9' {
		return 0, false
	}
	digits, end := 0, 0
	for p < n {
		var q int
		if s[p] == '(' {
			q = digitsEnd(s, p+1)
			if q == p+1 || q >= n || s[q] != ')' {
				break
			}
			digits += q - p - 1
			q++
		} else if isDigit(s[p]) {
			q = digitsEnd(s, p)
			digits += q - p
		} else {
			break
		}
		if digits > 15 {
			return 0, false
		}
		end = q
		p = q
		if p+1 < n && (s[p] == ' ' || s[p] == '-' || s[p] == '.') && (isDigit(s[p+1]) || s[p+1] == '(') {
			p++
			continue
		}
		if p < n && (s[p] == '(' && s[p-1] != ')' || isDigit(s[p]) && s[p-1] == ')') {
			continue
		}
		break
	}
	if digits < 8 || end == 0 || !numEnd(s, end) {
		return 0, false
	}
	return end, true
}

// ---- IP addresses ----

// ipv4At matches a dotted quad with every part at most 255.
func ipv4At(s string, i int) (int, bool) {
	p := i
	for part := 0; part < 4; part++ {
		if part > 0 {
			if p >= len(s) || s[p] != '.' {
				return 0, false
			}
			p++
		}
		q := digitsEnd(s, p)
		if q == p || q-p > 3 {
			return 0, false
		}
		v := 0
		for k := p; k < q; k++ {
			v = v*10 + int(s[k]-'0')
		}
		if v > 255 {
			return 0, false
		}
		p = q
	}
	return p, true
}

// ipv6Start reports whether an IPv6 address may start at i.
func ipv6Start(s string, i int) bool {
	if i == 0 {
		return true
	}
	p := s[i-1]
	return !isWord(p) && p != ':' && p != '.'
}

// ipv6Quick is a cheap pre-check at a word start: at most four hex digits
// and then ':'.
func ipv6Quick(s string, i int) bool {
	q := i
	for q < len(s) && q-i < 5 && class[s[q]]&cHex != 0 {
		q++
	}
	return q-i <= 4 && q < len(s) && s[q] == ':'
}

// ipv6At matches an IPv6 address in its full or "::"-compressed form,
// optionally ending in a dotted quad ("::ffff:10.0.0.1"). It needs at least
// one decimal digit, so words such as "dead::beef" stay, and exactly eight
// groups when nothing is compressed, so times ("12:30:45") and MAC
// addresses never match.
func ipv6At(s string, i int) (int, bool) {
	n := len(s)
	p := i
	groups := 0
	compressed := false
	digit := false
	if p+1 < n && s[p] == ':' && s[p+1] == ':' {
		compressed = true
		p += 2
	}
	for {
		q := p
		for q < n && class[s[q]]&cHex != 0 {
			q++
		}
		hl := q - p
		if hl == 0 {
			break
		}
		if q < n && s[q] == '.' && hl <= 3 && (compressed && groups <= 5 || !compressed && groups == 6) {
			// an embedded IPv4 address takes the place of two groups
			if end, ok := ipv4At(s, p); ok {
				groups += 2
				p = end
				digit = true
				break
			}
		}
		if hl > 4 {
			return 0, false
		}
		for k := p; k < q; k++ {
			if isDigit(s[k]) {
				digit = true
				break
			}
		}
		groups++
		p = q
		if groups > 8 {
			return 0, false
		}
		if p+1 < n && s[p] == ':' && s[p+1] == ':' {
			if compressed {
				return 0, false
			}
			compressed = true
			p += 2
			continue
		}
		if p+1 < n && s[p] == ':' && class[s[p+1]]&cHex != 0 {
			p++
			continue
		}
		break
	}
	if !digit || groups == 0 {
		return 0, false
	}
	if compressed && groups > 7 || !compressed && groups != 8 {
		return 0, false
	}
	if p < n && (isWord(s[p]) || s[p] == ':') {
		return 0, false
	}
	return p, true
}

// ---- e-mail ----

// emailAt matches local@domain around the '@' at at: a local part of
// A-Z a-z 0-9 . _ % + - (not starting with a dot), a domain of at least two
// labels (A-Z a-z 0-9 -) whose last label is 2 or more letters.
func emailAt(s string, at, floor int) (Match, bool) {
	k := at
	for k > floor && class[s[k-1]]&cLocal != 0 {
		k--
	}
	for k < at && s[k] == '.' {
		k++
	}
	if k == at {
		return Match{}, false
	}
	n := len(s)
	p := at + 1
	labels := 0
	lastStart, lastEnd := 0, 0
	for {
		start := p
		for p < n && class[s[p]]&cDomain != 0 {
			p++
		}
		if p == start || s[start] == '-' || s[p-1] == '-' {
			if labels == 0 {
				return Match{}, false
			}
			p = start - 1 // drop the dot
			break
		}
		labels++
		lastStart, lastEnd = start, p
		if p+1 < n && s[p] == '.' && class[s[p+1]]&cDomain != 0 {
			p++
			continue
		}
		break
	}
	if labels < 2 || lastEnd-lastStart < 2 {
		return Match{}, false
	}
	for q := lastStart; q < lastEnd; q++ {
		if class[s[q]]&(cUpper|cLower) == 0 {
			return Match{}, false
		}
	}
	if lastEnd < n && isWord(s[lastEnd]) {
		return Match{}, false
	}
	return Match{k, lastEnd, Email}, true
}

// ---- secrets ----

// awsKeyAt matches AKIA or ASIA followed by 16 upper-case letters or digits.
func awsKeyAt(s string, i int) (int, bool) {
	if i+20 > len(s) || s[i] != 'A' || !(s[i+1:i+4] == "KIA" || s[i+1:i+4] == "SIA") {
		return 0, false
	}
	for k := i + 4; k < i+20; k++ {
		if class[s[k]]&(cUpper|cDigit) == 0 {
			return 0, false
		}
	}
	if i+20 < len(s) && isWord(s[i+20]) {
		return 0, false
	}
	return i + 20, true
}

// bearerAt matches "Bearer <token>" (any case) and returns the token: at
// least 8 characters of A-Z a-z 0-9 - . _ ~ + / (then optional '='), one of
// them a digit or punctuation, so "Bearer authentication failed" is prose.
func bearerAt(s string, i int) (Match, bool) {
	n := len(s)
	if i+7 >= n || !equalFoldASCII(s[i:i+6], "bearer") || (s[i+6] != ' ' && s[i+6] != '\t') {
		return Match{}, false
	}
	p := i + 7
	for p < n && (s[p] == ' ' || s[p] == '\t') {
		p++
	}
	end, ok := tokenAt(s, p)
	if !ok {
		return Match{}, false
	}
	return Match{p, end, BearerToken}, true
}

// tokenAt matches a credential token at p (see bearerAt).
func tokenAt(s string, p int) (int, bool) {
	n := len(s)
	q := p
	strong := false
	for q < n && class[s[q]]&cToken != 0 {
		if class[s[q]]&(cUpper|cLower) == 0 {
			strong = true
		}
		q++
	}
	for q < n && s[q] == '=' {
		q++
	}
	if q-p < 8 || !strong || q < n && isWord(s[q]) {
		return 0, false
	}
	return q, true
}

// jwtAt matches a bare JSON Web Token: eyJ<header>.eyJ<payload>.<signature>
// in base64url (the signature may be empty, as in unsigned tokens).
func jwtAt(s string, i int) (int, bool) {
	n := len(s)
	if i+3 > n || s[i:i+3] != "eyJ" {
		return 0, false
	}
	if i > 0 && (class[s[i-1]]&cB64URL != 0 || s[i-1] == '.') {
		return 0, false
	}
	p := b64End(s, i+3)
	if p-i < 8 || p >= n || s[p] != '.' {
		return 0, false
	}
	p++
	if p+3 > n || s[p:p+3] != "eyJ" {
		return 0, false
	}
	q := b64End(s, p+3)
	if q >= n || s[q] != '.' {
		return 0, false
	}
	end := b64End(s, q+1)
	return end, true
}

func b64End(s string, p int) int {
	for p < len(s) && class[s[p]]&cB64URL != 0 {
		p++
	}
	return p
}

// urlPasswordAt matches the password of scheme://user:password@host at the
// "://" at i. When the URL has a user but no password it returns the
// position of the '@' (so the caller does not take user@host for an
// e-mail address).
func urlPasswordAt(s string, i, floor int) (Match, bool, int) {
	k := i
	for k > floor && class[s[k-1]]&cScheme != 0 {
		k--
	}
	if k == i || class[s[k]]&(cUpper|cLower) == 0 {
		return Match{}, false, 0
	}
	n := len(s)
	a := i + 3
	end := a
	at := -1
	for end < n {
		c := s[end]
		if c == '/' || c == '?' || c == '#' || c <= ' ' || c == '"' || c == '\'' || c == '<' || c == '>' || c == '`' || c == '\\' {
			break
		}
		if c == '@' {
			at = end
		}
		end++
	}
	if at < 0 {
		return Match{}, false, 0
	}
	for p := a; p < at; p++ {
		if s[p] == ':' {
			if p+1 < at {
				return Match{p + 1, at, URLPassword}, true, at
			}
			break
		}
	}
	return Match{}, false, at
}

// secretSuffixes end the keys whose values are secrets, compared
// case-insensitively with '-', '_' and '.' ignored: password, passwd,
// passphrase, secret (client_secret), secretkey, accesskey
// (aws_secret_access_key), privatekey, apikey (api_key, X-API-Key), token
// (access_token, X-Auth-Token).
var secretSuffixes = [...]string{"password", "passwd", "passphrase", "secret", "secretkey", "accesskey", "privatekey", "apikey", "token"}

// secretPairAt matches the value of key=value or key: value at the '=' or
// ':' at i when the key names a secret. The key may be quoted ("password":
// "x", \"password\":\"x\"); the value is quoted, in brackets (a printed Go
// map: password:[x]) or runs to the next space or one of & , ; " ' < > ( )
// [ ] { } ` \ |. A value that is an authorization scheme ("token: Bearer
// x") is skipped to the credential after it.
func secretPairAt(s string, i, floor int) (Match, bool) {
	ke := i
	for ke > floor && (s[ke-1] == ' ' || s[ke-1] == '\t') {
		ke--
	}
	if ke > floor && (s[ke-1] == '"' || s[ke-1] == '\'') {
		ke--
		if ke > floor && s[ke-1] == '\\' {
			ke--
		}
	}
	if ke == floor || !keyIsSecret(s, ke, floor) {
		return Match{}, false
	}
	n := len(s)
	v := i + 1
	for v < n && (s[v] == ' ' || s[v] == '\t') {
		v++
	}
	if v >= n {
		return Match{}, false
	}
	var start, end int
	switch c := s[v]; {
	case c == '\\' && v+1 < n && s[v+1] == '"':
		start = v + 2
		end = indexFrom(s, start, `\"`)
	case c == '"' || c == '\'':
		start = v + 1
		end = indexByteFrom(s, start, c)
	case c == '[':
		start = v + 1
		end = indexByteFrom(s, start, ']')
	default:
		start = v
		end = start
		for end < n && class[s[end]]&cValueEnd == 0 {
			end++
		}
		if end-start == 6 && equalFoldASCII(s[start:end], "bearer") || end-start == 5 && equalFoldASCII(s[start:end], "basic") {
			p := end
			for p < n && s[p] == ' ' {
				p++
			}
			if p > end {
				q := p
				for q < n && class[s[q]]&cValueEnd == 0 {
					q++
				}
				if q > p {
					start, end = p, q
				}
			}
		}
	}
	if end < 0 {
		// unterminated quote: the rest of the text is the value
		end = n
	}
	if end <= start {
		return Match{}, false
	}
	return Match{start, end, SecretPair}, true
}

// keyIsSecret reports whether the key ending at ke (walking back over key
// characters, not before floor) ends with one of secretSuffixes.
func keyIsSecret(s string, ke, floor int) bool {
	ks := ke
	for ks > floor && class[s[ks-1]]&cKey != 0 {
		ks--
	}
	if ks == ke {
		return false
	}
	// cheap filter on the last letter: d, e, t, y, n
	switch s[ke-1] | 0x20 {
	case 'd', 'e', 't', 'y', 'n':
	default:
		return false
	}
	key := s[ks:ke]
	for _, suf := range secretSuffixes {
		if hasSuffixFold(key, suf) {
			return true
		}
	}
	return false
}

// hasSuffixFold compares key's end with suf (lower case) case-insensitively,
// ignoring '-', '_' and '.' in key. The suffix must start at a separator or
// at the start of the key, or be the end of a longer word ("xpassword" counts:
// "connectionpassword" is as secret as "connection_password").
func hasSuffixFold(key, suf string) bool {
	k := len(key) - 1
	for j := len(suf) - 1; j >= 0; j-- {
		for k >= 0 && (key[k] == '-' || key[k] == '_' || key[k] == '.') {
			k--
		}
		if k < 0 || key[k]|0x20 != suf[j] {
			return false
		}
		k--
	}
	return true
}

func equalFoldASCII(a, lower string) bool {
	if len(a) != len(lower) {
		return false
	}
	for k := 0; k < len(a); k++ {
		c := a[k]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[k] {
			return false
		}
	}
	return true
}

func indexByteFrom(s string, from int, c byte) int {
	for k := from; k < len(s); k++ {
		if s[k] == c {
			return k
		}
	}
	return -1
}

func indexFrom(s string, from int, sub string) int {
	for k := from; k+len(sub) <= len(s); k++ {
		if s[k:k+len(sub)] == sub {
			return k
		}
	}
	return -1
}
