module github.com/gettynet/getty/bench

go 1.25

replace github.com/gettynet/getty => ../

require (
	github.com/alitto/pond/v2 v2.5.0
	github.com/gettynet/getty v0.0.0-00010101000000-000000000000
	github.com/panjf2000/ants/v2 v2.12.1
)

require golang.org/x/sync v0.11.0 // indirect
