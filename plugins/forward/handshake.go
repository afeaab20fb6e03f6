package forward

import (
	"crypto/rand"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net"
	"time"
)

// handshake runs the Forward protocol v1 authentication on a new
// connection: the server sends HELO with a nonce (and a salt for user
// authentication), the client answers PING with
// sha512_hex(shared_key_salt + self_hostname + nonce + shared_key) (and
// sha512_hex(auth_salt + username + password)), the server answers PONG with
// its own digest. On failure it sends PONG false with the reason and the
// connection is closed.
func (s *Source) handshake(c *conn, w net.Conn, f *framer) bool {
	sec := s.cfg.Security
	nonce := make([]byte, 16)
	rand.Read(nonce)
	var authSalt []byte
	if sec.UserAuth {
		authSalt = make([]byte, 16)
		rand.Read(authSalt)
	}
	if !s.setDeadline(c, time.Now().Add(handshakeTimeout)) {
		return false
	}
	// ['HELO', {nonce, auth, keepalive}]
	helo := appendArray(nil, 2)
	helo = appendStr(helo, "HELO")
	helo = appendMap(helo, 3)
	helo = appendBin(appendStr(helo, "nonce"), nonce)
	helo = appendStr(helo, "auth")
	if authSalt != nil {
		helo = appendBin(helo, authSalt)
	} else {
		helo = appendStr(helo, "")
	}
	helo = appendBool(appendStr(helo, "keepalive"), true)
	if _, err := w.Write(helo); err != nil {
		return false
	}
	f.mode = modeMsgpack // an authenticated session always speaks MessagePack
	b, _, err := f.next()
	if err != nil {
		s.fail(c, "", fmt.Errorf("no PING: %w", err))
		return false
	}
	hostname, salt, reason := s.checkPing(b, nonce, authSalt)
	if reason != "" {
		pong := appendArray(nil, 5)
		pong = appendStr(pong, "PONG")
		pong = appendBool(pong, false)
		pong = appendStr(pong, reason)
		pong = appendStr(appendStr(pong, ""), "")
		w.Write(pong)
		s.fail(c, hostname, fmt.Errorf("%s", reason))
		return false
	}
	// ['PONG', true, '', self_hostname, sha512_hex(salt + self_hostname + nonce + shared_key)]
	pong := appendArray(nil, 5)
	pong = appendStr(pong, "PONG")
	pong = appendBool(pong, true)
	pong = appendStr(pong, "")
	pong = appendStr(pong, sec.SelfHostname)
	pong = appendStr(pong, digest(salt, []byte(sec.SelfHostname), nonce, []byte(sec.SharedKey)))
	if _, err := w.Write(pong); err != nil {
		return false
	}
	return s.setDeadline(c, time.Time{})
}

func (s *Source) fail(c *conn, hostname string, err error) {
	s.messages.WithLabelValues("unauthenticated").Inc()
	if hostname != "" {
		err = fmt.Errorf("client %q: %w", hostname, err)
	}
	s.authFailed.Record(fmt.Errorf("%s: %w", c.raw.RemoteAddr(), err))
}

// checkPing verifies ['PING', self_hostname, shared_key_salt,
// shared_key_hexdigest, username, password_hexdigest]. It returns the
// client's hostname and salt, and a reason when authentication failed.
func (s *Source) checkPing(b, nonce, authSalt []byte) (hostname string, salt []byte, reason string) {
	sec := s.cfg.Security
	r := &reader{b: b}
	n, err := r.arrayHeader()
	if err != nil || n != 6 {
		return "", nil, "invalid ping message"
	}
	var f [6][]byte
	for i := range f {
		if f[i], _, err = r.rawBytes(); err != nil {
			return "", nil, "invalid ping message"
		}
	}
	if string(f[0]) != "PING" {
		return "", nil, "invalid ping message"
	}
	hostname, salt = string(f[1]), f[2]
	want := digest(salt, f[1], nonce, []byte(sec.SharedKey))
	if subtle.ConstantTimeCompare(f[3], []byte(want)) != 1 {
		return hostname, nil, "shared_key mismatch"
	}
	if sec.UserAuth {
		ok := false
		for _, u := range sec.Users {
			want := digest(authSalt, []byte(u.Username), []byte(u.Password))
			if subtle.ConstantTimeCompare(f[4], []byte(u.Username)) == 1 &&
				subtle.ConstantTimeCompare(f[5], []byte(want)) == 1 {
				ok = true
			}
		}
		if !ok {
			return hostname, nil, "username/password mismatch"
		}
	}
	return hostname, append([]byte(nil), salt...), ""
}

// digest is sha512_hex of the concatenated parts.
func digest(parts ...[]byte) string {
	h := sha512.New()
	for _, p := range parts {
		h.Write(p)
	}
	return hex.EncodeToString(h.Sum(nil))
}
