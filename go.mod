module github.com/gettynet/getty

go 1.25
