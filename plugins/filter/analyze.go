package filter

import (
	"unicode"
	"unicode/utf8"
)

// The standard analyzer, as OpenSearch applies it to text fields and match
// queries: Lucene's StandardTokenizer (the word boundaries of Unicode
// UAX #29) followed by lowercasing. This is a compact re-implementation of
// the rules that matter for logs:
//
//   - letters, digits and connector punctuation ("_") make words; a letter
//     followed by a digit or the other way round does not split
//     (abc123def, x_y);
//   - "." and "'" (and ":") between two letters do not split (example.com,
//     don't, foo:bar); "." "," and ";" between two digits do not split
//     (10.0.0.1, 3,14); anything else splits;
//   - Han ideographs, hiragana and emoji are one token per character;
//   - a segment without a letter or digit ("_", "--") is no token;
//   - tokens longer than 255 characters are cut every 255 characters;
//   - every token is lowercased (unicode.ToLower, per code point).
//
// Tokens are returned as byte ranges of the input, not lowercased, so that
// scanning a document allocates nothing; callers compare them with
// lowercased query terms (see lowerInto).

type wb uint8

const (
	wbOther     wb = iota
	wbLetter       // ALetter, Hebrew_Letter, Katakana
	wbNumeric      // Numeric
	wbExtNum       // ExtendNumLet: "_" and other connector punctuation
	wbExtend       // Extend, Format, ZWJ: attach to what precedes
	wbMidLet       // MidLetter
	wbMidNumLet    // MidNumLet and Single_Quote
	wbMidNum       // MidNum
	wbSingle       // ideographs, hiragana, emoji: a token on their own
	wbKatakana     // joins only with katakana and "_"
)

// asciiClass is wbClass for ASCII, precomputed.
var asciiClass = func() (t [utf8.RuneSelf]wb) {
	for r := rune(0); r < utf8.RuneSelf; r++ {
		t[r] = wbClassASCII(r)
	}
	return t
}()

func wbClass(r rune) wb {
	if r < utf8.RuneSelf {
		return asciiClass[r]
	}
	return wbClassOther(r)
}

func wbClassASCII(r rune) wb {
	{
		switch {
		case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z':
			return wbLetter
		case '0' <= r && r <= '9':
			return wbNumeric
		case r == '_':
			return wbExtNum
		case r == '.' || r == '\'':
			return wbMidNumLet
		case r == ':':
			return wbMidLet
		case r == ',' || r == ';':
			return wbMidNum
		}
		return wbOther
	}
}

func wbClassOther(r rune) wb {
	switch r {
	case 0xB7, 0x387, 0x55F, 0x5F4, 0x2027, 0xFE13, 0xFE55, 0xFF1A:
		return wbMidLet
	case 0x2018, 0x2019, 0x2024, 0xFE52, 0xFF07, 0xFF0E:
		return wbMidNumLet
	case 0x37E, 0x589, 0x60C, 0x60D, 0x66C, 0x7F8, 0x2044, 0xFE10, 0xFE14, 0xFF0C, 0xFF1B:
		return wbMidNum
	case 0x200D, 0x200C, 0xFE0F, 0xFE0E:
		return wbExtend
	case 0x200B: // zero width space: not Format
		return wbOther
	case 0x30FC, 0xFF70, 0x3031, 0x3032, 0x3033, 0x3034, 0x3035, 0x309B, 0x309C, 0x30A0, 0xFF9E, 0xFF9F:
		return wbKatakana
	}
	if 0x1F3FB <= r && r <= 0x1F3FF { // emoji skin tone modifiers
		return wbExtend
	}
	switch {
	case unicode.Is(unicode.Han, r), unicode.Is(unicode.Hiragana, r), isEmoji(r):
		return wbSingle
	case unicode.Is(unicode.Katakana, r):
		return wbKatakana
	case unicode.IsLetter(r):
		return wbLetter
	case unicode.Is(unicode.Nd, r):
		return wbNumeric
	case unicode.Is(unicode.Pc, r):
		return wbExtNum
	case unicode.In(r, unicode.Mn, unicode.Me, unicode.Mc, unicode.Cf):
		return wbExtend
	}
	return wbOther
}

// isEmoji approximates Extended_Pictographic for the common blocks.
func isEmoji(r rune) bool {
	return 0x1F300 <= r && r <= 0x1FAFF || 0x2600 <= r && r <= 0x27BF && unicode.Is(unicode.So, r)
}

const maxTokenRunes = 255

// tokenizer walks the tokens of s.
type tokenizer struct {
	s string
	i int
}

