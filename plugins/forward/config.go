package forward

import (
	"time"

	"github.com/weft-agent/weft/config"
	"github.com/weft-agent/weft/plugins/internal/listen"
)

// Config holds the options of the `forward` source (Fluentd's in_forward
// names where they exist).
type Config struct {
	Host           string        `yaml:"host" doc:"address to listen on"`
	Port           int           `yaml:"port" min:"0" max:"65535" doc:"TCP port, also used for the UDP heartbeat (0 picks a free one)"`
	MaxMessageSize int64         `yaml:"max_message_size" min:"64" max:"1073741824" doc:"largest accepted message in bytes, also after gzip decompression; a larger one is refused and its connection closed"`
	MaxConnections int           `yaml:"max_connections" min:"1" doc:"connections served at once; more are closed as soon as they are accepted"`
	BufferTimeout  time.Duration `yaml:"buffer_timeout" min:"1ms" doc:"how long a message that asked for an ack waits for room in a full pipeline buffer; then it is not acknowledged and its connection is closed, so the client resends it"`
	TagKey         string        `yaml:"tag_key" doc:"record field that receives the Forward tag (overwriting one the record has); empty: the tag is only in the metadata \"tag\""`
	UDPHeartbeat   bool          `yaml:"udp_heartbeat" doc:"answer Fluentd's UDP heartbeat on the same port"`
	listen.TLS     `yaml:",inline"`
	Security       *Security `yaml:"security" doc:"require Fluentd's shared-key handshake (HELO, PING, PONG) on every connection"`
}

// Security is Fluentd's <security> section.
type Security struct {
	SelfHostname string `yaml:"self_hostname" required:"true" doc:"this server's name, sent to clients in PONG"`
	SharedKey    string `yaml:"shared_key" required:"true" secret:"true" doc:"key shared with the clients (Fluent Bit's Shared_Key)"`
	UserAuth     bool   `yaml:"user_auth" doc:"also require a user name and password (Fluent Bit's Username and Password)"`
	Users        []User `yaml:"users" doc:"accepted users, with user_auth"`
}

// User is one accepted user name and password.
type User struct {
	Username string `yaml:"username" required:"true" doc:"user name"`
	Password string `yaml:"password" required:"true" secret:"true" doc:"password"`
}

// NewConfig returns the defaults: Fluentd's port, and a message limit above
// Fluent Bit's own in_forward limit (Buffer_Max_Size 6144000), so whatever
// Fluent Bit's forward output sends to a Fluent Bit receiver, weft accepts.
func NewConfig() *Config {
	return &Config{
		Host: "0.0.0.0", Port: 24224, MaxMessageSize: 8 << 20, MaxConnections: 1024,
		BufferTimeout: 5 * time.Second, UDPHeartbeat: true,
	}
}

// Validate checks options that belong together.
func (c *Config) Validate() error {
	if err := c.TLS.Validate(); err != nil {
		return &config.FieldError{Key: "ssl", Msg: err.Error()}
	}
	if s := c.Security; s != nil {
		if s.UserAuth && len(s.Users) == 0 {
			return &config.FieldError{Key: "security.users", Msg: "user_auth needs at least one user"}
		}
		if !s.UserAuth && len(s.Users) > 0 {
			return &config.FieldError{Key: "security.user_auth", Msg: "users are listed but user_auth is false"}
		}
		if s.SharedKey == "" {
			return &config.FieldError{Key: "security.shared_key", Msg: "must not be empty"}
		}
	}
	return nil
}
