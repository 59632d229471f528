module github.com/gettynet/getty

go 1.25

require (
	github.com/HdrHistogram/hdrhistogram-go v1.2.0
	github.com/gobwas/httphead v0.1.0
	github.com/gobwas/ws v1.4.0
	github.com/klauspost/compress v1.20.4
	go.uber.org/goleak v1.3.0
	golang.org/x/net v0.47.0
	golang.org/x/sys v0.38.0
)

require github.com/gobwas/pool v0.2.1 // indirect