// next returns the next token's byte range, or ok=false at the end.
func (t *tokenizer) next() (start, end int, ok bool) {
	s := t.s
	for t.i < len(s) {
		if b := s[t.i]; b < utf8.RuneSelf && asciiClass[b] == wbOther {
			t.i++ // the common separators
			continue
		}
		r, n := utf8.DecodeRuneInString(s[t.i:])
		c := wbClass(r)
		if c == wbExtend && r >= 0x1F3FB && r <= 0x1F3FF {
			c = wbSingle // a skin tone modifier on its own is an emoji
		} else if r == 0x200D && t.i+n < len(s) {
			if nr, nn := utf8.DecodeRuneInString(s[t.i+n:]); isEmoji(nr) {
				c, n = wbSingle, n+nn // ZWJ joins the emoji after it
			}
		}
		switch c {
		case wbSingle:
			start = t.i
			t.i += n
			for {
				t.i = skipExtend(s, t.i)
				// An emoji ZWJ sequence is one token.
				if t.i >= 3 && s[t.i-3:t.i] == "\u200d" && t.i < len(s) {
					if nr, nn := utf8.DecodeRuneInString(s[t.i:]); isEmoji(nr) {
						t.i += nn
						continue
					}
				}
				return start, t.i, true
			}
		case wbLetter, wbNumeric, wbExtNum, wbKatakana:
			start, end, hasWord := t.word()
			if hasWord {
				return start, end, true
			}
			continue
		}
		t.i += n
	}
	return 0, 0, false
}

// word scans one word starting at t.i (a letter, digit or "_"); it reports
// whether the word holds a letter or digit (else it is no token).
func (t *tokenizer) word() (start, end int, hasWord bool) {
	s := t.s
	start = t.i
	prev := wbOther // last letter/digit/ExtNum class
	runes := 0
	for t.i < len(s) {
		var r rune
		var n int
		if b := s[t.i]; b < utf8.RuneSelf {
			r, n = rune(b), 1
		} else {
			r, n = utf8.DecodeRuneInString(s[t.i:])
		}
		c := wbClass(r)
		switch c {
		case wbLetter, wbNumeric, wbExtNum, wbKatakana:
			if runes == maxTokenRunes || !joins(prev, c) {
				return start, t.i, hasWord
			}
			if c != wbExtNum {
				hasWord = true
			}
			prev = c
			runes++
			t.i += n
			continue
		case wbExtend:
			if prev != wbOther {
				t.i += n
				continue
			}
		case wbMidLet, wbMidNumLet, wbMidNum:
			// Look past the separator (and any Extend after it) for the
			// class of the next character.
			j := skipExtend(s, t.i+n)
			if j < len(s) && runes < maxTokenRunes {
				nr, _ := utf8.DecodeRuneInString(s[j:])
				nc := wbClass(nr)
				letters := prev == wbLetter && nc == wbLetter && (c == wbMidLet || c == wbMidNumLet)
				digits := prev == wbNumeric && nc == wbNumeric && (c == wbMidNum || c == wbMidNumLet)
				if letters || digits {
					t.i = j
					runes++
					continue
				}
			}
		}
		break
	}
	return start, t.i, hasWord
}

// joins reports whether no word boundary falls between a character of
// class a and one of class b (UAX #29 WB5, 8-10, 13, 13a, 13b).
func joins(a, b wb) bool {
	switch {
	case a == wbOther:
		return true // the first character of the word
	case a == wbExtNum || b == wbExtNum:
		return true
	case a == wbKatakana || b == wbKatakana:
		return a == b
	}
	return true // letters and digits
}

func skipExtend(s string, i int) int {
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r < utf8.RuneSelf || wbClass(r) != wbExtend {
			break
		}
		i += n
	}
	return i
}

// analyze returns the lowercased tokens of s (for query text, at compile
// time).
func analyze(s string) []string {
	var out []string
	t := tokenizer{s: s}
	var buf [256]byte
	for {
		a, b, ok := t.next()
		if !ok {
			return out
		}
		out = append(out, string(lowerInto(buf[:0], s[a:b])))
	}
}

// lowerInto appends the lowercase form of s to dst. When s is already
// lowercase ASCII the caller can use s itself; see isLowerASCII.
func lowerInto(dst []byte, s string) []byte {
	for _, r := range s {
		if r < utf8.RuneSelf {
			if 'A' <= r && r <= 'Z' {
				r += 'a' - 'A'
			}
			dst = append(dst, byte(r))
			continue
		}
		dst = utf8.AppendRune(dst, unicode.ToLower(r))
	}
	return dst
}

func isLowerASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf || 'A' <= c && c <= 'Z' {
			return false
		}
	}
	return true
}
