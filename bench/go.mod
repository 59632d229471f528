module github.com/gettynet/getty/bench

go 1.25

replace github.com/gettynet/getty => ../

require (
	github.com/gettynet/getty v0.0.0-00010101000000-000000000000
	go.uber.org/goleak v1.3.0
)

require golang.org/x/sys v0.38.0 // indirect
