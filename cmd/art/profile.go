package main

import (
	"fmt"
	"os"
	"runtime/pprof"
)

// startProfile starts a CPU profile into the file $ART_CPUPROFILE names,
// for finding where a command's time goes (`go tool pprof bin/art FILE`);
// the returned func stops it. Unset, it does nothing.
func startProfile() func() {
	path := os.Getenv("ART_CPUPROFILE")
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "art: cannot write the CPU profile ART_CPUPROFILE names: %v; unset it or name a writable file\n", err)
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}
