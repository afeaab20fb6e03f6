package fluentbit

import (
	"time"

	"github.com/weft-agent/weft/config"
)

// Config is the fluentbit source's options.
type Config struct {
	BufferTimeout   time.Duration `yaml:"buffer_timeout" min:"1ms" doc:"how long a Fluent Bit flush waits for room in a full pipeline buffer before it answers FLB_RETRY (Fluent Bit's engine waits too, so keep it short)"`
	WaitForDelivery bool          `yaml:"wait_for_delivery" doc:"answer FLB_OK only after every sink acknowledged every record of the chunk, FLB_RETRY if one was rejected; false answers FLB_OK once the chunk is in the pipeline buffer"`
	DeliveryTimeout time.Duration `yaml:"delivery_timeout" min:"1ms" doc:"with wait_for_delivery: how long a flush waits for the sinks' acknowledgements before it answers FLB_RETRY (the records may still be delivered later: a retry then duplicates them)"`
	TagKey          string        `yaml:"tag_key" doc:"record field that receives the Fluent Bit tag (overwriting one the record has); empty: the tag is only in the metadata \"tag\""`
	MetadataKey     string        `yaml:"metadata_key" doc:"record field that receives the record's Fluent Bit metadata map (v2 chunk format) when it is not empty; empty: it is only in the event metadata \"fluentbit_metadata\""`
}

// NewConfig returns the defaults.
func NewConfig() *Config {
	return &Config{
		BufferTimeout:   2 * time.Second,
		DeliveryTimeout: 30 * time.Second,
	}
}

// Validate checks what tags cannot.
func (c *Config) Validate() error {
	if c.TagKey != "" && c.TagKey == c.MetadataKey {
		return &config.FieldError{Key: "metadata_key", Msg: "must differ from tag_key"}
	}
	return nil
}
