module github.com/gettynet/getty

go 1.25

require (
	github.com/klauspost/compress v1.20.4
	go.uber.org/goleak v1.3.0
)
