package main

import (
	"fmt"
	"os"
	"runtime/pprof"
)

// startProfile starts a CPU profile into the file $ART_CPUPROFILE names,
// for finding where a command's time goes (`go tool pprof bin/art FILE`);
// the returned func stops it. Unset, it does nothing.
//
// ART_MEMPROFILE=FILE likewise writes a heap profile when the command ends
// (`go tool pprof -sample_index=alloc_space bin/art FILE` for where memory
// was allocated, inuse_space for what was still held).
func startProfile() func() {
	stopMem := func() {}
	if path := os.Getenv("ART_MEMPROFILE"); path != "" {
		stopMem = func() {
			f, err := os.Create(path)
			if err == nil {
				err = pprof.Lookup("heap").WriteTo(f, 0)
				f.Close()
			}
			if err != nil {
				fmt.Fprintf(os.Stderr, "art: cannot write the heap profile ART_MEMPROFILE names: %v; unset it or name a writable file\n", err)
			}
		}
	}
	path := os.Getenv("ART_CPUPROFILE")
	if path == "" {
		return stopMem
	}
	f, err := os.Create(path)
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "art: cannot write the CPU profile ART_CPUPROFILE names: %v; unset it or name a writable file\n", err)
		return stopMem
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
		stopMem()
	}
}
