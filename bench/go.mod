module github.com/gettynet/getty/bench

go 1.26.0

replace github.com/gettynet/getty => ../

require (
	github.com/coder/websocket v1.8.14
	github.com/gettynet/getty v0.0.0-00010101000000-000000000000
	github.com/gobwas/ws v1.4.0
	github.com/gorilla/websocket v1.5.3
	github.com/lesismal/nbio v1.6.8
	golang.org/x/sys v0.50.0
)

require (
	github.com/gobwas/httphead v0.1.0 // indirect
	github.com/gobwas/pool v0.2.1 // indirect
	github.com/klauspost/compress v1.20.4 // indirect
	github.com/lesismal/llib v1.2.2 // indirect
	golang.org/x/crypto v0.0.0-20210513122933-cd7d49e622d5 // indirect
)
