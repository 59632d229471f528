package proxyproto_test

import (
	"context"
	"fmt"
	"net"

	"github.com/gettynet/getty/transport/proxyproto"
)

func ExampleParse() {
	data := []byte("PROXY TCP4 203.0.113.9 198.51.100.1 51000 443\r\nGET / HTTP/1.1\r\n")
	h, n, err := proxyproto.Parse(data)
	if err != nil {
		panic(err)
	}
	fmt.Println(h.Version, h.Source, h.Destination)
	fmt.Printf("%q\n", data[n:])
	// Output:
	// 1 203.0.113.9:51000 198.51.100.1:443
	// "GET / HTTP/1.1\r\n"
}

func ExampleHeader_Append() {
	h := proxyproto.Header{
		Version:     2,
		Command:     proxyproto.Proxy,
		Source:      &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 40000},
		Destination: &net.TCPAddr{IP: net.IPv4(192, 0, 2, 2), Port: 7000},
		TLVs:        []proxyproto.TLV{{Type: proxyproto.TypeAuthority, Value: []byte("example.com")}},
	}
	b, err := h.Append(nil)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%d bytes, family/protocol 0x%02x\n", len(b), b[13])
	// Output: 42 bytes, family/protocol 0x11
}

// ExampleServer wraps an accepted connection whose peer is a load balancer.
func ExampleServer() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	go func() { // the load balancer
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			return
		}
		defer c.Close()
		c.Write([]byte("PROXY TCP6 2001:db8::7 2001:db8::1 51000 7000\r\nhello"))
		c.Read(make([]byte, 1)) // wait for the server to finish
	}()
	raw, err := ln.Accept()
	if err != nil {
		panic(err)
	}
	c := proxyproto.Server(raw, nil)
	defer c.Close()
	if err := c.HandshakeContext(context.Background()); err != nil {
		panic(err)
	}
	buf := make([]byte, 5)
	n, _ := c.Read(buf)
	fmt.Println(c.RemoteAddr(), string(buf[:n]))
	// Output: [2001:db8::7]:51000 hello
}
