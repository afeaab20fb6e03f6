package expr

import (
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

type tokKind uint8

const (
	tEOF     tokKind = iota
	tPointer         // /a/b
	tString          // "..." (str holds the unescaped text)
	tInt             // 123 (u holds the magnitude)
	tFloat           // 1.5, 1e3
	tIdent           // keywords and function names
	tOp              // == != < <= > >= =~ !~
	tMinus           // -
	tLParen          // (
	tRParen          // )
	tLBrace          // {
	tRBrace          // }
	tComma           // ,
)

type token struct {
	kind tokKind
	pos  int // byte offset of the first character
	end  int // byte offset after the last character
	str  string
	u    uint64
	f    float64
}

// lex splits src into tokens. The EOF token sits just after the last
// non-blank character, so "expected an operand" errors point right after the
// dangling operator.
func lex(src string) ([]token, error) {
	var toks []token
	i := 0
	for {
		for i < len(src) && isSpace(src[i]) {
			i++
		}
		if i >= len(src) {
			break
		}
		start := i
		c := src[i]
		switch {
		case c == '/':
			end, err := lexPointer(src, i)
			if err != nil {
				return nil, err
			}
			toks = append(toks, token{kind: tPointer, pos: start, end: end, str: src[start:end]})
			i = end
		case c == '"':
			s, end, err := lexString(src, i)
			if err != nil {
				return nil, err
			}
			toks = append(toks, token{kind: tString, pos: start, end: end, str: s})
			i = end
		case c >= '0' && c <= '9':
			t, err := lexNumber(src, i)
			if err != nil {
				return nil, err
			}
			toks = append(toks, t)
			i = t.end
		case c == '_' || isASCIILetter(c):
			for i < len(src) && (src[i] == '_' || isASCIILetter(src[i]) || isDigit(src[i])) {
				i++
			}
			toks = append(toks, token{kind: tIdent, pos: start, end: i, str: src[start:i]})
		default:
			two := ""
			if i+1 < len(src) {
				two = src[i : i+2]
			}
			switch two {
			case "==", "!=", "<=", ">=", "=~", "!~":
				toks = append(toks, token{kind: tOp, pos: start, end: i + 2, str: two})
				i += 2
				continue
			case "&&":
				return nil, synErr(src, i, `unexpected "&&"; use "and"`)
			case "||":
				return nil, synErr(src, i, `unexpected "||"; use "or"`)
			}
			k := tEOF
			switch c {
			case '<', '>':
				k = tOp
			case '-':
				k = tMinus
			case '(':
				k = tLParen
			case ')':
				k = tRParen
			case '{':
				k = tLBrace
			case '}':
				k = tRBrace
			case ',':
				k = tComma
			case '=':
				return nil, synErr(src, i, `unexpected "="; use "==" to compare`)
			case '!':
				return nil, synErr(src, i, `unexpected "!"; use "not" or "!="`)
			case '\'':
				return nil, synErr(src, i, `strings must be in double quotes`)
			}
			if k == tEOF {
				r, _ := utf8.DecodeRuneInString(src[i:])
				return nil, synErr(src, i, "unexpected character "+strconv.QuoteRune(r))
			}
			toks = append(toks, token{kind: k, pos: start, end: i + 1, str: src[i : i+1]})
			i++
		}
	}
	eof := len(strings.TrimRight(src, " \t\r\n"))
	toks = append(toks, token{kind: tEOF, pos: eof, end: eof})
	return toks, nil
}

func isSpace(c byte) bool       { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }
func isDigit(c byte) bool       { return c >= '0' && c <= '9' }
func isASCIILetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

// isPointerByte reports whether an ASCII byte may appear in an unquoted
// pointer segment. Data Prepper allows [A-Za-z0-9_]; weft also accepts
// '.', '-' and '@' (common in log field names) and '~0'/'~1' escapes.
func isPointerByte(c byte) bool {
	return c == '_' || c == '.' || c == '-' || c == '@' || isASCIILetter(c) || isDigit(c)
}

// lexPointer scans an unquoted JSON pointer starting at the '/' at i.
func lexPointer(src string, i int) (int, error) {
	for i < len(src) && src[i] == '/' {
		i++ // the '/'
		segStart := i
		for i < len(src) {
			c := src[i]
			if c == '~' {
				if i+1 < len(src) && (src[i+1] == '0' || src[i+1] == '1') {
					i += 2
					continue
				}
				return 0, synErr(src, i, `invalid escape in JSON pointer: "~" must be followed by 0 or 1`)
			}
			if c < utf8.RuneSelf {
				if !isPointerByte(c) {
					break
				}
				i++
				continue
			}
			r, n := utf8.DecodeRuneInString(src[i:])
			if r == utf8.RuneError || !(unicode.IsLetter(r) || unicode.IsDigit(r)) {
				break
			}
			i += n
		}
		if i == segStart {
			return 0, synErr(src, segStart, `expected a field name after "/" (quote pointers with special characters: "/my field")`)
		}
	}
	return i, nil
}

// lexString scans a double-quoted string starting at i and returns its
// unescaped text. \" \\ \/ \n \t \r \' and \$ are escapes; any other
// backslash pair is kept as written, so regular expressions such as "\d+"
// and "10\.0" need no double escaping.
func lexString(src string, i int) (string, int, error) {
	start := i
	i++ // opening quote
	var b []byte
	litStart := i
	for i < len(src) {
		c := src[i]
		switch c {
		case '"':
			if b == nil {
				return src[litStart:i], i + 1, nil
			}
			b = append(b, src[litStart:i]...)
			return string(b), i + 1, nil
		case '\\':
			if i+1 >= len(src) {
				return "", 0, synErr(src, start, "unterminated string")
			}
			b = append(b, src[litStart:i]...)
			switch e := src[i+1]; e {
			case '"', '\\', '/', '\'', '$':
				b = append(b, e)
			case 'n':
				b = append(b, '\n')
			case 't':
				b = append(b, '\t')
			case 'r':
				b = append(b, '\r')
			default:
				b = append(b, '\\') // kept verbatim; the next byte is copied below
				litStart = i + 1
				i++
				continue
			}
			i += 2
			litStart = i
		default:
			i++
		}
	}
	return "", 0, synErr(src, start, "unterminated string")
}

// lexNumber scans an integer or float literal starting at the digit at i.
func lexNumber(src string, i int) (token, error) {
	start := i
	for i < len(src) && isDigit(src[i]) {
		i++
	}
	isFloat := false
	if i < len(src) && src[i] == '.' {
		if i+1 >= len(src) || !isDigit(src[i+1]) {
			return token{}, synErr(src, start, "invalid number: expected digits after the decimal point")
		}
		isFloat = true
		i++
		for i < len(src) && isDigit(src[i]) {
			i++
		}
	}
	if i < len(src) && (src[i] == 'e' || src[i] == 'E') {
		j := i + 1
		if j < len(src) && (src[j] == '+' || src[j] == '-') {
			j++
		}
		if j >= len(src) || !isDigit(src[j]) {
			return token{}, synErr(src, start, "invalid number: expected digits in the exponent")
		}
		isFloat = true
		i = j
		for i < len(src) && isDigit(src[i]) {
			i++
		}
	}
	if i < len(src) && (src[i] == '_' || src[i] == '.' || isASCIILetter(src[i])) {
		return token{}, synErr(src, start, "invalid number "+strconv.Quote(src[start:i+1]))
	}
	text := src[start:i]
	if isFloat {
		f, err := strconv.ParseFloat(text, 64)
		if err != nil || math.IsInf(f, 0) {
			return token{}, synErr(src, start, "number out of range: "+text)
		}
		return token{kind: tFloat, pos: start, end: i, str: text, f: f}, nil
	}
	u, err := strconv.ParseUint(text, 10, 64)
	if err != nil || u > 1<<63 {
		return token{}, synErr(src, start, "integer out of range: "+text)
	}
	return token{kind: tInt, pos: start, end: i, str: text, u: u}, nil
}
