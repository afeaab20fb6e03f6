// Command weft-fluentbit is the Fluent Bit Go output plugin `weft`, built as
// a shared object:
//
//	go build -buildmode=c-shared -o weft.so ./plugins/fluentbit/cmd/weft-fluentbit
//
// Each `[OUTPUT] Name weft` section runs the weft pipeline file named by its
// `Pipeline` property in-process; the logic is in package
// github.com/weft-agent/weft/plugins/fluentbit, this file is only the cgo
// glue between Fluent Bit's proxy API and it.
package main

import "C"

import (
	"fmt"
	"os"
	"sync"
	"unsafe"

	"github.com/fluent/fluent-bit-go/output"

	"github.com/weft-agent/weft/plugins/fluentbit"

	// every weft plugin, so pipeline files can use any processor and sink
	_ "github.com/weft-agent/weft/plugins/all"
)

// Instances by id; Fluent Bit's per-instance context holds the id.
var (
	mu        sync.Mutex
	nextID    int
	instances = map[int]*fluentbit.Instance{}
)

//export FLBPluginRegister
func FLBPluginRegister(def unsafe.Pointer) int {
	return output.FLBPluginRegister(def, "weft", "weft: run weft pipelines (processors and sinks) in Fluent Bit")
}

//export FLBPluginInit
func FLBPluginInit(plugin unsafe.Pointer) int {
	path := output.FLBPluginConfigKey(plugin, "Pipeline")
	name := output.FLBPluginConfigKey(plugin, "Alias")
	dataDir := output.FLBPluginConfigKey(plugin, "Data_Dir")
	mu.Lock()
	nextID++
	id := nextID
	mu.Unlock()
	if name == "" {
		name = fmt.Sprintf("weft.%d", id-1)
	}
	x, err := fluentbit.Open(path, fluentbit.Options{Name: name, DataDir: dataDir})
	if err != nil {
		fmt.Fprintf(os.Stderr, "[weft] output %s: %v\n", name, err)
		return output.FLB_ERROR
	}
	mu.Lock()
	instances[id] = x
	mu.Unlock()
	output.FLBPluginSetContext(plugin, id)
	return output.FLB_OK
}

// FLBPluginFlush is only called by Fluent Bit versions without contexts,
// which cannot host this plugin.
//
//export FLBPluginFlush
func FLBPluginFlush(data unsafe.Pointer, length C.int, tag *C.char) int {
	fmt.Fprintln(os.Stderr, "[weft] this Fluent Bit does not pass plugin contexts (FLBPluginFlushCtx); upgrade it")
	return output.FLB_ERROR
}

//export FLBPluginFlushCtx
func FLBPluginFlushCtx(ctx, data unsafe.Pointer, length C.int, tag *C.char) int {
	x := instance(ctx)
	if x == nil {
		return output.FLB_ERROR
	}
	// The bytes are Fluent Bit's and valid only during the call; the
	// decoder copies what it keeps.
	b := unsafe.Slice((*byte)(data), int(length))
	switch x.Flush(C.GoString(tag), b) {
	case fluentbit.OK:
		return output.FLB_OK
	case fluentbit.Retry:
		return output.FLB_RETRY
	default:
		return output.FLB_ERROR
	}
}

func instance(ctx unsafe.Pointer) *fluentbit.Instance {
	id, _ := output.FLBPluginGetContext(ctx).(int)
	mu.Lock()
	defer mu.Unlock()
	return instances[id]
}

//export FLBPluginExitCtx
func FLBPluginExitCtx(ctx unsafe.Pointer) int {
	id, _ := output.FLBPluginGetContext(ctx).(int)
	mu.Lock()
	x := instances[id]
	delete(instances, id)
	mu.Unlock()
	if x != nil {
		x.Close()
	}
	return output.FLB_OK
}

//export FLBPluginExit
func FLBPluginExit() int {
	mu.Lock()
	all := make([]*fluentbit.Instance, 0, len(instances))
	for id, x := range instances {
		all = append(all, x)
		delete(instances, id)
	}
	mu.Unlock()
	var wg sync.WaitGroup
	for _, x := range all {
		wg.Add(1)
		go func() { defer wg.Done(); x.Close() }()
	}
	wg.Wait()
	return output.FLB_OK
}

func main() {}
