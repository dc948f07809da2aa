module github.com/artvcs/art

go 1.26.8

require (
	github.com/spf13/afero v1.15.0
	github.com/zeebo/blake3 v0.2.4
	golang.org/x/text v0.28.0
)

require github.com/klauspost/cpuid/v2 v2.0.12 // indirect
